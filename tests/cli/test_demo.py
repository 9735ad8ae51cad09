"""`datagov demo`, the README's main job, end to end in a fresh workspace, as a user runs it."""

import shutil

import pytest

from tests.conftest import REPO, run_datagov


@pytest.mark.slow
def test_the_demo_runs_end_to_end_twice_in_a_fresh_workspace(tmp_path):
    root = tmp_path / "ws"
    assert run_datagov("init", root).returncode == 0
    for spec in (REPO / "pipelines").glob("*.yaml"):
        shutil.copy(spec, root / "pipelines")
    for suite in (REPO / "expectations").glob("*.json"):
        shutil.copy(suite, root / "expectations")
    first = run_datagov("--workspace", root, "demo", timeout=1200)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "Traceback" not in first.stderr and "Error:" not in first.stderr
    assert "Done." in first.stdout and "Registered" in first.stdout
    assert (root / "catalog" / "exports" / "digits-finetune.croissant.json").is_file()
    again = run_datagov("--workspace", root, "demo", timeout=1200)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "unchanged" in again.stdout  # the data steps change nothing the second time
