"""Several datagov processes on one workspace: serialised, never corrupted."""

import json
import subprocess
import sys
import time

import pytest

from datagov.catalog.db import catalog_lock, open_catalog
from datagov.catalog.versions import version_history
from tests.conftest import run_datagov
from tests.test_crash_safety import INGEST, assert_consistent


def write_csv(path, n, offset=0):
    path.write_text("v,w\n" + "".join(f"{i + offset},{i * 2}\n" for i in range(n)))
    return path


def test_parallel_writers_all_land(ws, tmp_path):
    sources = [
        ("shared", write_csv(tmp_path / "s1.csv", 20_000)),
        ("shared", write_csv(tmp_path / "s2.csv", 20_000, offset=7)),
        ("alpha", write_csv(tmp_path / "a.csv", 30_000)),
        ("beta", write_csv(tmp_path / "b.csv", 10_000)),
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", INGEST, "--workspace", str(ws.root), "ingest", str(src), "--name", name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, src in sources
    ]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with open_catalog(ws) as con:
        shared = version_history(con, "shared")
        assert len(shared) == 2
        # one became the parent of the other: the version chain is intact
        assert {v.parent_digest for v in shared} == {None, shared[1].digest}
        assert con.execute("SELECT count(*) FROM versions").fetchone()[0] == 4
    assert_consistent(ws)


@pytest.mark.duckdb_file
def test_second_process_waits_for_the_lock(ws):
    with catalog_lock(ws):
        start = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-c", INGEST, "--workspace", str(ws.root), "datasets", "list", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)
        assert child.poll() is None  # still waiting
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert json.loads(out) == [] and time.monotonic() - start >= 1.0


@pytest.mark.duckdb_file
def test_lock_timeout_is_a_clear_error(ws):
    with catalog_lock(ws):
        proc = run_datagov("--workspace", ws.root, "datasets", "list", env={"DATAGOV_LOCK_TIMEOUT": "0.5"})
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        f"Error: the catalog at {ws.db_path} is busy: another datagov process held its lock for more than 0.5s"
    )


def test_a_postgres_writer_waits_for_the_writers_lock_then_fails_clearly(tmp_path, pg_database):
    """On PostgreSQL readers never wait; a writer waits for the writer holding
    the lock, at most [catalog] lock_timeout, then stops with one line."""
    import psycopg

    from datagov.catalog.postgres import WRITER_LOCK
    from datagov.layout import init_workspace
    from tests.conftest import use_postgres_catalog

    ws = use_postgres_catalog(init_workspace(tmp_path / "ws")[0].root, pg_database)
    assert run_datagov("--workspace", ws.root, "datasets", "list").returncode == 0  # migrated
    src = write_csv(tmp_path / "a.csv", 100)
    with psycopg.connect(pg_database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [WRITER_LOCK])
        reader = run_datagov("--workspace", ws.root, "datasets", "list", "--json")
        assert reader.returncode == 0 and json.loads(reader.stdout) == []  # reading does not wait
        start = time.monotonic()
        writer = run_datagov("--workspace", ws.root, "ingest", src, "--name", "a", env={"DATAGOV_LOCK_TIMEOUT": "1"})
        assert time.monotonic() - start >= 1.0
    assert writer.returncode == 1
    assert writer.stderr.startswith("Error: the catalog is busy: another datagov writer held it too long")
    assert "Traceback" not in writer.stderr
    assert run_datagov("--workspace", ws.root, "ingest", src, "--name", "a").returncode == 0  # and then it lands


@pytest.mark.slow
def test_eight_processes_mixing_every_kind_of_write_lose_nothing(ws):
    """8 processes at once: ingest (own and shared datasets), split, validate,
    audit and pretrain. Every command lands whole; the catalog, the store and
    the hash chain agree afterwards."""
    from bench.team_workload import prepare, run_workers
    from datagov.catalog import chain

    prepare(ws.root)
    outcomes = run_workers(ws.root, 8, pretrainers=2)
    failures = [f"{o.worker} {o.command}: {o.stderr}" for o in outcomes if o.returncode != 0]
    assert failures == []
    with open_catalog(ws) as con:
        shared = version_history(con, "shared")
        counts = dict(con.execute(
            "SELECT 'receipts', count(*) FROM receipts UNION ALL SELECT 'audits', count(*) FROM audits "
            "WHERE status = 'passed' UNION ALL SELECT 'runs', count(*) FROM runs WHERE status = 'finished'"
        ).fetchall())  # fmt: skip
        splits = con.execute("SELECT count(*) FROM versions WHERE dataset LIKE 'w_-_'").fetchone()[0]
        assert chain.verify(con) == []
    # 8 versions of one dataset, written at once: one unbroken chain of parents, none lost
    assert len(shared) == 8
    assert sorted(v.parent_digest or "" for v in shared) == sorted(["", *(v.digest for v in shared[1:])])
    assert splits == 16 and counts == {"receipts": 8, "audits": 8, "runs": 2}
    assert_consistent(ws)
