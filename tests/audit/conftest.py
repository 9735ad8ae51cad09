"""A digits workspace with an autoencoder and a classifier registered, so audits
have data with receipts and models to tag."""

import pytest

from tests.training.conftest import TRANSFER, digits_ws, matched, pretrained  # noqa: F401

# A few epochs cannot reach the spec's promotion bound; these tests bound it at 0 instead.
QUICK = ["train.epochs=3", "train.patience=2", "train.device=cpu", "register.promote_min.eval_accuracy=0"]


@pytest.fixture
def trained(pretrained):  # noqa: F811
    result = pretrained("transfer", TRANSFER, *QUICK, "--strategy", "features", "--no-progress")
    assert result.exit_code == 0, result.output
    return pretrained
