"""The `caches` table: derived files (decoded pixels) and their digests."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from datagov.catalog.versions import now


@dataclass(frozen=True)
class CacheRecord:
    digest: str
    name: str
    sha256: str
    bytes: int


def cache_record(con: duckdb.DuckDBPyConnection, digest: str, name: str) -> CacheRecord | None:
    row = con.execute(
        "SELECT digest, name, sha256, bytes FROM caches WHERE digest = ? AND name = ?", [digest, name]
    ).fetchone()
    return CacheRecord(*row) if row else None


def caches_of(con: duckdb.DuckDBPyConnection, digest: str) -> list[CacheRecord]:
    rows = con.execute("SELECT digest, name, sha256, bytes FROM caches WHERE digest = ? ORDER BY name", [digest])
    return [CacheRecord(*r) for r in rows.fetchall()]


def record_cache(con: duckdb.DuckDBPyConnection, record: CacheRecord) -> None:
    con.execute(
        "INSERT OR REPLACE INTO caches VALUES (?, ?, ?, ?, ?)",
        [record.digest, record.name, record.sha256, record.bytes, now()],
    )


def forget_cache(con: duckdb.DuckDBPyConnection, digest: str, name: str) -> None:
    con.execute("DELETE FROM caches WHERE digest = ? AND name = ?", [digest, name])
