"""Where version bytes live: one `Store` interface, a local folder or a bucket.

- `manifest.py`: the manifest and digest of a version (the same for all stores);
- `local.py`: `LocalStore` (`catalog/store/<digest>/`, atomic rename) and staging;
- `object_store.py`: `S3Store` (writer-named prefixes, committed by the catalog);
- `files.py`: `VersionFiles`, one version's files wherever they are: checks
  by name, the DuckDB scan, verified local copies of remote objects;
- `s3.py`: the S3 client (pyarrow), configured from the AWS variables.

The catalog records where each version is (`catalog/locations.py`); this
package never reads the catalog.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from datagov.store.files import Mismatch, VersionFiles
from datagov.store.local import LocalStore, Staged, owned_folder, staging
from datagov.store.manifest import DIGEST_ALGO, FileEntry, Manifest, build_manifest, parquet_facts, sha256_file
from datagov.workspace import Workspace

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "DIGEST_ALGO",
    "FileEntry",
    "LocalStore",
    "Manifest",
    "Mismatch",
    "Staged",
    "Store",
    "VersionFiles",
    "build_manifest",
    "duckdb_connection",
    "owned_folder",
    "parquet_facts",
    "scan_memory",
    "sha256_file",
    "staged_version",
    "staging",
    "store_of",
]


class Store(Protocol):
    """What every store does; datagov writes versions only through these."""

    def stage(self, folder: Path, digest: str) -> Staged:
        """Make staged files ready to publish (an object store uploads them); no lock held."""

    def publish(self, staged: Staged, *, referenced: bool) -> str | None:
        """Make them the version's files, inside the catalog transaction;
        returns the location to record, or None when it follows from the digest."""

    def discard(self, staged: Staged) -> None:
        """Undo `stage`/`publish` when the transaction fails."""

    def sweep(self, pending: list[Staged], referenced_digests: set[str], referenced_roots: set[str]) -> list[str]:
        """Remove what the notes of killed writers name and no catalog row
        references; returns what was removed."""


def store_of(ws: Workspace) -> Store:
    """The store new versions of this workspace are written to."""
    if ws.store_url:
        from datagov.store.object_store import S3Store

        return S3Store(ws)
    return LocalStore(ws)


@contextmanager
def staged_version(ws: Workspace, folder: Path, digest: str) -> Iterator[Staged]:
    """Staged files made ready for the store; undone if the block fails
    (end the block right after the transaction that registers them)."""
    store = store_of(ws)
    staged = store.stage(folder, digest)
    try:
        yield staged
    except BaseException:
        store.discard(staged)
        raise


# What a scan of a whole version (split, profiles) lets DuckDB hold before it
# spills to disk: enough for 10M rows on a small machine. Raise it with
# DATAGOV_DUCKDB_MEMORY (DuckDB's syntax, e.g. "4GB") for very wide tables.
SCAN_MEMORY = "1GB"
# zstd level of image Parquet that DuckDB writes (split, select, erase): pyarrow's default,
# what image ingest writes. DuckDB's own (3) took twice the time for the same bytes
# (Fashion-MNIST: 132.8 MB vs 132.7 MB); tables keep it, as table ingest writes them.
IMAGE_ZSTD_LEVEL = 1
IMAGE_ROW_GROUP = 4096  # as image ingest writes them: the unit training shards stream
TABLE_ROW_GROUP = 122_880  # DuckDB's default


def parquet_options(modality: str) -> str:
    """COPY options for a version's Parquet that DuckDB writes, as ingest writes that modality."""
    if modality == "image":
        return (
            f"FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL {IMAGE_ZSTD_LEVEL}, ROW_GROUP_SIZE {IMAGE_ROW_GROUP}"
        )
    return f"FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {TABLE_ROW_GROUP}"


def scan_memory(default: str = SCAN_MEMORY) -> str:
    return os.environ.get("DATAGOV_DUCKDB_MEMORY") or default


def duckdb_connection(threads: int | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for data work, apart from the catalog file.
    `memory_limit` makes sorts, joins and windows spill to a private folder
    under the system's temp directory instead of growing with the data."""
    config: dict = {"threads": threads or os.cpu_count() or 1}
    if memory_limit:
        import tempfile

        config["memory_limit"] = memory_limit
        config["temp_directory"] = os.path.join(tempfile.gettempdir(), f"datagov-duckdb-{os.getpid()}")
    import duckdb  # here, not at import: a command that scans no data does not pay for it

    con = duckdb.connect(config=config)
    con.execute("SET preserve_insertion_order = true")  # keeps output (and digests) deterministic
    return con
