"""Files users name: checked before work, written whole or not at all."""

import pytest

from datagov.errors import InvalidInput
from datagov.outputs import check_writable, write_atomic


def test_check_writable_makes_no_folder_and_leaves_nothing(ws, tmp_path):
    target = tmp_path / "new" / "a" / "report.html"
    assert check_writable(target, ws) == target
    assert not (tmp_path / "new").exists()  # folders come with the write, after the command succeeded


@pytest.mark.parametrize(
    "where, says",
    [
        ("/proc/version/x.html", "/proc/version is not a folder"),
        (".", "it is a folder"),
        ("/dev/full", "not a regular"),
    ],
)
def test_check_writable_refuses(ws, where, says):
    with pytest.raises(InvalidInput, match=says):
        check_writable(where, ws)


@pytest.mark.parametrize(
    "inside", ["catalog/catalog.duckdb", "catalog/reports/r.html", "datagov.toml", "expectations/s.json"]
)
def test_the_workspace_state_is_never_an_output(ws, inside):
    with pytest.raises(InvalidInput, match="inside the workspace's own state"):
        check_writable(ws.root / inside, ws)


def test_catalog_exports_is_where_outputs_may_go(ws):
    target = ws.catalog_dir / "exports" / "card.md"
    assert check_writable(target, ws) == target
    write_atomic(target, "card")
    assert target.read_text() == "card"


def test_a_failed_command_leaves_no_folder(cli, tmp_path):
    result = cli("models", "card", "ghost", "--out", tmp_path / "new" / "a" / "b" / "card.md")
    assert result.exit_code == 1
    assert not (tmp_path / "new").exists()


def test_a_failed_write_removes_the_folders_it_made(tmp_path):
    with pytest.raises(InvalidInput, match="cannot write"):
        write_atomic(tmp_path / "new" / "a" / ("x" * 300), "data")  # the folders can be made, the file cannot
    assert list(tmp_path.iterdir()) == []
