"""Opening the catalog under a process lock.

DuckDB lets one process at a time open a database file for writing, and fails
at once (not waits) when another holds it. So every command takes an
exclusive `flock` on `catalog/.lock` first, waiting up to the workspace's lock
timeout, and holds it only for short catalog work: long work (reading
sources, writing Parquet, hashing) happens before, outside the lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from datagov.catalog.migrations import migrate
from datagov.errors import LockTimeout
from datagov.workspace import Workspace

# Re-entrancy: a process that already holds the lock reuses its connection
# (flock on a second descriptor would wait for ourselves).
_held: dict[str, tuple[duckdb.DuckDBPyConnection, int]] = {}


@contextmanager
def catalog_lock(ws: Workspace) -> Iterator[None]:
    ws.catalog_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(ws.catalog_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + ws.lock_timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"the catalog at {ws.db_path} is busy: another datagov process "
                        f"held its lock for more than {ws.lock_timeout:g}s",
                        hint="wait for it to finish, or raise [catalog] lock_timeout "
                        "in datagov.toml (or DATAGOV_LOCK_TIMEOUT)",
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


@contextmanager
def open_catalog(ws: Workspace, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the workspace catalog, migrated, held under the lock.

    `write` is documentation for readers of the call site: every connection
    is read-write because DuckDB cannot mix read-only and read-write openers
    across processes; the lock serialises them instead.
    """
    key = str(ws.db_path)
    if key in _held:
        con, depth = _held[key]
        _held[key] = (con, depth + 1)
        try:
            yield con
        finally:
            con, depth = _held[key]
            _held[key] = (con, depth - 1)
        return
    with catalog_lock(ws):
        con = duckdb.connect(key)
        _held[key] = (con, 1)
        try:
            migrate(con)
            sweep(ws, con)
            yield con
        finally:
            del _held[key]
            con.close()  # an unclosed DuckDB 2.0 connection prints leak warnings at exit


_in_transaction: set[int] = set()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, or ROLLBACK on any exception. Nested use joins the
    outer transaction, so a caller can make several registrations atomic."""
    if id(con) in _in_transaction:
        yield con
        return
    con.execute("BEGIN TRANSACTION")
    _in_transaction.add(id(con))
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        _in_transaction.discard(id(con))
    con.execute("COMMIT")


def pid_alive(pid: int) -> bool:
    """Is a process with this id running on this machine?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(ws: Workspace, con: duckdb.DuckDBPyConnection) -> list[str]:
    """Remove what killed processes left behind; called with the lock held.

    - staging folders (`tmp/<pid>-<token>`) of processes that are gone;
    - store folders no catalog row references: a process killed between the
      store rename and COMMIT. Holding the lock, no live writer is in that
      window, so every unreferenced folder is debris.
    """
    removed = []
    if ws.tmp_dir.is_dir():
        for entry in ws.tmp_dir.iterdir():
            pid_text = entry.name.split("-", 1)[0]
            if pid_text.isdigit() and int(pid_text) != os.getpid() and not pid_alive(int(pid_text)):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(f"tmp/{entry.name}")
    if ws.store_dir.is_dir():
        on_disk = {p.name for p in ws.store_dir.iterdir() if p.is_dir()}
        if on_disk:
            known = {r[0] for r in con.execute("SELECT DISTINCT digest FROM files").fetchall()}
            for name in sorted(on_disk - known):
                shutil.rmtree(ws.store_dir / name, ignore_errors=True)
                removed.append(f"store/{name}")
    return removed
