"""Content-addressed Parquet store.

A version's files are written to a private staging folder, hashed, and then
moved into `store/<digest>/` with one atomic rename while the catalog lock is
held. A process killed at any point leaves either nothing visible or a
staging folder / unreferenced store folder that the next writer removes.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from datagov.errors import InvalidInput
from datagov.sql import sql_str
from datagov.workspace import Workspace

DIGEST_ALGO = "sha256"


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the version folder
    sha256: str
    rows: int
    bytes: int


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
        content always yields the same digest, whatever its name or source."""
        doc = {
            "schema": self.schema,
            "files": [[f.path, f.sha256, f.rows, f.bytes] for f in self.files],
        }
        canon = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def build_manifest(folder: Path, con: duckdb.DuckDBPyConnection | None = None) -> Manifest:
    """Hash every Parquet file under `folder`; all must share one schema.

    Row counts and column types come from the Parquet footers through DuckDB
    (types as DuckDB names them: the engine every check queries them with).
    """
    paths = sorted(folder.glob("*.parquet"))
    if not paths:
        raise InvalidInput(f"no Parquet files were written to {folder}")
    files, schema = [], None
    own = con is None
    con = con or duckdb.connect()
    try:
        for path in paths:
            quoted = sql_str(str(path))
            rows = con.execute(f"SELECT num_rows FROM parquet_file_metadata({quoted})").fetchone()[0]
            doc = [
                {"name": name, "type": type_}
                for name, type_, *_ in con.execute(f"DESCRIBE SELECT * FROM read_parquet({quoted})").fetchall()
            ]
            if schema is None:
                schema = doc
            elif doc != schema:
                raise InvalidInput(f"{path.name} has a different schema from {paths[0].name}")
            files.append(FileEntry(path.name, sha256_file(path), rows, path.stat().st_size))
    finally:
        if own:
            con.close()
    return Manifest(schema=schema, files=files)


class LocalStore:
    """Where a workspace's version bytes live: one folder per digest under
    `catalog/store/`. The one place that turns a digest and a manifest into
    paths and into the DuckDB scan of a version (a second store, such as S3,
    implements the same methods)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.root = ws.store_dir

    def version_dir(self, digest: str) -> Path:
        return self.root / digest

    def file_paths(self, digest: str, names: list[str]) -> list[str]:
        return [str(self.version_dir(digest) / name) for name in names]

    def scan(self, digest: str, names: list[str], options: str = "") -> str:
        """`read_parquet([...])` of exactly the manifest's files: a file planted
        beside them is never read."""
        files = ", ".join(sql_str(path) for path in self.file_paths(digest, names))
        return f"read_parquet([{files}]{', ' + options if options else ''})"


def store_of(ws: Workspace) -> LocalStore:
    return LocalStore(ws)


def version_dir(ws: Workspace, digest: str) -> Path:
    return store_of(ws).version_dir(digest)


@contextmanager
def staging(ws: Workspace) -> Iterator[Path]:
    """A private folder for work in progress, removed unless moved away."""
    ws.tmp_dir.mkdir(parents=True, exist_ok=True)
    path = ws.tmp_dir / f"{os.getpid()}-{secrets.token_hex(6)}"
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def owned_folder(ws: Workspace, folder: Path) -> bool:
    """Is `folder` this workspace's own (a real folder inside its catalog/,
    not a link into another workspace)? Nothing else is ever swept or written."""
    if not folder.is_dir() or folder.is_symlink():
        return False
    return folder.resolve().parent == ws.catalog_dir.resolve()


def publish(ws: Workspace, folder: Path, digest: str, *, referenced: bool) -> Path:
    """Move a staged version into the store (call with the catalog lock held).

    A store folder that no catalog row references is debris from a killed
    process and is replaced; one that is `referenced` already holds these bytes.
    """
    if ws.store_dir.exists() and not owned_folder(ws, ws.store_dir):
        raise InvalidInput(
            f"{ws.store_dir} is a link or lies outside {ws.catalog_dir}; datagov writes only into its own store",
            hint="replace the link with a folder (each workspace keeps its own store)",
        )
    target = version_dir(ws, digest)
    if target.exists():
        if referenced:
            return target
        shutil.rmtree(target)
    ws.store_dir.mkdir(parents=True, exist_ok=True)
    os.replace(folder, target)
    return target


def duckdb_connection(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for data work, apart from the catalog file."""
    con = duckdb.connect(config={"threads": threads or os.cpu_count() or 1})
    con.execute("SET preserve_insertion_order = true")  # keeps output (and digests) deterministic
    return con
