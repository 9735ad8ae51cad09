"""Retiring and deleting versions, receipts and suites: who and why recorded,
what each one changes, and what is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from datagov.catalog.db import open_catalog
from datagov.catalog.lifecycle import retirements
from datagov.catalog.versions import resolve
from datagov.errors import GateRefused
from tests.conftest import REPO, catalog_counts, store_folders


def _table(path: Path, rows: int, seed: int) -> Path:
    import random

    rng = random.Random(seed)
    path.write_text("id,x,label\n" + "".join(f"{i},{rng.random():.6f},{rng.randint(0, 3)}\n" for i in range(rows)))
    return path


@pytest.fixture
def two_versions(cli, tmp_path):
    for seed in (1, 2):
        assert cli("ingest", _table(tmp_path / f"t{seed}.csv", 50 + seed, seed), "--name", "t").exit_code == 0
    history = json.loads(cli("datasets", "history", "t", "--json").stdout)
    return [v["digest"] for v in history]  # newest first


def test_a_retired_version_leaves_name_resolution_and_listings_but_reads_by_digest(cli, ws, two_versions):
    newest, older = two_versions
    result = cli("datasets", "retire", f"t@{newest[:12]}", "--reason", "exploratory split")
    assert result.exit_code == 0 and f"retired t@{newest[:12]}" in result.stdout
    with open_catalog(ws) as con:
        assert resolve(con, "t").digest == older  # NAME: the newest version in use
        assert resolve(con, f"t@{newest}").status == "retired"
        (record,) = retirements(con, "version")
        assert record.reason == "exploratory split" and record.created_by and record.action == "retired"
    history = cli("datasets", "history", "t").stdout
    assert newest[:12] not in history and "1 retired version(s) not shown; add --all" in history
    assert newest[:12] in cli("datasets", "history", "t", "--all").stdout
    assert "retired" in cli("datasets", "show", f"t@{newest[:12]}").stdout
    again = cli("datasets", "retire", f"t@{newest[:12]}", "--reason", "x")
    assert again.exit_code == 1 and "is retired already" in again.stderr


def test_retiring_a_whole_dataset_hides_it_and_names_the_way_back(cli, ws, two_versions):
    assert cli("datasets", "retire", "t", "--reason", "superseded").exit_code == 0
    listed = cli("datasets", "list")
    assert "No datasets in use: 1 with only retired versions" in listed.stdout
    assert "t" in cli("datasets", "list", "--all").stdout
    named = cli("datasets", "show", "t")
    assert named.exit_code == 1 and "every version of 't' is retired" in named.stderr
    assert "name a digest to read a retired version" in named.stderr


def test_the_gate_refuses_a_retired_version_and_no_waiver_passes_it(cli, ws, two_versions):
    from datagov.gate import check_gate
    from datagov.governance import enforce

    newest = two_versions[0]
    assert cli("datasets", "retire", f"t@{newest[:12]}", "--reason", "bad labels").exit_code == 0
    decision = check_gate(ws, "pretrain", f"t@{newest}", [])
    assert not decision.allowed
    (reason,) = [r for r in decision.reasons if r.code == "retired"]
    assert "is retired by" in reason.message and "bad labels" in reason.message
    with pytest.raises(GateRefused, match="is retired by") as refused:
        enforce(decision, "need it anyway")
    assert refused.value.hint and "a waiver does not bring back what was retired" in refused.value.hint


def test_a_retired_receipt_no_longer_counts_and_a_retired_suite_is_refused(cli, ws, tmp_path):
    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    shutil.copy(REPO / "expectations" / "digits-labelled.json", ws.expectations_dir)
    # the suite is written for the splits: on the whole set it fails, and the gate names that receipt
    assert cli("validate", "digits", "--suite", "digits-labelled").exit_code == 3
    (receipt,) = json.loads(cli("validations", "list", "--json").stdout)
    from datagov.gate import check_gate

    assert [r.code for r in check_gate(ws, "pretrain", "digits", ["digits-labelled"]).reasons] == ["failed"]
    assert cli("validations", "retire", receipt["id"], "--reason", "exploration").exit_code == 0
    assert json.loads(cli("validations", "list", "--json").stdout) == []
    assert len(json.loads(cli("validations", "list", "--all", "--json").stdout)) == 1
    decision = check_gate(ws, "pretrain", "digits", ["digits-labelled"])
    assert [r.code for r in decision.reasons] == ["no-receipt"]
    assert cli("expectations", "retire", "digits-labelled", "--reason", "replaced").exit_code == 0
    refused = cli("validate", "digits", "--suite", "digits-labelled")
    assert refused.exit_code == 1 and "suite 'digits-labelled' is retired by" in refused.stderr
    assert "suite-retired" in [r.code for r in check_gate(ws, "pretrain", "digits", ["digits-labelled"]).reasons]
    unknown = cli("validations", "retire", "r-nope", "--reason", "x")
    assert unknown.exit_code == 1 and unknown.stderr.startswith("Error: no receipt 'r-nope'")


def test_delete_removes_the_version_and_its_bytes_but_not_what_others_need(cli, ws, two_versions):
    newest, older = two_versions
    assert cli("split", "t", "--into", "a=0.5,b=0.5").exit_code == 0  # children of the newest
    refused = cli("datasets", "delete", f"t@{newest[:12]}", "--reason", "cleanup")
    assert refused.exit_code == 4 and "2 version(s) derived from it depend on it" in refused.stderr
    before = catalog_counts(ws)
    deleted = cli("datasets", "delete", f"t@{older[:12]}", "--reason", "cleanup")
    assert deleted.exit_code == 0 and f"deleted t@{older[:12]}" in deleted.stdout
    assert "1 stored file(s)" in deleted.stdout
    assert older not in store_folders(ws) and newest in store_folders(ws)
    after = catalog_counts(ws)
    assert after["versions"] == before["versions"] - 1
    with open_catalog(ws) as con:
        (record,) = [r for r in retirements(con, "version") if r.action == "deleted"]
        assert record.target == f"t@{older}" and record.reason == "cleanup"
    missing = cli("datasets", "delete", "t", "--reason", "")
    assert missing.exit_code == 1 and missing.stderr.startswith("Error: --reason is required")
