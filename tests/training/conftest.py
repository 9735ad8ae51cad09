"""Digits workspaces for the training tests: split as in the demo, with the
repository's suites."""

import shutil

import pytest

from tests.conftest import REPO

SPEC = REPO / "pipelines" / "pretrain-digits.yaml"
TINY = ["train.epochs=2", "model.hidden=[32]", "model.latent=8", "train.device=cpu"]


@pytest.fixture
def digits_ws(cli, ws):
    """digits split as in the demo, with the repository's suites."""
    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    assert (
        cli("split", "digits", "--into", "pretrain=0.7,finetune=0.1,eval=0.2", "--drop-labels", "pretrain").exit_code
        == 0
    )
    for suite in ("digits-pretrain", "digits-labelled"):
        shutil.copy(REPO / "expectations" / f"{suite}.json", ws.expectations_dir)
    return cli


def mlflow_runs(ws):
    import mlflow

    from datagov import tracking

    tracking.configure(ws)
    return mlflow.search_runs(search_all_experiments=True, output_format="list")
