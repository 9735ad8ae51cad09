"""A version another process is reading is not deleted under it: purge,
delete and gc refuse (or keep it) by name, and go ahead once it has finished."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import set_setting
from tests.lifecycle.test_gc import five_versions  # noqa: F401  (the same five versions)


@pytest.fixture
def reader(ws):
    """A process that reads a version (holds its lease) until told to stop."""
    procs = []

    def start(digest: str) -> subprocess.Popen:
        code = (
            "import sys\nfrom pathlib import Path\nfrom datagov.workspace import load_workspace\n"
            "from datagov.store.leases import hold_read_lease\n"
            f"hold_read_lease(load_workspace(Path({str(ws.root)!r})), {digest!r})\nprint('reading', flush=True)\n"
            "sys.stdin.readline()\n"
        )
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "reading"
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def test_a_version_being_read_is_not_deleted_until_the_reader_is_done(cli, ws, five_versions, reader):  # noqa: F811
    oldest = five_versions[-1]
    training = reader(oldest)
    refused = cli("datasets", "delete", f"t@{oldest[:12]}", "--reason", "cleanup")
    assert refused.exit_code == 1 and "another datagov process is reading version(s)" in refused.stderr
    assert "nothing was deleted" in refused.stderr
    set_setting(ws.root, "retention", "keep_versions", "4")
    kept = cli("gc")
    assert (
        kept.exit_code == 0
        and f"kept t@{oldest[:12]}: past retention, but another process is reading it" in kept.stdout
    )
    training.stdin.write("done\n")
    training.stdin.flush()
    training.wait(timeout=30)
    assert f"deleted t@{oldest[:12]}" in cli("gc").stdout
