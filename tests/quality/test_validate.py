import json
import re

from datagov.catalog.db import open_catalog
from datagov.catalog.receipts import list_receipts
from datagov.catalog.versions import resolve
from tests.quality.conftest import exp, write_suite, write_table_csv

PASSING = [
    exp("expect_table_row_count_to_be_between", min_value=100, max_value=1000),
    exp("expect_column_values_to_not_be_null", column="x"),
    exp("expect_column_mean_to_be_between", column="x", min_value=-0.5, max_value=0.5),
    exp("expect_column_values_to_be_in_set", column="label", value_set=[0, 1, 2, 3]),
    exp("expect_column_values_to_be_unique", column="id"),
    exp(
        "expect_column_kl_divergence_to_be_less_than",
        column="y",
        threshold=0.1,
        partition_object={"bins": [0, 2.5, 5, 7.5, 10], "weights": [0.25, 0.25, 0.25, 0.25]},
    ),
]


def receipts(ws, **kw):
    with open_catalog(ws) as con:
        return list_receipts(con, **kw)


def test_passing_validation_writes_receipt_and_report(table, ws):
    write_suite(ws, "good", PASSING)
    result = table("validate", "t", "--suite", "good")
    assert result.exit_code == 0, result.output
    assert re.search(
        r"PASSED t@[0-9a-f]{12} against good: 6 of 6 expectations met · receipt r-[0-9a-f]{12}", result.stdout
    )
    [r] = receipts(ws)
    assert (r.kind, r.status, r.success, r.evaluated, r.successful) == ("quality", "passed", True, 6, 6)
    assert r.gx_version == "1.24.1" and r.duration > 0
    mean = next(x for x in r.results if x["type"] == "expect_column_mean_to_be_between")
    assert isinstance(mean["result"]["observed_value"], float)
    page = (ws.root / r.report).read_text()
    assert "PASSED: 6 of 6" in page and "expect_column_kl_divergence_to_be_less_than" in page
    assert not re.search(r"(src|href)=\"?https?:", page)  # opens with no network
    listing = table("validations", "list", "t", "--json")
    assert json.loads(listing.stdout)[0]["suite_current"] is True
    unknown = table("validations", "list", "nope")
    assert unknown.exit_code == 1 and unknown.stderr.splitlines()[0] == "Error: unknown dataset 'nope'"


def test_failing_validation_exits_3_with_a_failed_receipt(table, ws):
    write_suite(
        ws, "strict", [*PASSING[:2], exp("expect_column_max_to_be_between", column="x", min_value=0, max_value=0.5)]
    )
    result = table("validate", "t", "--suite", "strict")
    assert result.exit_code == 3
    assert "FAILED t@" in result.stdout and "2 of 3 expectations met" in result.stdout
    assert result.stderr.splitlines()[0].startswith("Error: validation failed: strict (r-")
    [r] = receipts(ws)
    assert (r.status, r.success) == ("failed", False)


def test_several_suites_one_receipt_each(table, ws):
    write_suite(ws, "a", PASSING[:2])
    write_suite(ws, "b", PASSING[2:4])
    assert table("validate", "t", "--suite", "a", "--suite", "b").exit_code == 0
    assert sorted(r.suite for r in receipts(ws)) == ["a", "b"]


def test_missing_column_is_exit_1_without_receipt(table, ws):
    write_suite(ws, "s", [exp("expect_column_values_to_not_be_null", column="nope")])
    result = table("validate", "t", "--suite", "s")
    assert result.exit_code == 1
    with open_catalog(ws) as con:
        ref = resolve(con, "t").ref
    assert result.stderr.splitlines()[0] == (
        "Error: suite 's', expectation #1 (expect_column_values_to_not_be_null): column 'nope' is not in "
        f"{ref}; its columns: id, x, y, label, kind"
    )
    assert receipts(ws) == []


def test_bad_suites_are_exit_1_without_receipt(table, ws):
    (ws.expectations_dir / "broken.json").write_text("{")
    result = table("validate", "t", "--suite", "broken")
    assert result.exit_code == 1 and result.stderr.startswith("Error: suite 'broken' is not valid JSON")
    result = table("validate", "t", "--suite", "absent")
    assert result.exit_code == 1 and result.stderr.startswith("Error: unknown suite 'absent'")
    write_suite(ws, "weird", [exp("expect_column_bogus", column="x")])
    result = table("validate", "t", "--suite", "weird")
    assert result.exit_code == 1
    assert (
        result.stderr.splitlines()[0] == "Error: suite 'weird', expectation #1: unknown expectation type "
        "'expect_column_bogus'"
    )
    assert receipts(ws) == []


def test_expectation_gx_raises_on_is_exit_1_and_not_passed(table, ws):
    # a string column has no mean: DuckDB raises inside GX's metric query
    write_suite(ws, "s", [exp("expect_column_mean_to_be_between", column="kind", min_value=0, max_value=1)])
    result = table("validate", "t", "--suite", "s")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: suite 's', expectation #1 (expect_column_mean_to_be_between) could not be evaluated: "
    )
    [r] = receipts(ws)
    assert (r.status, r.success) == ("error", False)


def test_changed_files_are_refused_naming_the_file(table, ws):
    write_suite(ws, "s", PASSING[:2])
    part = next(ws.store_dir.iterdir()) / "part-00000.parquet"
    data = bytearray(part.read_bytes())
    data[100] ^= 0x01
    part.write_bytes(bytes(data))
    refused = table("validate", "t", "--suite", "s")  # same size: caught by the sha256, always computed
    assert refused.exit_code == 3
    assert "no longer matches its manifest, refusing to validate: part-00000.parquet: hash" in refused.stderr
    part.write_bytes(bytes(data[:-5]))
    refused = table("validate", "t", "--suite", "s")
    assert refused.exit_code == 3 and "part-00000.parquet: size" in refused.stderr


def test_image_dataset_validation(cli, ws):
    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    write_suite(
        ws,
        "img",
        [
            exp("expect_column_values_to_be_in_set", column="height", value_set=[8]),
            exp("expect_column_values_to_be_between", column="mean", min_value=0, max_value=1),
            exp("expect_column_values_to_be_unique", column="path"),
        ],
    )
    result = cli("validate", "digits", "--suite", "img")
    assert result.exit_code == 0, result.output


def test_new_data_version_needs_new_receipt(cli, ws, tmp_path):
    from datagov.gate import check_gate

    write_suite(ws, "s", PASSING[:2])
    assert cli("ingest", write_table_csv(tmp_path / "a.csv"), "--name", "t").exit_code == 0
    assert cli("validate", "t", "--suite", "s").exit_code == 0
    assert check_gate(ws, "pretrain", "t", ["s"]).allowed
    assert cli("ingest", write_table_csv(tmp_path / "b.csv", seed=1), "--name", "t").exit_code == 0
    decision = check_gate(ws, "pretrain", "t", ["s"])
    assert not decision.allowed and decision.reasons[0].code == "no-receipt"


def test_progress_names_what_runs(table, ws):
    """What a progress line shows: the hashing, then each set of metrics GX
    computes with the column and the expectation it serves."""
    from datagov.quality.validate import validate_version

    write_suite(ws, "q", [
        exp("expect_column_values_to_not_be_null", column="id"),
        exp("expect_column_quantile_values_to_be_between", column="x",
            quantile_ranges={"quantiles": [0.5], "value_ranges": [[-1, 1]]}),
    ])  # fmt: skip
    heard = []
    (outcome,) = validate_version(ws, "t", ["q"], on_progress=heard.append)
    assert outcome.receipt.success
    assert heard[0].startswith(f"hashing 1 file(s) of {outcome.version.ref}")  # ", loading Great Expectations" once
    assert heard[1] == "suite q: planning 2 expectations"
    assert any(h.startswith("suite q: ") and " metric(s) on " in h and "'x' (#2)" in h for h in heard), heard


def test_a_query_that_runs_too_long_is_stopped_and_named(table, ws, monkeypatch):
    import time

    monkeypatch.setenv("DATAGOV_QUERY_TIMEOUT", "2")
    slow = "SELECT * FROM range(100000000000) t(i) WHERE i % 1000000007 = 1"  # minutes, unbounded
    write_suite(ws, "slow", [{"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": slow}}])
    t0 = time.monotonic()
    result = table("validate", "t", "--suite", "slow")
    assert time.monotonic() - t0 < 60  # unbounded, this query runs for minutes
    assert result.exit_code == 1, result.output
    assert "a query ran longer than 2 s and was stopped ([validate] query_timeout" in result.stderr
    [r] = receipts(ws)
    assert (r.status, r.success) == ("error", False)


def test_an_error_gx_reports_with_its_traceback_is_one_line(table, ws):
    """GX hands back exception text with a Python traceback inside; the Error line keeps its first line."""
    hostile = "x; DROP TABLE data; --\nTraceback (most recent call last):\n  File 'x'"
    write_suite(ws, "other", [exp("expect_table_row_count_to_equal_other_table", other_table_name=hostile)])
    result = table("validate", "t", "--suite", "other")
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "could not be evaluated" in errors[0]
    assert "Traceback" not in result.stderr and "the whole error is in the receipt's report" in result.stderr


def test_a_set_expectation_shows_its_unexpected_count_not_null(table, ws):
    """GX leaves observed_value None for distinct values in a set; the table
    and the report show what it did observe: the values outside the set."""
    write_suite(ws, "kinds", [
        exp("expect_column_distinct_values_to_be_in_set", column="kind", value_set=["a", "b"]),
        exp("expect_column_distinct_values_to_be_in_set", column="kind", value_set=["a"]),
    ])  # fmt: skip
    result = table("validate", "t", "--suite", "kinds")
    assert result.exit_code == 3
    rows = [line for line in result.stdout.splitlines() if "expect_column_disti" in line]
    assert "0 unexpected" in rows[0] and "1 unexpected, e.g. b" in rows[1] and "null" not in result.stdout
    [r] = receipts(ws)
    assert [x["result"]["observed_value"] for x in r.results] == [None, None]  # as GX reports it
    assert "null" not in (ws.root / r.report).read_text()
