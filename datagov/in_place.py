"""Registering existing shards where they are (`datagov ingest SOURCE --in-place`).

Nothing is copied: each shard of a local folder or an `s3://` prefix is read
once, hashed (sha256, size and, in a bucket, the ETag the store reported while
it was read) and its Parquet footer read for rows and column types. The
manifest, and so the digest, is the same function as for a stored version;
the catalog records the root (`locations`), and every later use verifies the
bytes as a stored version's are (a bucket's objects through a verified local
copy). `datasets verify` and `audit run` name shards changed, deleted or added
under the root since.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from datagov.errors import InvalidInput, SourceError
from datagov.store import FileEntry, Manifest, parquet_facts, s3, sha256_file, staging
from datagov.store.files import SHARD_SUFFIX
from datagov.store.manifest import parquet_facts_of_bytes
from datagov.workspace import Workspace

THREADS = 8  # shards read at once from a bucket: the network, not the CPU, is the limit
IN_MEMORY_SHARD = 256 << 20  # larger shards land in a scratch file while hashed (8 threads: at most 2 GiB held)


@dataclass(frozen=True)
class Shard:
    name: str  # relative to the root, '/'-separated
    size: int


def local_shards(root: Path) -> list[Shard]:
    """Every `.parquet` file under `root`, without following links (a link
    could point anywhere, and its target can change under the same name)."""
    if not root.is_dir():
        raise SourceError(f"not a folder: {root}", hint="--in-place registers a folder or an s3:// prefix of shards")
    shards = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(folder, d)))
        for name in sorted(names):
            if name.startswith(".") or not name.endswith(SHARD_SUFFIX):
                continue
            path = os.path.join(folder, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            _check_name(rel, root)
            if stat.S_ISLNK(st.st_mode):
                raise SourceError(f"{rel} under {root} is a symbolic link; in-place shards must be regular files")
            shards.append(Shard(rel, st.st_size))
    return shards


def remote_shards(root: s3.S3Url) -> list[Shard]:
    return [Shard(o.name, o.size) for o in s3.list_objects(root) if o.name.endswith(SHARD_SUFFIX)]


def _check_name(rel: str, root: object) -> None:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise SourceError(f"a shard under {root} has a name that is not UTF-8: {rel!r}") from None


def _local_entry(root: Path, shard: Shard, con) -> tuple[FileEntry, list[dict]]:
    import duckdb

    path = root / shard.name
    try:
        rows, schema = parquet_facts(con, str(path))
    except duckdb.Error as exc:
        raise SourceError(f"{shard.name} under {root} is not a readable Parquet file: {exc}") from None
    return FileEntry(shard.name, sha256_file(path), rows, path.stat().st_size), schema


def _remote_entry(root: s3.S3Url, shard: Shard, scratch: Path, con) -> tuple[FileEntry, list[dict]]:
    """Stream the object once, hashing it, and read its footer with DuckDB
    (the same reader, and type names, as every check): from memory for a
    shard up to IN_MEMORY_SHARD, else from a scratch file it lands in."""
    import duckdb

    url = root.child(shard.name)
    cursor = con.cursor()  # one per call: cheap, where a new database costs ~25 ms
    try:
        if shard.size <= IN_MEMORY_SHARD:
            blocks: list[bytes] = []
            sha, size, etag = s3.read_hashed(url, blocks.append)
            rows, schema = parquet_facts_of_bytes(cursor, b"".join(blocks))
        else:
            with tempfile.NamedTemporaryFile(dir=scratch, suffix=SHARD_SUFFIX) as tmp:
                sha, size, etag = s3.download_hashed(url, Path(tmp.name))
                rows, schema = parquet_facts(cursor, tmp.name)
    except (duckdb.Error, OSError, ValueError) as exc:
        if isinstance(exc, s3.StoreError):
            raise
        raise SourceError(f"{url} is not a readable Parquet file: {exc}") from None
    finally:
        cursor.close()
    return FileEntry(shard.name, sha, rows, size, etag), schema


def in_place_manifest(
    ws: Workspace, source: str, progress: Callable[[int], None] | None = None
) -> tuple[str, Manifest]:
    """(root, manifest) of the shards under `source`, all sharing one schema."""
    if s3.is_s3(source):
        root = s3.S3Url.parse(source)
        shards = remote_shards(root)
        where = str(root)
    else:
        path = Path(source).expanduser().resolve()
        catalog = ws.catalog_dir.resolve()
        if path == catalog or catalog in path.parents:
            raise InvalidInput(f"{path} is inside this workspace's catalog/; register data that datagov does not own")
        if path in catalog.parents:  # its walk would register the store's own files
            raise InvalidInput(
                f"{path} holds this workspace's catalog/", hint="register the folder of the shards themselves"
            )
        shards = local_shards(path)
        where = str(path)
    if not shards:
        raise SourceError(f"no {SHARD_SUFFIX} shards under {where}", hint="--in-place registers Parquet shards")
    results = _hash_all(ws, where, shards, progress)
    schema = results[0][1]
    for entry, doc in results[1:]:
        if doc != schema:
            raise SourceError(
                f"{entry.path} has a different schema from {results[0][0].path}",
                hint="register shards of one schema together (one dataset per schema)",
            )
    return where, Manifest(schema=schema, files=[entry for entry, _ in results])


def _hash_all(ws, where: str, shards: list[Shard], progress) -> list[tuple[FileEntry, list[dict]]]:
    import duckdb

    def tick(result):
        if progress:
            progress(1)
        return result

    con = duckdb.connect()
    try:
        if s3.is_s3(where):
            root = s3.S3Url.parse(where)
            with staging(ws) as scratch, ThreadPoolExecutor(THREADS) as pool:  # swept by pid if killed
                return list(pool.map(lambda s: tick(_remote_entry(root, s, scratch, con)), shards))
        return [tick(_local_entry(Path(where), shard, con)) for shard in shards]
    finally:
        con.close()
