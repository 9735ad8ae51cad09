"""A digits workspace with an autoencoder and a classifier registered, so audits
have data with receipts and models to tag."""

import pytest

from tests.conftest import REPO
from tests.training.conftest import SPEC, TINY, digits_ws  # noqa: F401

TRANSFER = REPO / "pipelines" / "transfer-digits.yaml"
# A few epochs cannot reach the spec's promotion bound; these tests bound it at 0 instead.
QUICK = ["train.epochs=3", "train.patience=2", "train.device=cpu", "register.promote_min.eval_accuracy=0"]


@pytest.fixture
def trained(digits_ws):  # noqa: F811
    for name, suite in (("digits-pretrain", "digits-pretrain"), ("digits-finetune", "digits-labelled"),
                        ("digits-eval", "digits-labelled")):  # fmt: skip
        assert digits_ws("validate", name, "--suite", suite).exit_code == 0
    assert digits_ws("pretrain", SPEC, *TINY, "--no-progress").exit_code == 0
    assert digits_ws("expectations", "match", "digits-pretrain", "--suite", "pre-match").exit_code == 0
    assert digits_ws("validate", "digits-finetune", "--suite", "pre-match").exit_code == 0
    result = digits_ws("transfer", TRANSFER, *QUICK, "--strategy", "features", "--no-progress")
    assert result.exit_code == 0, result.output
    return digits_ws
