"""The `caches` table: derived files (decoded pixels) and their digests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from datagov.catalog.rows import column_list, read, read_one
from datagov.catalog.versions import now

if TYPE_CHECKING:
    from datagov.catalog.db import Connection


@dataclass(frozen=True)
class CacheRecord:
    digest: str
    name: str
    sha256: str
    bytes: int


_COLUMNS = column_list(CacheRecord)


def cache_record(con: Connection, digest: str, name: str) -> CacheRecord | None:
    found = con.execute(f"SELECT {_COLUMNS} FROM caches WHERE digest = ? AND name = ?", [digest, name])
    return read_one(found, CacheRecord)


def caches_of(con: Connection, digest: str) -> list[CacheRecord]:
    return read(con.execute(f"SELECT {_COLUMNS} FROM caches WHERE digest = ? ORDER BY name", [digest]), CacheRecord)


def record_cache(con: Connection, record: CacheRecord) -> None:
    con.execute(
        "INSERT INTO caches (digest, name, sha256, bytes, created) VALUES (?, ?, ?, ?, ?) ON CONFLICT (digest, name) "
        "DO UPDATE SET sha256 = excluded.sha256, bytes = excluded.bytes, created = excluded.created",
        [record.digest, record.name, record.sha256, record.bytes, now()],
    )


def forget_cache(con: Connection, digest: str, name: str) -> None:
    con.execute("DELETE FROM caches WHERE digest = ? AND name = ?", [digest, name])
