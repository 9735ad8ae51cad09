"""The pretraining pipeline under torchrun: 2 CPU processes with gloo, for
the MLP and for a ResNet. Each rank updates batch norm's running statistics
from its own batches; DDP's join hook syncs the final model, buffers too,
so the ranks still end identical."""

import os
import subprocess
import sys

import pytest

from datagov.catalog.db import open_catalog
from tests.training.conftest import SPEC, TINY, mlflow_runs

RESNET = ["model.kind=resnet18", "model.latent=8", "train.epochs=1", "train.device=cpu"]


@pytest.mark.parametrize("model", [TINY, RESNET], ids=["mlp", "resnet18"])
def test_two_ranks_log_one_run_and_end_with_identical_weights(digits_ws, ws, model):
    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "WORLD_SIZE", "RANK")}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "datagov", "--workspace", str(ws.root), "pretrain", str(SPEC), *model, "--no-progress"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("MLflow run ") == 1  # only rank 0 reports
    assert "on 2 processes" in proc.stdout
    assert "Warning" not in proc.stderr, proc.stderr  # torch's Join resets warning filters; known noise stays quiet

    [run] = mlflow_runs(ws)  # one run, from rank 0
    assert run.info.status == "FINISHED" and run.data.params["world_size"] == "2"
    digests = run.data.tags["datagov.ddp.weight_digests"].split(",")
    assert len(digests) == 2 and digests[0] == digests[1]  # each rank hashed its own weights
    with open_catalog(ws) as con:
        assert con.execute("SELECT count(*), any_value(status) FROM runs").fetchone() == (1, "finished")
