"""A version's manifest and digest: the schema and each file's hash, rows and size.

The digest is the same function of the manifest for every kind of version
(stored by datagov or registered in place), so a version is named by what it
holds, not by where it lives.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from datagov.errors import InvalidInput
from datagov.sql import sql_str

if TYPE_CHECKING:
    import duckdb

DIGEST_ALGO = "sha256"
CHUNK = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the version's location
    sha256: str
    rows: int
    bytes: int
    etag: str | None = None  # object stores only: what the store said the object was when hashed


@dataclass(frozen=True)
class Manifest:
    schema: list[dict]  # [{"name": ..., "type": ...}] in column order
    files: list[FileEntry]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def digest(self) -> str:
        """sha256 over the canonical JSON of schema and file hashes: the same
        content always yields the same digest, whatever its name or source.
        ETags are not part of it (a store's name for bytes, not the bytes)."""
        doc = {
            "schema": self.schema,
            "files": [[f.path, f.sha256, f.rows, f.bytes] for f in self.files],
        }
        canon = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()


def sha256_file(path: Path | str, chunk: int = CHUNK) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def parquet_facts(con: duckdb.DuckDBPyConnection, path: str) -> tuple[int, list[dict]]:
    """Row count and column types of one Parquet file, from its footer
    (types as DuckDB names them: the engine every check queries them with)."""
    quoted = sql_str(path)
    rows = con.execute(f"SELECT num_rows FROM parquet_file_metadata({quoted})").fetchall()[0][0]
    schema = [
        {"name": name, "type": type_}
        for name, type_, *_ in con.execute(f"DESCRIBE SELECT * FROM read_parquet({quoted})").fetchall()
    ]
    return rows, schema


def parquet_facts_of_bytes(con: duckdb.DuckDBPyConnection, data: bytes) -> tuple[int, list[dict]]:
    """`parquet_facts` of a Parquet file held in memory (the same DuckDB type names)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    rel = con.read_parquet(io.BytesIO(data))
    schema = [{"name": name, "type": str(type_)} for name, type_ in zip(rel.columns, rel.types, strict=True)]
    return pq.read_metadata(pa.BufferReader(data)).num_rows, schema


def build_manifest(folder: Path, con: duckdb.DuckDBPyConnection | None = None) -> Manifest:
    """Hash every Parquet file under `folder` (in parallel: hashlib releases
    the GIL); all must share one schema."""
    from concurrent.futures import ThreadPoolExecutor

    paths = sorted(folder.glob("*.parquet"))
    if not paths:
        raise InvalidInput(f"no Parquet files were written to {folder}")
    with ThreadPoolExecutor(min(len(paths), os.cpu_count() or 1)) as pool:
        pending = pool.map(sha256_file, paths)
        facts = _facts_of(paths, con)
        hashes = list(pending)
    schema = facts[0][1]
    for path, (_rows, doc) in zip(paths, facts, strict=True):
        if doc != schema:
            raise InvalidInput(f"{path.name} has a different schema from {paths[0].name}")
    return Manifest(
        schema=schema,
        files=[
            FileEntry(path.name, sha, rows, path.stat().st_size)
            for path, sha, (rows, _doc) in zip(paths, hashes, facts, strict=True)
        ],
    )


def _facts_of(paths: list[Path], con: duckdb.DuckDBPyConnection | None) -> list[tuple[int, list[dict]]]:
    own = con is None
    if con is None:
        import duckdb

        con = duckdb.connect()
    try:
        return [parquet_facts(con, str(path)) for path in paths]
    finally:
        if own:
            con.close()
