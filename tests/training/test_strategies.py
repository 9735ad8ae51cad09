"""Strategies are registered once: the spec's choices, the CLI's and the trainer's agree."""

from typer.testing import CliRunner

from datagov.cli.app import app
from datagov.cli.transfer_cmd import Strategy
from datagov.training.spec import CHOICES
from datagov.training.strategies import OFFERED, STRATEGIES
from tests.cli.helptext import flat


def test_the_spec_and_the_cli_offer_the_registered_strategies():
    assert CHOICES["strategy"] == OFFERED == ("finetune", "features")
    assert tuple(s.value for s in Strategy) == OFFERED
    assert "scratch" in STRATEGIES and not STRATEGIES["scratch"].offered
    result = CliRunner().invoke(app, ["transfer", "--help"])
    assert STRATEGIES["features"].help in flat(result.output)


def test_an_unregistered_strategy_is_refused_by_the_trainer():
    import pytest
    import torch

    from datagov.training.classify import Budget, train_classifier

    with pytest.raises(ValueError, match="not one of"):
        train_classifier("linear-probe", torch.nn.Identity(), [], None, None, [], Budget(), torch.device("cpu"))
