from pathlib import Path

import pytest

from datagov.errors import NotAWorkspace
from datagov.layout import init_workspace
from datagov.workspace import find_workspace
from tests.conftest import Cli


def test_init_creates_layout_and_catalog(tmp_path: Path):
    ws, created = init_workspace(tmp_path / "new")
    assert created
    for sub in ("datagov.toml", "catalog", "catalog/store", "catalog/reports", "expectations", "pipelines"):
        assert (ws.root / sub).exists(), sub
    assert ws.db_path.is_file()
    again, created_again = init_workspace(tmp_path / "new")
    assert again.root == ws.root and not created_again


def test_find_walks_upward_and_honours_env(tmp_path: Path, monkeypatch):
    ws, _ = init_workspace(tmp_path / "w")
    deep = ws.root / "a" / "b"
    deep.mkdir(parents=True)
    assert find_workspace(start=deep).root == ws.root
    monkeypatch.setenv("DATAGOV_HOME", str(ws.root))
    assert find_workspace(start=tmp_path).root == ws.root


def test_not_a_workspace(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotAWorkspace):
        find_workspace()


def test_cli_not_a_workspace_is_one_error_line(tmp_path: Path, ws):
    bare = tmp_path / "bare"
    bare.mkdir()
    result = Cli(ws)("--workspace", bare, "datasets", "list", workspace=False)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"Error: not a datagov workspace: {bare} (no datagov.toml)"
    assert "Traceback" not in result.output


def test_cli_init(tmp_path: Path, ws):
    result = Cli(ws)("init", tmp_path / "fresh", workspace=False)
    assert result.exit_code == 0, result.output
    assert f"Created {tmp_path / 'fresh'}" in result.stdout
    assert (tmp_path / "fresh" / "catalog" / "catalog.duckdb").is_file()


def test_lock_timeout_setting(tmp_path: Path, monkeypatch):
    ws, _ = init_workspace(tmp_path / "w")
    assert ws.lock_timeout == 60
    monkeypatch.setenv("DATAGOV_LOCK_TIMEOUT", "2.5")
    assert ws.lock_timeout == 2.5


def test_init_writes_examples_that_datagov_reads(tmp_path):
    """The examples `init` leaves in pipelines/ and expectations/ load as written."""
    import json
    import re

    from datagov.layout import init_workspace
    from datagov.quality.suites import SuiteFile, build_suite
    from datagov.training.spec import PretrainSpec, TransferSpec, load_spec

    ws, _ = init_workspace(tmp_path / "ws")
    yaml_blocks = re.findall(r"```yaml\n(.*?)```", (ws.pipelines_dir / "README.md").read_text(), re.S)
    assert len(yaml_blocks) == 2
    for text, cls in zip(yaml_blocks, (PretrainSpec, TransferSpec), strict=True):
        (tmp_path / "spec.yaml").write_text(text)
        assert load_spec(tmp_path / "spec.yaml", [], cls).name
    [suite_text] = re.findall(r"```json\n(.*?)```", (ws.expectations_dir / "README.md").read_text(), re.S)
    (ws.expectations_dir / "photos-pretrain.json").write_text(suite_text)
    from datagov.quality.suites import load_suite

    suite = load_suite(ws, "photos-pretrain")
    assert isinstance(suite, SuiteFile) and len(build_suite(suite).expectations) == len(
        json.loads(suite_text)["expectations"]
    )
