"""`datagov demo`, the README's main job, end to end in a fresh workspace, as a
user runs it: in a terminal (Rich draws its progress bars there)."""

import shutil

import pytest

from tests.conftest import REPO, run_datagov
from tests.terminal import run_in_terminal


@pytest.mark.slow
def test_the_demo_runs_end_to_end_twice_in_a_fresh_workspace(tmp_path):
    root = tmp_path / "ws"
    assert run_datagov("init", root).returncode == 0
    for spec in (REPO / "pipelines").glob("*.yaml"):
        shutil.copy(spec, root / "pipelines")
    for suite in (REPO / "expectations").glob("*.json"):
        shutil.copy(suite, root / "expectations")
    first = run_in_terminal("--workspace", root, "demo", timeout=1200, cwd=tmp_path)
    assert first.returncode == 0, first.text[-4000:]
    assert "Traceback" not in first.text and "Error:" not in first.text
    assert "[/" not in first.text and "[bold" not in first.text  # no styling printed as text
    assert "Done." in first.text and "Registered" in first.text
    assert (root / "catalog" / "exports" / "digits-finetune.croissant.json").is_file()
    again = run_in_terminal("--workspace", root, "demo", timeout=1200, cwd=tmp_path)
    assert again.returncode == 0, again.text[-4000:]
    assert "unchanged" in again.text  # the data steps change nothing the second time


def test_a_failing_step_stops_the_demo_with_its_exit_code(cli, ws, monkeypatch):
    """A refused step ends the demo there: no later step runs and it never says Done."""
    from datagov.cli import demo_cmd

    steps = [["datasets", "list"], ["datasets", "show", "nope"], ["catalog", "status"]]
    monkeypatch.setattr(demo_cmd, "STEPS", steps)
    result = cli("demo")
    assert result.exit_code == 1
    assert "unknown dataset 'nope'" in result.output and "The demo stops here" in result.output
    assert "$ datagov catalog status" not in result.output and "Done." not in result.output
