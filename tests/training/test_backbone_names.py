"""Backbone names are listed once (torch-free): the builders, the spec's
choices and the CLI's help agree with that list."""

from typer.testing import CliRunner

from datagov.cli.app import app
from datagov.training.backbone_names import BACKBONE_NAMES, MODEL_KINDS
from datagov.training.backbones import BACKBONES
from datagov.training.spec import CHOICES
from tests.cli.helptext import flat


def test_the_builders_the_spec_and_the_cli_name_the_same_backbones():
    assert tuple(BACKBONES) == BACKBONE_NAMES
    assert CHOICES["model.kind"] == MODEL_KINDS == ("auto", "mlp", "conv", *BACKBONE_NAMES)
    help_text = flat(CliRunner().invoke(app, ["models", "import", "--help"]).output)
    assert "resnet18, resnet34 or mobilenet_v3_small" in help_text
