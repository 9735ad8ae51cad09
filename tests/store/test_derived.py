"""store.derived: every derived file (caches, reports, suites) is written
under the sweep's temporary name and renamed into place; a dead writer's
leftover is swept, a live one's is not."""

import os
import subprocess

import pytest

from datagov.catalog.db import open_catalog
from datagov.store.derived import TEMP_NAME, temporary_beside, write_text, written


def test_a_file_appears_whole_or_not_at_all(tmp_path):
    target = tmp_path / "reports" / "r.json"
    assert write_text(target, "{}") == target and target.read_text() == "{}"
    with pytest.raises(RuntimeError), written(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the writer failed")
    assert target.read_text() == "{}" and sorted(p.name for p in target.parent.iterdir()) == ["r.json"]
    assert TEMP_NAME.match(temporary_beside(target).name)[1] == str(os.getpid())


def test_the_sweep_removes_a_dead_writers_report_and_keeps_a_live_ones(ws):
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid now names no process
    ws.reports_dir.mkdir(parents=True, exist_ok=True)
    dead = ws.reports_dir / f".{gone.pid}-0badc0de-audit-a-1.html.tmp"
    live = temporary_beside(ws.reports_dir / "audit-a-2.html")
    for path in (dead, live):
        path.write_text("half")
    with open_catalog(ws) as con:
        pass  # a reader deletes nothing
    assert dead.exists()
    with open_catalog(ws, write=True) as con:
        assert con is not None
    assert not dead.exists() and live.exists()
