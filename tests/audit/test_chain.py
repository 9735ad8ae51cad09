"""The chain of proving records: receipts, waivers, runs, model weights and
audits sealed in order, so an edit made outside datagov is named by the
next audit (and by `chain.verify`), and an honest workspace verifies clean."""

import pytest

from datagov.catalog import chain
from datagov.catalog.db import open_catalog
from datagov.catalog.migrations import MIGRATIONS
from tests.training.conftest import SPEC, TINY


@pytest.fixture
def sealed(matched):
    return matched


def problems(ws) -> list[str]:
    with open_catalog(ws) as con:
        return [p.describe() for p in chain.verify(con)]


def test_an_honest_workspace_verifies_clean_and_every_proving_record_is_sealed(sealed, ws):
    assert problems(ws) == []
    with open_catalog(ws) as con:
        kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM chain").fetchall()}
    assert {"receipt", "run", "run-end", "model"} <= kinds
    assert sealed("audit", "run").exit_code == 0
    assert problems(ws) == []  # the audit sealed itself too


@pytest.mark.parametrize(
    "tamper, says",
    [
        ("UPDATE receipts SET success = NOT success WHERE id = '{rid}'", "was changed after it was sealed"),
        ("DELETE FROM receipts WHERE id = '{rid}'", "was deleted"),
        ("UPDATE model_artifacts SET sha256 = repeat('0', 64)", "was changed after it was sealed"),
        ("DELETE FROM chain WHERE seq = 2", "follows a chain entry that was removed"),
        ("UPDATE chain SET record_hash = repeat('1', 64) WHERE seq = 1", "has a chain entry that was edited"),
        (
            "INSERT INTO receipts SELECT * REPLACE ('r-000000000000' AS id) FROM receipts WHERE id = '{rid}'",
            "receipt r-000000000000 is not in the chain",
        ),
    ],
    ids=["receipt-flipped", "receipt-deleted", "weights-repointed", "entry-deleted", "entry-edited", "forged-row"],
)
def test_a_record_changed_outside_datagov_is_named_by_the_next_audit(sealed, ws, tamper, says):
    with open_catalog(ws, write=True) as con:
        rid = con.execute("SELECT id FROM receipts ORDER BY started LIMIT 1").fetchone()[0]
        con.execute(tamper.format(rid=rid))
    assert any(says in p for p in problems(ws)), problems(ws)
    audit = sealed("audit", "run")
    assert audit.exit_code == 3, audit.output
    assert "the catalog's records were changed outside datagov" in audit.stderr and says in audit.output


def test_training_records_its_chain_head_in_mlflow(sealed, ws):
    """An anchor outside the catalog: rewriting the whole chain then contradicts MLflow."""
    from tests.training.conftest import mlflow_runs

    assert sealed("pretrain", SPEC, *TINY, "--no-progress").exit_code == 0
    run = max(mlflow_runs(ws), key=lambda r: r.info.start_time)
    with open_catalog(ws) as con:
        hashes = {h for (h,) in con.execute("SELECT hash FROM chain").fetchall()}
    assert run.data.tags["datagov.chain_head"] in hashes


def test_a_chain_rebuilt_whole_is_caught_by_the_runs_anchors(sealed, ws):
    """A forger with write access re-seals everything after an edit: the chain verifies, MLflow disagrees."""
    with open_catalog(ws, write=True) as con:
        con.execute("UPDATE receipts SET success = NOT success WHERE id = (SELECT min(id) FROM receipts)")
        con.execute("DROP TABLE chain")
        con.execute(next(sql for number, _, sql in MIGRATIONS if number == 11))
        chain.seal_existing(con)
    assert problems(ws) == []  # the chain alone is consistent again
    audit = sealed("audit", "run")
    assert audit.exit_code == 3, audit.output
    assert "which the catalog's chain no longer holds (it was rebuilt)" in audit.output


def test_a_forged_run_row_is_named_and_its_id_never_reaches_mlflow_as_filter_text(sealed, ws):
    hostile = "x') OR attributes.run_id LIKE ('%"
    with open_catalog(ws, write=True) as con:
        con.execute(
            "INSERT INTO runs (run_id, stage, pipeline, experiment, dataset, digest, gate, status, started) "
            "SELECT ?, stage, pipeline, experiment, dataset, digest, gate, status, started FROM runs LIMIT 1",
            [hostile],
        )
    audit = sealed("audit", "run")
    assert audit.exit_code == 3 and "Traceback" not in audit.output
    assert f"run {hostile} is not in the chain" in audit.output
