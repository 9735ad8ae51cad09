"""Every way the gate refuses, and the one way it opens."""

import pytest

from datagov.errors import InvalidInput
from datagov.gate import check_gate
from datagov.workspace import load_workspace
from tests.quality.conftest import exp, write_suite

SUITE = [exp("expect_column_values_to_not_be_null", column="x")]


@pytest.fixture
def validated(table, ws):
    write_suite(ws, "s", SUITE)
    assert table("validate", "t", "--suite", "s").exit_code == 0
    return ws


def test_open_with_a_current_passing_receipt(validated):
    decision = check_gate(validated, "pretrain", "t", ["s"])
    assert decision.allowed and decision.reasons == []
    assert len(decision.receipt_ids) == 1 and decision.receipt_ids[0].startswith("r-")
    assert decision.summary().startswith("gate open for pretrain on t@")


def test_refused_without_receipt(table, ws):
    write_suite(ws, "s", SUITE)
    decision = check_gate(ws, "pretrain", "t", ["s"])
    assert not decision.allowed
    [reason] = decision.reasons
    assert (
        reason.code == "no-receipt"
        and reason.fix.startswith("datagov validate t@")
        and reason.fix.endswith(" --suite s")
    )


def test_refused_after_suite_edit(validated):
    write_suite(validated, "s", [*SUITE, exp("expect_column_values_to_not_be_null", column="y")])
    [reason] = check_gate(validated, "pretrain", "t", ["s"]).reasons
    assert reason.code == "suite-changed" and "suite 's' changed since" in reason.message


def test_refused_when_latest_failed(validated, table):
    write_suite(validated, "s", [exp("expect_column_max_to_be_between", column="x", max_value=0)])
    assert table("validate", "t", "--suite", "s").exit_code == 3
    [reason] = check_gate(validated, "pretrain", "t", ["s"]).reasons
    assert reason.code == "failed" and "failed: 0 of 1 expectations met" in reason.message


def test_reverting_a_suite_revives_its_receipt(validated, table):
    """Receipts are bound to suite content: the failing receipt belongs to the edited
    suite, so restoring the original content makes the original passing receipt count."""
    write_suite(validated, "s", [exp("expect_column_max_to_be_between", column="x", max_value=0)])
    assert table("validate", "t", "--suite", "s").exit_code == 3
    write_suite(validated, "s", SUITE)  # back to the passing content: the old passing receipt counts again
    assert check_gate(validated, "pretrain", "t", ["s"]).allowed


def test_refused_for_missing_suite_and_changed_files(validated):
    decision = check_gate(validated, "pretrain", "t", ["s", "gone"])
    assert [r.code for r in decision.reasons] == ["suite-missing"]
    part = next(validated.store_dir.iterdir()) / "part-00000.parquet"
    part.write_bytes(part.read_bytes()[:-1])
    codes = [r.code for r in check_gate(validated, "pretrain", "t", ["s"]).reasons]
    assert codes == ["data-changed"]


def test_suggested_suite_receipt_opens_the_gate(table, ws):
    """GX edits the expectation dicts it is given; the receipt must still carry
    the digest of the suite file as it is on disk."""
    from datagov.quality.suites import load_suite

    assert table("expectations", "suggest", "t", "--suite", "rich").exit_code == 0
    before = load_suite(ws, "rich").digest
    assert table("validate", "t", "--suite", "rich").exit_code == 0
    assert load_suite(ws, "rich").digest == before
    decision = check_gate(ws, "pretrain", "t", ["rich"])
    assert decision.allowed, decision.summary()


def test_a_suite_that_checks_nothing_real_does_not_open_the_gate(table, ws):
    write_suite(ws, "hollow", [exp("expect_table_row_count_to_be_between", min_value=0)])
    assert table("validate", "t", "--suite", "hollow").exit_code == 0  # it passes...
    decision = check_gate(ws, "pretrain", "t", ["hollow"])
    assert not decision.allowed  # ...and vouches for nothing
    [reason] = decision.reasons
    assert reason.code == "checks-nothing" and "check nothing beyond table-level counts" in reason.message


@pytest.mark.parametrize(
    "require, opens",
    [
        ('t = ["expect_column_values_to_not_be_null"]', True),
        ('tabular = ["expect_column_values_to_be_unique"]', False),
        ('t = ["s", "other"]', False),
        ('tabular = ["s"]', True),
    ],
)
def test_gate_require_names_what_must_have_passed(validated, require, opens):
    config = validated.root / "datagov.toml"
    config.write_text(config.read_text().replace("[gate.require]\n", f"[gate.require]\n{require}\n"))
    decision = check_gate(load_workspace(validated.root), "pretrain", "t", ["s"])  # the settings read again
    assert decision.allowed is opens, decision.reasons
    if not opens:
        assert all(r.code == "required-check" and "[gate.require]" in r.message for r in decision.reasons)


def test_gate_require_that_is_not_a_list_is_one_error(validated, table):
    config = validated.root / "datagov.toml"
    config.write_text(config.read_text().replace("[gate.require]\n", '[gate.require]\nt = "s"\n'))
    with pytest.raises(InvalidInput, match=r"\[gate.require\] t in datagov.toml must be a list of names"):
        check_gate(load_workspace(validated.root), "pretrain", "t", ["s"])
