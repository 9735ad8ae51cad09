"""The format registry is the one list: every reader it names exists, and the
CLI's help and the formats `--in-place` takes come from it."""

import importlib

from typer.testing import CliRunner

from datagov.cli.app import app
from datagov.sources import FORMAT_HELP, FORMATS, IN_PLACE_FORMATS, REGISTRY
from tests.cli.helptext import flat


def test_every_registered_reader_resolves_and_is_in_the_help():
    for name, fmt in REGISTRY.items():
        module, function = fmt.reader.split(":")
        assert callable(getattr(importlib.import_module(module), function)), name
        assert f"{name}: {fmt.help}" in FORMAT_HELP
    assert ("auto", *REGISTRY) == FORMATS and set(IN_PLACE_FORMATS) == {"auto", "parquet", "webdataset"}


def test_an_unknown_format_lists_the_registered_ones(cli, tmp_path):
    (tmp_path / "t.csv").write_text("a\n1\n")
    result = cli("ingest", tmp_path / "t.csv", "--name", "t", "--format", "xlsx")
    assert result.exit_code == 1
    assert f"use one of: {', '.join(FORMATS)}" in result.output


def test_the_help_shows_the_registry():
    result = CliRunner().invoke(app, ["ingest", "--help"])
    assert "sklearn-digits: scikit-learn's 8x8 digits" in flat(result.output)
