import json

import pytest

from datagov.errors import InvalidInput, NotFound
from datagov.quality.suites import build_suite, list_suites, load_suite
from tests.quality.conftest import exp, write_suite


def test_digest_ignores_formatting_but_not_edits(ws):
    path = write_suite(ws, "s", [exp("expect_column_values_to_not_be_null", column="x")])
    first = load_suite(ws, "s").digest
    path.write_text(json.dumps(json.loads(path.read_text())))  # same content, no indentation
    assert load_suite(ws, "s").digest == first
    write_suite(ws, "s", [exp("expect_column_values_to_not_be_null", column="y")])
    assert load_suite(ws, "s").digest != first
    assert list_suites(ws) == ["s"]


def test_suites_load_with_gx(ws):
    import great_expectations as gx

    path = write_suite(ws, "s", [exp("expect_column_mean_to_be_between", column="x", min_value=0, max_value=1)])
    suite = build_suite(load_suite(ws, "s"))
    assert type(suite.expectations[0]).__name__ == "ExpectColumnMeanToBeBetween"
    assert gx.ExpectationSuite(**json.loads(path.read_text())).name == "s"  # GX's own format


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"name": "s", "expectations": [', "suite 's' is not valid JSON: Expecting value at line 1 column 32"),
        ('{"name": "s"}', "suite 's' must be a JSON object with an 'expectations' list"),
        ('{"name": "other", "expectations": []}', "suite file s.json names itself 'other'; rename one to match"),
        ('{"expectations": [{"kwargs": {}}]}', "suite 's', expectation #1: needs a 'type' string"),
    ],
)
def test_malformed_suites(ws, content, message):
    (ws.expectations_dir / "s.json").write_text(content)
    with pytest.raises(InvalidInput) as info:
        load_suite(ws, "s")
    assert info.value.message == message


@pytest.mark.parametrize(
    ("expectation", "message"),
    [
        (exp("expect_nonsense", column="x"), "suite 's', expectation #1: unknown expectation type 'expect_nonsense'"),
        (
            exp("expect_column_values_to_not_be_null"),
            "suite 's', expectation #1 (expect_column_values_to_not_be_null): ",
        ),
        (exp("expect_column_values_to_be_of_type", column="x", type_="DOUBLE"), "is not supported on DuckDB"),
    ],
)
def test_invalid_expectations_name_suite_and_expectation(ws, expectation, message):
    write_suite(ws, "s", [expectation])
    with pytest.raises(InvalidInput) as info:
        build_suite(load_suite(ws, "s"))
    assert message in info.value.message


def test_unknown_suite(ws):
    write_suite(ws, "known", [])
    with pytest.raises(NotFound, match=r"unknown suite 'nope' \(no expectations/nope.json\); suites: known"):
        load_suite(ws, "nope")
    with pytest.raises(InvalidInput, match="invalid suite name"):
        load_suite(ws, "../etc/passwd")


def test_cli_list_and_show(table, ws):
    write_suite(ws, "s", [exp("expect_column_values_to_not_be_null", column="x")])
    listing = table("expectations", "list")
    assert listing.exit_code == 0 and "s " in listing.stdout
    shown = table("expectations", "show", "s")
    assert shown.exit_code == 0 and "expect_column_values_to_not_be_null" in shown.stdout and " x " in shown.stdout
