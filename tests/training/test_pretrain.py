"""Gated pretraining with real DuckDB, Great Expectations, MLflow (under
tmp_path) and a tiny real training on the digits."""

import json

import pytest

from datagov.catalog.db import open_catalog
from tests.training.conftest import SPEC, TINY, mlflow_runs


def test_unvalidated_data_is_refused_with_the_fix(digits_ws, ws):
    result = digits_ws("pretrain", SPEC, *TINY)
    assert result.exit_code == 4
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: gate refused pretrain on digits-pretrain@") and lines[0].endswith("1 problem(s)")
    assert any("was never validated against suite 'digits-pretrain'" in line for line in lines)
    assert any(line.strip().startswith("fix: datagov validate digits-pretrain@") for line in lines)
    with open_catalog(ws) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    assert not (ws.catalog_dir / "mlflow.db").exists()  # refused before any MLflow run


def test_validated_pretrain_logs_registers_and_links(digits_ws, ws):
    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    result = digits_ws("pretrain", SPEC, *TINY, "--no-progress")
    assert result.exit_code == 0, result.output
    assert (
        "Registered models:/digits-autoencoder/1 (alias models:/digits-autoencoder@latest-validated)" in result.stdout
    )

    [run] = mlflow_runs(ws)
    assert run.info.status == "FINISHED"
    assert run.data.params["train.epochs"] == "2" and run.data.tags["datagov.gate"] == "open"
    with open_catalog(ws) as con:
        digest = con.execute("SELECT digest FROM versions WHERE dataset = 'digits-pretrain'").fetchone()[0]
        row = con.execute("SELECT status, model_version FROM runs").fetchone()
        edges = con.execute(
            "SELECT src_kind, dst_kind, relation FROM lineage WHERE dst_kind IN ('run', 'model') ORDER BY relation"
        ).fetchall()
    assert row == ("finished", "1")
    assert edges == [("run", "model", "registered"), ("version", "run", "trained")]
    inputs = {t.value: i.dataset for i in run.inputs.dataset_inputs for t in i.tags if t.key == "mlflow.data.context"}
    assert set(inputs) == {"training", "validation"} and {d.digest for d in inputs.values()} == {digest[:36]}
    assert inputs["validation"].name.endswith(":holdout-1-in-10")
    from mlflow import MlflowClient

    mv = MlflowClient().get_model_version_by_alias("digits-autoencoder", "latest-validated")
    assert mv.tags["datagov.digest"] == digest and mv.tags["datagov.receipts"].startswith("r-")
    assert len(run.data.metrics) >= 3 and run.data.metrics["train_loss"] > 0

    tree = digits_ws("lineage", "digits-pretrain").stdout
    assert "run " in tree and "model digits-autoencoder/1 (registered)" in tree


def test_tiny_training_is_deterministic_on_cpu(digits_ws, ws):
    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    from datagov.training.pretrain import run_pretraining

    pinned = [*TINY, "train.noise=0.1", "train.loss=bce"]  # independent of the shipped spec's tuning
    first = run_pretraining(ws, SPEC, pinned, progress=False).metrics
    second = run_pretraining(ws, SPEC, pinned, progress=False).metrics
    assert first["train_loss"] == second["train_loss"] and first["val_loss"] == second["val_loss"]
    # stored value for these settings (seed 0); a change means training behaviour changed
    assert first["val_loss"] == pytest.approx(STORED_VAL_LOSS, rel=1e-4)


def test_waiver_is_recorded_everywhere(digits_ws, ws):
    result = digits_ws("pretrain", SPEC, *TINY, "--waive", "exploratory run, suite under review", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "Warning: gate waived (w-" in result.stderr
    with open_catalog(ws) as con:
        waiver = con.execute("SELECT id, reason, stage, run_id FROM waivers").fetchone()
        run_waiver = con.execute("SELECT waiver_id FROM runs").fetchone()[0]
    assert waiver[1:3] == ("exploratory run, suite under review", "pretrain") and run_waiver == waiver[0]
    [run] = mlflow_runs(ws)
    assert run.data.tags["datagov.waiver"] == "exploratory run, suite under review"
    assert run.data.tags["datagov.gate"] == "waived" and run.info.run_id == waiver[3]
    # a waived version is not validated: latest-validated does not move to it, and shift does not pick it
    assert "no alias moved: the gate was waived" in result.stdout
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException):
        MlflowClient().get_model_version_by_alias("digits-autoencoder", "latest-validated")
    shift = digits_ws("shift", "digits-pretrain", "digits-finetune", "--json")
    notes = " ".join(json.loads(shift.stdout)["notes"])
    assert "every pretraining on digits-pretrain@" in notes and "ran under a waiver" in notes
    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    validated = digits_ws("pretrain", SPEC, *TINY, "--no-progress")
    assert "(alias models:/digits-autoencoder@latest-validated)" in validated.stdout
    shift = digits_ws("shift", "digits-pretrain", "digits-finetune", "--json")
    assert "encoder models:/digits-autoencoder/2: the newest pretraining on digits-pretrain@" in " ".join(
        json.loads(shift.stdout)["notes"]
    )


def test_cuda_requested_without_cuda_is_a_clear_error(digits_ws, ws):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the error cannot occur here")
    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    result = digits_ws("pretrain", SPEC, "train.device=cuda")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "Error: train.device=cuda, but no CUDA device is available here"
    assert not (ws.catalog_dir / "mlflow.db").exists()  # refused before any MLflow run could be left RUNNING


STORED_VAL_LOSS = 0.6328253822941934  # torch 2.14.1, CPU, seed 0, the pinned settings above, near-deduped split


def test_pretraining_decodes_each_version_once_into_the_cache(digits_ws, ws, monkeypatch):
    from datagov.training import pixel_cache

    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    assert digits_ws("pretrain", SPEC, *TINY, "--no-progress").exit_code == 0
    (cache,) = (ws.catalog_dir / "cache").glob("*/pixels-1x8x8.u8")
    with open_catalog(ws) as con:
        digest, rows = con.execute("SELECT digest, rows FROM versions WHERE dataset = 'digits-pretrain'").fetchone()
    assert cache.parent.name == digest and cache.stat().st_size == rows * 64
    built = cache.stat().st_mtime_ns
    assert digits_ws("pretrain", SPEC, *TINY, "--no-progress").exit_code == 0
    assert cache.stat().st_mtime_ns == built  # reused, not rebuilt
    # Too big for the cache: decoded on the fly, and nothing is written.
    from datagov.training.inputs import image_input

    monkeypatch.setattr(pixel_cache, "MAX_BYTES", 10)
    assert pixel_cache.ensure_pixels(ws, image_input(ws, "digits-finetune")) is None
    assert len(list((ws.catalog_dir / "cache").glob("*/*.u8"))) == 1
