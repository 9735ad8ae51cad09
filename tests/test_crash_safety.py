"""SIGKILL at the moments that matter leaves nothing half-written.

Real child processes; `DATAGOV_FAULT` makes one kill itself at a named point,
and a second test kills ingests at staggered wall-clock moments.
"""

import signal
import subprocess
import sys
import time

import pytest

from datagov.catalog.db import open_catalog
from datagov.catalog.locations import locate
from datagov.verify import check_files
from tests.conftest import catalog_counts, make_image_folder, run_datagov, store_folders, tmp_entries

INGEST = "from datagov.cli.app import main; main()"


def assert_consistent(ws):
    """Every cataloged version has exactly its files; nothing else is stored."""
    with open_catalog(ws, write=True) as con:  # a writer opening the catalog sweeps debris
        held = con.execute("SELECT DISTINCT digest, dataset FROM versions").fetchall()
        digests = list(dict.fromkeys(digest for digest, _ in held))
        for digest, dataset in held:
            files = locate(ws, con, digest, dataset)
            assert files.entries, f"version {digest[:12]} has no files rows"
            assert check_files(files) == []
        orphans = con.execute(
            "SELECT count(*) FROM files WHERE digest NOT IN (SELECT digest FROM versions)"
        ).fetchone()[0]
        assert orphans == 0
    assert sorted(store_folders(ws)) == sorted(digests)
    assert tmp_entries(ws) == []


@pytest.mark.parametrize("point", ["ingest:staged", "images:row-group", "register:published"])
def test_kill_at_fault_point_then_rerun(ws, point):
    proc = run_datagov(
        "--workspace", ws.root, "ingest", "sklearn:digits", "--name", "digits", env={"DATAGOV_FAULT": point}
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    listing = run_datagov("--workspace", ws.root, "datasets", "list")
    assert listing.returncode == 0 and "No datasets yet" in listing.stdout
    assert catalog_counts(ws) == {"datasets": 0, "versions": 0, "files": 0, "rejects": 0, "lineage": 0}
    assert_consistent(ws)
    again = run_datagov("--workspace", ws.root, "ingest", "sklearn:digits", "--name", "digits")
    assert again.returncode == 0, again.stderr
    assert catalog_counts(ws)["versions"] == 1
    assert_consistent(ws)


def test_kill_during_split_commits_no_child(ws):
    assert run_datagov("--workspace", ws.root, "ingest", "sklearn:digits", "--name", "digits").returncode == 0
    proc = run_datagov(
        "--workspace", ws.root, "split", "digits", "--into", "a=0.5,b=0.5", env={"DATAGOV_FAULT": "register:published"}
    )
    assert proc.returncode == -signal.SIGKILL
    assert catalog_counts(ws)["versions"] == 1  # the parent alone: no partial set of children
    assert_consistent(ws)


@pytest.mark.slow
def test_kill_at_staggered_moments(ws, tmp_path):
    root = make_image_folder(tmp_path / "imgs", per_class=1500, size=(16, 16))
    delays = [0.3, 0.8, 1.5, 2.5, 4.0]
    for i, delay in enumerate(delays):
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                INGEST,
                "--workspace",
                str(ws.root),
                "ingest",
                str(root),
                "--name",
                "pets",
                "--workers",
                "2",
                "--no-progress",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        # forkserver workers notice their parent died; give them a moment
        time.sleep(0.2)
        assert_consistent(ws)
        if i == 0:
            assert catalog_counts(ws)["versions"] == 0
    done = run_datagov("--workspace", ws.root, "ingest", root, "--name", "pets", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert catalog_counts(ws)["versions"] == 1
    assert_consistent(ws)
