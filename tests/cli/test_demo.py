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
    # `make demo` runs in the repository: the suites it rewrites must come out as committed, or a fresh
    # clone is left with modified files (the match suite names the split's digest, which moves with its bytes)
    changed = [s.name for s in (REPO / "expectations").glob("*.json")
               if (root / "expectations" / s.name).read_bytes() != s.read_bytes()]  # fmt: skip
    assert not changed, f"the demo rewrote {changed}: commit what it writes"
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


@pytest.mark.slow
def test_the_fashion_demo_runs_end_to_end_on_70_000_real_images(tmp_path):
    """`make demo-fashion`: Debian's Fashion-MNIST (which `make test` installs) through every gate,
    with near-duplicates removed before the split so no eval image has a near-copy elsewhere."""
    root = tmp_path / "ws"
    assert run_datagov("init", root).returncode == 0
    for spec in (REPO / "pipelines").glob("*.yaml"):
        shutil.copy(spec, root / "pipelines")
    done = run_in_terminal("--workspace", root, "demo", "--fashion", timeout=1800, cwd=tmp_path)
    assert done.returncode == 0, done.text[-4000:]
    assert "Traceback" not in done.text and "Error:" not in done.text
    assert "rows             │ 70,000" in done.text and "overlap between splits: none" in done.text
    assert done.text.count("CLEAN: 0 of") == 2  # eval against the fine-tuning and the pretraining data
    assert "PASSED fashion-finetune" in done.text and "Done." in done.text


def test_the_fashion_demo_names_the_package_it_needs(cli, monkeypatch):
    from datagov.cli import demo_cmd

    monkeypatch.setattr(demo_cmd, "FASHION", "/nonexistent/fashion-mnist")
    result = cli("demo", "--fashion")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: /nonexistent/fashion-mnist is missing")
    assert "apt-get install dataset-fashion-mnist" in result.stderr
