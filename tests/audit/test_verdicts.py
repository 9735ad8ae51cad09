"""What an audit verdict means: `failed` only when something changed since a
check passed; a suite that never passed is an exploration (`never-passed`),
data with no receipt is `unvalidated`; neither fails the audit nor reads as
`passed`."""

import json

from tests.quality.conftest import exp, table, write_suite  # noqa: F401
from tests.training.conftest import SPEC, TINY, digits_ws  # noqa: F401


def versions(result) -> dict[str, dict]:
    return {v["version"].split("@")[0]: v for v in json.loads(result.stdout)["versions"]}


def test_an_exploratory_validation_never_fails_later_audits(table, ws):  # noqa: F811
    write_suite(ws, "last-month", [exp("expect_column_mean_to_be_between", column="x", min_value=50, max_value=60)])
    assert table("validate", "t", "--suite", "last-month").exit_code == 3  # fails, as it should
    audit = table("audit", "run", "--json")
    assert audit.exit_code == 0, audit.output
    found = versions(audit)["t"]
    assert found["status"] == "never-passed"
    assert [f["severity"] for f in found["findings"]] == ["note"]
    assert table("audit", "run").exit_code == 0  # and stays so, run after run
    write_suite(ws, "ok", [exp("expect_column_values_to_not_be_null", column="x")])
    assert table("validate", "t", "--suite", "ok").exit_code == 0
    assert versions(table("audit", "run", "--json"))["t"]["status"] == "passed"


def test_a_check_that_passed_and_now_fails_fails_the_audit(table, ws):  # noqa: F811
    write_suite(ws, "ok", [exp("expect_column_values_to_not_be_null", column="x")])
    assert table("validate", "t", "--suite", "ok").exit_code == 0
    write_suite(ws, "ok", [exp("expect_column_values_to_be_between", column="x", min_value=100, max_value=200)])
    audit = table("audit", "run", "--json")
    assert audit.exit_code == 3 and versions(audit)["t"]["status"] == "failed"


def test_data_without_receipts_is_unvalidated_and_review_says_no_audit_yet(digits_ws, ws):  # noqa: F811
    waived = digits_ws("pretrain", SPEC, *TINY, "--waive", "exploring", "--no-progress")
    assert waived.exit_code == 0, waived.output
    review = digits_ws("models", "review", "digits-autoencoder")
    assert "no audit yet" in review.stdout and "audits pass" not in review.stdout
    audit = digits_ws("audit", "run", "--json")
    assert audit.exit_code == 0, audit.output
    assert versions(audit)["digits-pretrain"]["status"] == "unvalidated"
    assert "1 version audited, 0 failed, 1 unvalidated" in digits_ws("audit", "run").stdout


def test_a_version_whose_only_check_flagged_near_copies_never_passed(digits_ws, ws):  # noqa: F811
    flagged = digits_ws("contamination", "digits-pretrain", "digits-pretrain")  # every row is its own copy
    assert flagged.exit_code == 3, flagged.output
    audit = digits_ws("audit", "run", "--json")
    assert audit.exit_code == 0, audit.output
    found = versions(audit)["digits-pretrain"]
    assert found["status"] == "never-passed"
    assert [f["check"] for f in found["findings"]] == ["never-passed"]
    assert "near-duplicate check" in found["findings"][0]["message"]


def test_a_waiver_given_to_an_open_gate_says_nothing_was_waived(digits_ws, ws):  # noqa: F811
    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    ran = digits_ws("pretrain", SPEC, *TINY, "--waive", "just in case", "--no-progress")
    assert ran.exit_code == 0, ran.output
    assert "the gate was open, so --waive was not needed: nothing was waived or recorded" in ran.stdout
    assert "(alias models:/digits-autoencoder@latest-validated)" in ran.stdout
