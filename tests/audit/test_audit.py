"""Audits over real stored files, suites and MLflow models: corruption is caught
by file name and blocks every model it fed; suite edits are caught by
expectation; a killed audit is never left looking passed; the scheduler runs."""

import json
import os
import re
import stat
import sys

from datagov.catalog.db import open_catalog
from tests.conftest import run_datagov


def _file_of(ws, dataset):
    with open_catalog(ws) as con:
        digest, path = con.execute(
            "SELECT f.digest, f.path FROM files f JOIN versions v ON v.digest = f.digest WHERE v.dataset = ?",
            [dataset],
        ).fetchall()[0]
    return ws.store_dir / digest / path


def _tags(ws, name, version):
    from mlflow import MlflowClient

    from datagov import tracking

    tracking.configure(ws)
    return MlflowClient().get_model_version(name, version).tags


def test_a_clean_audit_passes_and_tags_the_models(trained, ws):
    result = trained("audit", "run", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "passed"
    assert {v["version"].split("@")[0] for v in doc["versions"]} == {
        "digits-pretrain",
        "digits-finetune",
        "digits-eval",
    }
    fed = {v["version"].split("@")[0]: v["models"] for v in doc["versions"]}
    assert fed["digits-pretrain"] == ["digits-autoencoder/1"] and fed["digits-finetune"] == ["digits-classifier/1"]
    assert _tags(ws, "digits-classifier", "1")["datagov.audit"] == "passed"
    page = (ws.root / f"catalog/reports/audit-{doc['id']}.html").read_text()
    assert re.search(r'class="meta">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC to ', page)  # times say their zone
    assert doc["started"].endswith("+00:00")
    # Same bytes, same suites, same GX: the receipts still answer and nothing is re-run...
    assert all(v["reused"] and not v["receipts"] for v in doc["versions"])
    with open_catalog(ws) as con:
        before = con.execute("SELECT count(*) FROM receipts").fetchone()[0]
    # ...unless asked to.
    forced = json.loads(trained("audit", "run", "--revalidate", "--json").stdout)
    assert forced["status"] == "passed" and all(v["receipts"] and not v["reused"] for v in forced["versions"])
    with open_catalog(ws) as con:
        assert con.execute("SELECT count(*) FROM receipts").fetchone()[0] == before + 4  # 3 quality + 1 match


def test_corrupted_files_are_named_and_block_every_model_they_fed(trained, ws):
    flipped, truncated, deleted = (_file_of(ws, n) for n in ("digits-pretrain", "digits-finetune", "digits-eval"))
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF
    for f in (flipped, truncated):
        os.chmod(f, stat.S_IWUSR | stat.S_IRUSR)
    flipped.write_bytes(bytes(data))
    truncated.write_bytes(truncated.read_bytes()[:100])
    deleted.unlink()

    result = trained("audit", "run")
    assert result.exit_code == 3
    for f in (flipped, truncated, deleted):
        assert f.name in result.stdout
    doc = json.loads((sorted((ws.reports_dir).glob("audit-*.json"))[0]).read_text())
    # Every version stores part-00000.parquet: each problem must sit under its own version.
    integrity = {
        v["version"].split("@")[0]: [f["message"].split(" (")[0] for f in v["findings"] if f["check"] == "integrity"]
        for v in doc["versions"]
    }
    assert integrity == {
        "digits-pretrain": [f"{flipped.name}: hash"],
        "digits-finetune": [f"{truncated.name}: size"],
        "digits-eval": [f"{deleted.name}: missing"],
    }
    assert doc["models_affected"] == ["digits-autoencoder/1", "digits-classifier/1"]
    for name in ("digits-autoencoder", "digits-classifier"):
        assert _tags(ws, name, "1")["datagov.audit"] == "failed"
        refused = trained("models", "promote", name, "1", "--alias", "production")
        assert refused.exit_code == 4, refused.output
        assert "the latest audit of digits-" in refused.stderr and "failed" in refused.stderr


def test_a_failed_encoder_dataset_fails_the_classifier_built_on_it_until_its_own_audit_passes(trained, ws):
    """The classifier's own data passes; its encoder's pretraining data does
    not. MLflow must not say "passed" beside the id of the audit that failed
    it, and a later audit scoped to the classifier's data must not clear it."""
    pretrain = _file_of(ws, "digits-pretrain")
    os.chmod(pretrain, stat.S_IWUSR | stat.S_IRUSR)
    pretrain.write_bytes(pretrain.read_bytes()[:100])
    failed = trained("audit", "run", "--json")
    assert failed.exit_code == 3
    doc = json.loads(failed.stdout)
    assert doc["models_affected"] == ["digits-autoencoder/1", "digits-classifier/1"]
    for name in ("digits-autoencoder", "digits-classifier"):
        assert _tags(ws, name, "1")["datagov.audit"] == "failed"
        assert _tags(ws, name, "1")["datagov.audit_id"] == doc["id"]

    scoped = trained("audit", "run", "--dataset", "digits-finetune", "--json")
    assert scoped.exit_code == 0, scoped.output
    tags = _tags(ws, "digits-classifier", "1")
    assert (tags["datagov.audit"], tags["datagov.audit_id"]) == ("failed", doc["id"])
    refused = trained("models", "promote", "digits-classifier", "1", "--alias", "production")
    assert refused.exit_code == 4 and "digits-pretrain" in refused.stderr, refused.output


def test_a_suite_edit_that_the_data_now_fails_is_named(trained, ws):
    path = ws.expectations_dir / "digits-labelled.json"
    suite = json.loads(path.read_text())
    rows = next(e for e in suite["expectations"] if e["type"] == "expect_table_row_count_to_be_between")
    rows["kwargs"].update(min_value=5000, max_value=6000)
    path.write_text(json.dumps(suite))
    result = trained("audit", "run", "--dataset", "digits-eval", "--json")
    assert result.exit_code == 3
    (version,) = json.loads(result.stdout)["versions"]
    assert any(
        "suite 'digits-labelled', expectation #1 expect_table_row_count_to_be_between failed: 354" in f["message"]
        for f in version["findings"]
    ), version["findings"]


def test_a_killed_audit_is_marked_interrupted_and_the_next_one_runs(trained, ws):
    killed = run_datagov("--workspace", ws.root, "audit", "run", env={"DATAGOV_FAULT": "audit-after-first-version"})
    assert killed.returncode == -9
    with open_catalog(ws) as con:
        assert con.execute("SELECT status FROM audits").fetchall() == [("running",)]
        assert con.execute("SELECT count(*) FROM audit_results").fetchone()[0] == 0
    result = trained("audit", "run")
    assert result.exit_code == 0, result.output
    assert "had been interrupted; marked so" in result.stdout
    with open_catalog(ws) as con:
        assert sorted(con.execute("SELECT status FROM audits").fetchall()) == [("interrupted",), ("passed",)]


def test_serve_runs_audits_on_a_schedule_and_schedule_writes_a_crontab_line(trained, ws, tmp_path):
    served = run_datagov("--workspace", ws.root, "audit", "serve", "--every", "1", "--max-runs", "2", timeout=300)
    assert served.returncode == 0, served.stderr
    assert served.stdout.count("exit 0") == 2
    # an audit takes longer than the 1 s interval: the skipped runs are said in datagov's words
    assert "Execution of job" not in served.stderr and "apscheduler" not in served.stderr.lower()
    assert all(line.startswith("[") and " audit " in line for line in served.stderr.splitlines() if line), served.stderr
    history = json.loads(trained("audit", "history", "--json").stdout)
    assert [a["status"] for a in history] == ["passed", "passed"]

    bad = trained("audit", "serve", "--cron", "61 * * * *")
    assert bad.exit_code == 1 and "bad cron expression '61 * * * *'" in bad.stderr
    printed = trained("audit", "schedule", "0 3 * * *", "--print")
    assert printed.exit_code == 0
    assert printed.stdout.startswith("0 3 * * * ") and f"--workspace {ws.root} audit run" in printed.stdout

    # Installing goes through the crontab command: a stand-in records what it is given.
    bin_dir, saved = tmp_path / "bin", tmp_path / "crontab.txt"
    bin_dir.mkdir()
    fake = bin_dir / "crontab"
    fake.write_text(f"#!{sys.executable}\nimport sys, pathlib\np = pathlib.Path({str(saved)!r})\n"
                    "if sys.argv[1] == '-l':\n    print(p.read_text() if p.exists() else 'MAILTO=ops', end='')\n"
                    "else:\n    p.write_text(sys.stdin.read())\n")  # fmt: skip
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    for cron in ("0 3 * * *", "30 4 * * 1"):  # the second replaces the first, keeping other lines
        done = run_datagov("--workspace", ws.root, "audit", "schedule", cron, env=env)
        assert done.returncode == 0, done.stderr
    lines = saved.read_text().splitlines()
    assert lines[0] == "MAILTO=ops" and len(lines) == 2 and lines[1].startswith("30 4 * * 1 ")


def test_profile_differences_become_findings():
    from datagov.audit.run import _profile_changes

    old = {"rows": 10, "columns": {"a": {"type": "DOUBLE", "nulls": 0, "mean": 1.0}}}
    new = {"rows": 11, "columns": {"a": {"type": "DOUBLE", "nulls": 0, "mean": 1.5}, "b": {"type": "BIGINT"}}}
    found = {(f.item, f.message) for f in _profile_changes(old, new)}
    assert found == {
        ("rows", "10 rows at the last audit, now 11"),
        ("a", "mean was 1, now 1.5"),
        ("b", "column is new since the last audit"),
    }
    assert _profile_changes(new, new) == []
