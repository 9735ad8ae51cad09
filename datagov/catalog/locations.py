"""The `locations` table: where a version's files are, when not in the local store.

`locate` is how every consumer finds a version's bytes: the manifest's
entries (from `files`) under the root recorded here, or under
`catalog/store/<digest>/` when there is no row (every version the local store
holds). A location belongs to one dataset's version, not to a digest: the
same bytes registered in place under two roots are verified where each
dataset's user said they are.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from datagov.catalog.rows import column_list, read
from datagov.catalog.team import who
from datagov.store.files import VersionFiles
from datagov.store.manifest import FileEntry
from datagov.workspace import Workspace

if TYPE_CHECKING:
    from datagov.catalog.db import Connection

STORED, IN_PLACE = "stored", "in-place"


def record_location(con: Connection, digest: str, dataset: str, root: str, mode: str, layout: str = "parquet") -> None:
    """Where `dataset`'s version `digest` lives (replacing where it lived: the user moved it)."""
    con.execute("DELETE FROM locations WHERE digest = ? AND dataset = ?", [digest, dataset])
    con.execute(
        "INSERT INTO locations (digest, dataset, root, mode, created, layout, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [digest, dataset, root, mode, datetime.now(UTC).replace(tzinfo=None), layout, who(con)],
    )


def location_of(con: Connection, digest: str, dataset: str) -> tuple[str, str, str] | None:
    """(root, mode, layout) of a dataset's version that is not in the local store."""
    rows = con.execute(
        "SELECT root, mode, layout FROM locations WHERE digest = ? AND dataset = ?", [digest, dataset]
    ).fetchall()
    return (rows[0][0], rows[0][1], rows[0][2] or "parquet") if rows else None


def stored_roots(con: Connection, digest: str) -> list[str | None]:
    """Where the store already holds these bytes for some version: a bucket
    prefix, or None for the local store (a version with no location row)."""
    rows = con.execute(
        "SELECT l.root FROM versions v LEFT JOIN locations l ON l.digest = v.digest AND l.dataset = v.dataset "
        "WHERE v.digest = ? AND (l.mode IS NULL OR l.mode = ?) ORDER BY l.root NULLS FIRST",
        [digest, STORED],
    ).fetchall()
    return [r[0] for r in rows]


def referenced_roots(con: Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT root FROM locations").fetchall()}


def file_entries(con: Connection, digest: str) -> list[FileEntry]:
    """A version's manifest rows (the `files` table), in path order."""
    return read(
        con.execute(f"SELECT {column_list(FileEntry)} FROM files WHERE digest = ? ORDER BY path", [digest]), FileEntry
    )


def locate(ws: Workspace, con: Connection, digest: str, dataset: str) -> VersionFiles:
    """A dataset's version's files, wherever its user put them."""
    found = location_of(con, digest, dataset)
    entries = tuple(file_entries(con, digest))
    if found is None:
        return VersionFiles(digest, str(ws.store_dir / digest), entries)
    root, mode, layout = found
    return VersionFiles(digest, root, entries, in_place=mode == IN_PLACE, layout=layout)
