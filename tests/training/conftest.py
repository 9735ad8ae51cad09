"""Digits workspaces for the training tests: split with the demo's fractions
(without its five-labels-per-class cap, so fine-tuning has ~175 rows), with
the repository's suites."""

import shutil

import pytest

from tests.conftest import REPO

SPEC = REPO / "pipelines" / "pretrain-digits.yaml"
TRANSFER = REPO / "pipelines" / "transfer-digits.yaml"
TINY = ["train.epochs=2", "model.hidden=[32]", "model.latent=8", "train.device=cpu"]


@pytest.fixture
def digits_ws(cli, ws):
    """digits split with the demo's fractions (near-duplicates removed), with the repository's suites."""
    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    into = "pretrain=0.7,finetune=0.1,eval=0.2"
    assert cli("split", "digits", "--into", into, "--drop-labels", "pretrain", "--dedupe", "near").exit_code == 0
    for suite in ("digits-pretrain", "digits-labelled"):
        shutil.copy(REPO / "expectations" / f"{suite}.json", ws.expectations_dir)
    return cli


@pytest.fixture
def matched(digits_ws):
    """Every split validated, an autoencoder registered, and digits-finetune
    matched against its pretraining data."""
    for name, suite in (("digits-pretrain", "digits-pretrain"), ("digits-finetune", "digits-labelled"),
                        ("digits-eval", "digits-labelled")):  # fmt: skip
        assert digits_ws("validate", name, "--suite", suite).exit_code == 0
    assert digits_ws("pretrain", SPEC, *TINY, "--no-progress").exit_code == 0
    assert digits_ws("expectations", "match", "digits-pretrain", "--suite", "digits-pretrain-match").exit_code == 0
    assert digits_ws("validate", "digits-finetune", "--suite", "digits-pretrain-match").exit_code == 0
    return digits_ws


@pytest.fixture
def pretrained(matched):
    """What transfer needs: `matched`, and digits-eval checked for near-copies
    of the fine-tuning data and of the encoder's pretraining data."""
    for reference in ("digits-finetune", "digits-pretrain"):
        assert matched("contamination", reference, "digits-eval").exit_code == 0
    return matched


def mlflow_runs(ws):
    import mlflow

    from datagov import tracking

    tracking.configure(ws)
    return mlflow.search_runs(search_all_experiments=True, output_format="list")
