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
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from datagov.catalog.migrations import migrate
from datagov.catalog.postgres import PgConnection
from datagov.errors import DatagovError, LockTimeout, PermissionDenied, first_line
from datagov.processes import process_gone
from datagov.store import LocalStore, owned_folder, store_of
from datagov.store.derived import TEMP_NAME
from datagov.store.local import DIGEST_NAME, PENDING_NAME, read_pending
from datagov.workspace import Workspace

if TYPE_CHECKING:
    import duckdb

# A catalog connection: DuckDB's own, or the PostgreSQL wrapper that speaks
# the same `execute(sql, params)`. DuckDB is imported only where the file is
# opened: a team's command does not pay for it.
Connection: TypeAlias = "duckdb.DuckDBPyConnection | PgConnection"

# Re-entrancy: a thread that already holds the lock reuses its connection
# (flock on a second descriptor would wait for ourselves). Per thread: the
# web desk serves requests on several, and a connection is not for sharing;
# another thread waits for the lock as another process would.
_local = threading.local()


def _held() -> dict[str, tuple[Connection, int]]:
    if not hasattr(_local, "held"):
        _local.held = {}
    return _local.held


def is_postgres(con: Connection) -> bool:
    return isinstance(con, PgConnection)


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
def open_catalog(ws: Workspace, write: bool = False) -> Iterator[Connection]:
    """A connection to the workspace catalog, migrated.

    The DuckDB file is held under the lock: every connection is read-write
    because DuckDB cannot mix read-only and read-write openers across
    processes, so the lock serialises them instead. PostgreSQL needs no file
    lock: its writers serialise per transaction (`catalog/postgres.py`).
    `write` marks a writer: only writers sweep debris, so a read-only command
    never deletes anything; on PostgreSQL a writer also holds the writers'
    lock while it is open, as it holds the file lock on DuckDB, so what it
    reads before writing (a dataset's newest version) is still true when it writes.
    """
    key = ws.catalog_url or str(ws.db_path)
    held = _held()
    if key in held:
        con, depth = held[key]
        held[key] = (con, depth + 1)
        try:
            yield con
        finally:
            con, depth = held[key]
            held[key] = (con, depth - 1)
        return
    with nullcontext() if ws.catalog_url else catalog_lock(ws):
        con = _connect(ws)
        held[key] = (con, 1)
        try:
            if write and isinstance(con, PgConnection):
                con.hold_writer_lock()
            _migrate(ws, con)
            if write:
                sweep(ws, con)
            close_dead_runs(ws, con)  # a status, not a deletion: every command may do it
            yield con
        finally:
            del held[key]
            con.close()  # an unclosed DuckDB 2.0 connection prints leak warnings at exit


def _unreadable(ws: Workspace, exc: duckdb.Error) -> DatagovError:
    first = first_line(exc)
    return DatagovError(
        f"the catalog {ws.db_path} cannot be read: {first}",
        hint=f"restore it (and {ws.db_path.name}.wal, if any) from a backup; datagov does not repair a catalog. "
        f"To start an empty one, move it aside: mv {ws.db_path} {ws.db_path}.broken",
    )


def _connect(ws: Workspace) -> Connection:
    if ws.catalog_url:
        return PgConnection(ws.catalog_url, ws.lock_timeout)
    import duckdb

    try:
        return duckdb.connect(str(ws.db_path))
    except duckdb.Error as exc:
        raise _unreadable(ws, exc) from None


def _migrate(ws: Workspace, con: Connection) -> None:
    if is_postgres(con):
        migrate(con, ws.catalog_name)
        return
    import duckdb

    try:
        migrate(con, ws.catalog_name)
    except duckdb.Error as exc:
        raise _unreadable(ws, exc) from None


_in_transaction: set[int] = set()


@contextmanager
def transaction(con: Connection) -> Iterator[Connection]:
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


STAGING_NAME = re.compile(r"^(\d+)-[0-9a-f]{12}$")


def sweep(ws: Workspace, con: Connection) -> list[str]:
    """Remove what killed processes left behind; called by writers with the lock held.

    Only what datagov itself makes, by its own naming, in folders that are
    this workspace's own:
    - staging folders (`tmp/<pid>-<token>`) of processes that are gone;
    - what the store holds that no catalog row references (its `sweep`:
      digest folders of the local store, writer-named prefixes of a bucket);
    - half-written cache files (`cache/<digest>/.<pid>-....tmp`) and reports of dead processes.
    """
    removed = []
    if owned_folder(ws, ws.tmp_dir):
        pending = []
        for entry in sorted(ws.tmp_dir.iterdir()):
            if (m := PENDING_NAME.match(entry.name)) and process_gone(int(m[1])) and entry.is_file():
                if (staged := read_pending(entry)) is not None:
                    pending.append(staged)
                else:
                    entry.unlink()  # not a note datagov wrote
            elif (m := STAGING_NAME.match(entry.name)) and process_gone(int(m[1])) and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(f"tmp/{entry.name}")
        if pending:
            from datagov.catalog.locations import referenced_roots

            digests = {r[0] for r in con.execute("SELECT DISTINCT digest FROM files").fetchall()}
            roots = referenced_roots(con)
            removed += LocalStore(ws).sweep([p for p in pending if p.remote is None], digests, roots)
            if ws.store_url:
                removed += store_of(ws).sweep([p for p in pending if p.remote is not None], digests, roots)
            for staged in pending:
                staged.pending.unlink(missing_ok=True)
    if owned_folder(ws, ws.reports_dir):  # a report writer that died mid-write
        removed += _dead_writers_temps(ws.reports_dir, "reports")
    if owned_folder(ws, ws.cache_dir):
        for folder in ws.cache_dir.iterdir():
            if DIGEST_NAME.match(folder.name) and not folder.is_symlink() and folder.is_dir():
                removed += _dead_writers_temps(folder, f"cache/{folder.name}")
    return removed


def _dead_writers_temps(folder: Path, shown: str) -> list[str]:
    """Remove `store.derived` temporary files in `folder` whose writer's pid is gone."""
    removed = []
    for entry in folder.iterdir():
        m = TEMP_NAME.match(entry.name)
        if m and process_gone(int(m[1])) and entry.is_file() and not entry.is_symlink():
            entry.unlink(missing_ok=True)
            removed.append(f"{shown}/{entry.name}")
    return removed


def close_dead_runs(ws: Workspace, con: Connection) -> list[str]:
    """Training runs still `running` whose process on this host is gone are
    marked `interrupted` (as audits are). The catalog does not talk to MLflow:
    `tracking.configure` ends such runs there, whenever datagov next uses it."""
    from datagov.catalog.runs import mark_interrupted, running_runs

    dead = [run_id for run_id, pid, host in running_runs(con) if pid is not None and process_gone(pid, host)]
    for run_id in dead:
        try:
            mark_interrupted(con, run_id)
        except PermissionDenied:  # a reader's role may not; the next engineer's command will
            return []
    return dead
