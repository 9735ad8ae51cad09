"""Registering existing shards where they are (`datagov ingest SOURCE --in-place`).

Nothing is copied: each shard of a local folder or an `s3://` prefix is read
once, hashed (sha256, size and, in a bucket, the ETag the store reported while
it was read) and, for Parquet, its footer read for rows and column types; for
WebDataset tar shards, the samples are counted from the member names and the
schema is the image layout they are rendered into when used. The
manifest, and so the digest, is the same function as for a stored version;
the catalog records the root (`locations`), and every later use verifies the
bytes as a stored version's are (a bucket's objects through a verified local
copy). `datasets verify` and `audit run` name shards changed, deleted or added
under the root since.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from datagov.errors import InvalidInput, SourceError
from datagov.store import FileEntry, Manifest, parquet_facts, s3, sha256_file, staging
from datagov.store.files import SHARD_SUFFIXES
from datagov.store.manifest import parquet_facts_of_bytes
from datagov.store.shards import Shard, ShardSet, local_shards, remote_shards
from datagov.workspace import Workspace

THREADS = 8  # shards read at once from a bucket: the network, not the CPU, is the limit
IN_MEMORY_SHARD = 256 << 20  # larger shards land in a scratch file while hashed (8 threads: at most 2 GiB held)


@dataclass(frozen=True)
class InPlace:
    """What registering shards in place found."""

    root: str
    layout: str  # parquet | webdataset
    manifest: Manifest
    labelled: bool = False  # webdataset: the samples carry labels


def _parquet_entry(shards: ShardSet, shard: Shard, scratch: Path, con) -> tuple[FileEntry, list[dict]]:
    """Hash a Parquet shard and read its footer with DuckDB (the same reader,
    and type names, as every check): a local file directly; an object streamed
    once, from memory up to IN_MEMORY_SHARD, else from a scratch file."""
    import duckdb

    cursor = con.cursor()  # one per call: cheap, where a new database costs ~25 ms
    try:
        if not shards.remote:
            path = Path(shards.root) / shard.name
            rows, schema = parquet_facts(cursor, str(path))
            return FileEntry(shard.name, sha256_file(path), rows, path.stat().st_size), schema
        url = s3.S3Url.parse(shards.root).child(shard.name)
        if shard.size <= IN_MEMORY_SHARD:
            blocks: list[bytes] = []
            sha, size, etag = s3.read_hashed(url, blocks.append)
            rows, schema = parquet_facts_of_bytes(cursor, b"".join(blocks))
        else:
            with tempfile.NamedTemporaryFile(dir=scratch, suffix=".parquet") as tmp:
                sha, size, etag = s3.download_hashed(url, Path(tmp.name))
                rows, schema = parquet_facts(cursor, tmp.name)
    except (duckdb.Error, OSError, ValueError) as exc:
        if isinstance(exc, s3.StoreError):
            raise
        where = f"{shard.name} under {shards.root}"
        if shards.remote:
            where = str(s3.S3Url.parse(shards.root).child(shard.name))
        raise SourceError(f"{where} is not a readable Parquet file: {exc}") from None
    finally:
        cursor.close()
    return FileEntry(shard.name, sha, rows, size, etag), schema


def _tar_entry(shards: ShardSet, shard: Shard) -> tuple[FileEntry, bool]:
    """Hash a tar shard as it streams past and count its samples from the
    member names: no image is decoded at registration."""
    from datagov.store.images.webdataset import count_shard

    if shards.remote:
        url = s3.S3Url.parse(shards.root).child(shard.name)
        # buffered: the tar reader asks for 10 KB at a time, each of which would be a request
        with (
            s3.store_errors(f"cannot read {url}"),
            s3.filesystem().open_input_stream(url.path, buffer_size=s3.CHUNK) as fh,
        ):
            etag = fh.metadata().get("ETag", b"").decode().strip('"')
            tee = s3.Md5Tee(fh)
            counted = count_shard(tee, shard.name, shard.size)
        s3.require_one_object(url, etag, tee.md5.hexdigest())
    else:
        fd = os.open(os.path.join(shards.root, shard.name), os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            counted, etag = count_shard(fh, shard.name, shard.size), None
    return FileEntry(shard.name, counted.sha256, counted.samples, counted.size, etag), counted.labelled


def find_in_place(ws: Workspace, source: str, layout: str) -> tuple[ShardSet, str]:
    """The shards under a folder or s3:// prefix, and their layout (`auto`:
    Parquet shards if there are any, else tar shards)."""
    suffixes = tuple(SHARD_SUFFIXES.values()) if layout == "auto" else (SHARD_SUFFIXES[layout],)
    if s3.is_s3(source):
        root = s3.S3Url.parse(source)
        shards = ShardSet(str(root), remote_shards(root, suffixes))
    else:
        path = Path(source).expanduser().resolve()
        catalog = ws.catalog_dir.resolve()
        if path == catalog or catalog in path.parents:
            raise InvalidInput(f"{path} is inside this workspace's catalog/; register data that datagov does not own")
        if path in catalog.parents:  # its walk would register the store's own files
            raise InvalidInput(
                f"{path} holds this workspace's catalog/", hint="register the folder of the shards themselves"
            )
        shards = ShardSet(str(path), local_shards(path, suffixes))
    if not shards.shards and s3.is_s3(source) and (why := s3.explain_empty(s3.S3Url.parse(source))):
        raise SourceError(f"cannot read {source}: {why}")
    if not shards.shards:
        raise SourceError(
            f"no {' or '.join(suffixes)} shards under {shards.root}",
            hint="--in-place registers Parquet shards or WebDataset .tar shards",
        )
    if layout == "auto":
        layout = "parquet" if any(s.name.endswith(SHARD_SUFFIXES["parquet"]) for s in shards.shards) else "webdataset"
        suffix = SHARD_SUFFIXES[layout]
        shards = ShardSet(shards.root, [s for s in shards.shards if s.name.endswith(suffix)])
    return shards, layout


def in_place_manifest(
    ws: Workspace, source: str, layout: str = "auto", progress: Callable[[int], None] | None = None
) -> InPlace:
    """The manifest of the shards under `source`, all sharing one schema."""
    shards, layout = find_in_place(ws, source, layout)
    if layout == "webdataset":
        return _tar_manifest(shards, progress)
    results = _hash_all(ws, shards, progress)
    schema = results[0][1]
    for entry, doc in results[1:]:
        if doc != schema:
            raise SourceError(
                f"{entry.path} has a different schema from {results[0][0].path}",
                hint="register shards of one schema together (one dataset per schema)",
            )
    return InPlace(shards.root, layout, Manifest(schema=schema, files=[entry for entry, _ in results]))


def _tar_manifest(shards: ShardSet, progress) -> InPlace:
    from datagov.store.images.writer import image_schema_doc

    results = _in_threads(shards, lambda s: _tar_entry(shards, s), progress)
    labelled = results[0][1]
    for entry, flag in results[1:]:
        if flag != labelled:
            raise SourceError(
                f"{entry.path} {'has' if flag else 'lacks'} labels where {results[0][0].path} "
                f"{'has' if labelled else 'lacks'} them",
                hint="register labelled and unlabelled shards as two datasets",
            )
    manifest = Manifest(schema=image_schema_doc(labelled), files=[entry for entry, _ in results])
    return InPlace(shards.root, "webdataset", manifest, labelled)


def _in_threads(shards: ShardSet, work: Callable, progress) -> list:
    def tick(shard):
        result = work(shard)
        if progress:
            progress(1)
        return result

    if not shards.remote:
        return [tick(shard) for shard in shards.shards]
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(tick, shards.shards))


def _hash_all(ws, shards: ShardSet, progress) -> list[tuple[FileEntry, list[dict]]]:
    import duckdb

    con = duckdb.connect()
    try:
        with staging(ws) as scratch:  # swept by pid if killed
            return _in_threads(shards, lambda s: _parquet_entry(shards, s, scratch, con), progress)
    finally:
        con.close()
