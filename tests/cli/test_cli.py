"""The CLI as a whole: help text, docs, error contract, start-up cost."""

import subprocess
import sys

import click
import pytest

from datagov.cli.app import app
from tests.conftest import REPO, run_datagov


def all_commands():
    import typer.main

    root = typer.main.get_command(app)

    def walk(group, prefix):
        for name, cmd in group.commands.items():
            yield [*prefix, name], cmd
            if isinstance(cmd, click.Group):
                yield from walk(cmd, [*prefix, name])

    return list(walk(root, []))


COMMANDS = all_commands()


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help_and_is_documented(path, cmd):
    assert (cmd.help or "").strip(), f"datagov {' '.join(path)} has no help text"
    readme = (REPO / "README.md").read_text()
    assert f"datagov {' '.join(path)}" in readme, f"README does not mention `datagov {' '.join(path)}`"


def test_debug_shows_the_traceback(cli):
    plain = cli("datasets", "show", "nope")
    assert plain.exit_code == 1 and "Traceback" not in plain.output
    proc = run_datagov("--workspace", cli.ws.root, "--debug", "datasets", "show", "nope")
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr and "NotFound: unknown dataset 'nope'" in proc.stderr


def test_usage_errors_exit_2(cli):
    result = cli("ingest")
    assert result.exit_code == 2
    result = cli("frobnicate")
    assert result.exit_code == 2


@pytest.mark.parametrize("argv", [["--help"], ["datasets", "list"], ["lineage", "--help"]])
def test_cli_start_imports_no_heavy_modules(ws, argv):
    code = (
        "import sys; from datagov.cli.app import app\n"
        f"try:\n    app({argv!r} + [], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('torch', 'mlflow', 'great_expectations', 'sklearn', 'torchvision', 'scipy')"
        " if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    args = argv if argv[0] == "--help" else ["--workspace", str(ws.root), *argv]
    code = code.replace(repr(argv), repr(args))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY="


def test_console_script_runs(ws):
    proc = run_datagov("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("datagov ")


def test_bracketed_text_prints_as_written(cli, ws, tmp_path):
    """Rich markup is for datagov's own styling: names, values and help print whole."""
    import json

    in_set = {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "ok", "value_set": [False, True]}}
    (ws.expectations_dir / "flags.json").write_text(json.dumps({"name": "flags", "expectations": [in_set]}))
    shown = cli("expectations", "show", "flags")
    assert shown.exit_code == 0 and '"value_set": [false, true]' in shown.stdout
    (tmp_path / "t.csv").write_text("a\n1\n")
    assert cli("ingest", tmp_path / "t.csv", "--name", "t", "--description", "[bold]raw[/bold] [x]").exit_code == 0
    assert "[bold]raw[/bold] [x]" in cli("datasets", "show", "t").stdout
    assert "pip install 'datagov[spark]'" in " ".join(cli("validate", "--help").stdout.split())


def test_models_list_on_a_workspace_without_models_says_so(cli, ws):
    listed = cli("models", "list")
    assert listed.exit_code == 0 and listed.stdout.startswith("No registered models yet.")
    as_json = cli("models", "list", "--json")
    assert as_json.exit_code == 0 and as_json.stdout.strip() == "[]"
    assert not (ws.catalog_dir / "mlflow.db").exists()  # a read creates no tracking store


def test_near_duplicate_receipts_read_as_current_in_validations_list(cli, ws):
    import json

    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    assert cli("dedup", "digits").exit_code in (0, 3)
    listed = json.loads(cli("validations", "list", "--json").stdout)
    assert listed and all(r["kind"] == "contamination" and r["suite_current"] for r in listed)
    table = cli("validations", "list").stdout
    assert "same (method)" in table and "changed" not in table
