"""Files users name: checked before work, written whole or not at all."""

import pytest

from datagov.errors import InvalidInput
from datagov.outputs import check_writable, write_atomic


def test_check_writable_creates_the_folder_and_leaves_nothing(tmp_path):
    target = tmp_path / "new" / "report.html"
    assert check_writable(target) == target
    assert list((tmp_path / "new").iterdir()) == []


@pytest.mark.parametrize("where, says", [("/proc/version/x.html", "cannot write"), (".", "it is a folder")])
def test_check_writable_refuses(where, says):
    with pytest.raises(InvalidInput, match=says):
        check_writable(where)


def test_write_atomic_replaces_whole_and_a_failure_leaves_nothing(tmp_path):
    target = tmp_path / "a.txt"
    write_atomic(target, "one")
    write_atomic(target, b"two")
    assert target.read_text() == "two"
    with pytest.raises(InvalidInput, match="cannot write"):
        write_atomic(tmp_path / "missing" / "x.txt", "data")  # the folder is gone: nothing is left anywhere
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
