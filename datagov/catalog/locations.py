"""The `locations` table: where a version's files are, when not in the local store.

`locate` is how every consumer finds a version's bytes: the manifest's
entries (from `files`) under the root recorded here, or under
`catalog/store/<digest>/` when there is no row (every version the local store
holds).
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from datagov.store.files import VersionFiles
from datagov.store.manifest import FileEntry
from datagov.workspace import Workspace

STORED, IN_PLACE = "stored", "in-place"


def record_location(
    con: duckdb.DuckDBPyConnection, digest: str, root: str, mode: str, layout: str = "parquet"
) -> None:
    con.execute(
        "INSERT OR IGNORE INTO locations (digest, root, mode, created, layout) VALUES (?, ?, ?, ?, ?)",
        [digest, root, mode, datetime.now(UTC).replace(tzinfo=None), layout],
    )


def location_of(con: duckdb.DuckDBPyConnection, digest: str) -> tuple[str, str, str] | None:
    """(root, mode, layout) of a version that is not in the local store."""
    rows = con.execute("SELECT root, mode, layout FROM locations WHERE digest = ?", [digest]).fetchall()
    return (rows[0][0], rows[0][1], rows[0][2] or "parquet") if rows else None


def referenced_roots(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT root FROM locations").fetchall()}


def file_entries(con: duckdb.DuckDBPyConnection, digest: str) -> list[FileEntry]:
    """A version's manifest rows (the `files` table), in path order."""
    rows = con.execute(
        "SELECT path, sha256, rows, bytes, etag FROM files WHERE digest = ? ORDER BY path", [digest]
    ).fetchall()
    return [FileEntry(*row) for row in rows]


def locate(ws: Workspace, con: duckdb.DuckDBPyConnection, digest: str) -> VersionFiles:
    """A version's files, wherever they are."""
    found = location_of(con, digest)
    entries = tuple(file_entries(con, digest))
    if found is None:
        return VersionFiles(digest, str(ws.store_dir / digest), entries)
    root, mode, layout = found
    return VersionFiles(digest, root, entries, in_place=mode == IN_PLACE, layout=layout)
