"""Decoded pixels, kept once per version so later epochs and runs skip decoding.

Small images are cheap to store and expensive to decode: an 8x8 digit is 64
bytes of pixels but tens of microseconds of PNG decoding, which on a 2-core
machine starves the model. The first training on a version decodes it once
(row groups in order, with the one decoder ingest also uses) into
`catalog/cache/<digest>/pixels-CxHxW.u8`, raw uint8 in row order; the stream
then gathers batches from it through a memory map.

The cache is derived data a user can replace, so it is never trusted by
name: it is built only from Parquet bytes hashed as they are read (each file
is read whole, hashed, compared with the manifest, then decoded from that
same buffer), its own sha256 is recorded in the catalog (`caches`), and it is
re-hashed before every use; a file that differs is rebuilt. It is written
under a temporary name carrying the writer's pid and renamed, so a killed
process leaves at most a `.tmp` file that the next writer sweeps. Versions
whose pixels would exceed `MAX_BYTES` are decoded on the fly.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

from datagov.catalog.caches import CacheRecord, cache_record, forget_cache, record_cache
from datagov.catalog.db import open_catalog
from datagov.errors import IntegrityError
from datagov.pixels.shape import ImageShape
from datagov.store import sha256_file
from datagov.store.derived import cache_file, written
from datagov.store.files import read_verified
from datagov.training.inputs import ImageInput
from datagov.workspace import Workspace

MAX_BYTES = 8 << 30
# Caches up to this size are read into memory once, hashed as read, and
# trained from there: nothing on disk can change them afterwards, and
# gathering a batch in-process beats handing it over from a loader worker.
IN_MEMORY_BYTES = 2 << 30


def cache_name(shape: ImageShape) -> str:
    return f"pixels-{shape}.u8"


def cache_path(ws: Workspace, data: ImageInput) -> Path:
    return cache_file(ws, data.version.digest, cache_name(data.shape))


def ensure_pixels(ws: Workspace, data: ImageInput) -> str | np.ndarray | None:
    """The verified decoded pixels of this version (built now if missing or
    changed): in memory up to IN_MEMORY_BYTES, else the file's path; None
    when they would be larger than MAX_BYTES."""
    size = data.version.rows * data.shape.numel
    if size > MAX_BYTES:
        return None
    path, name = cache_path(ws, data), cache_name(data.shape)
    with open_catalog(ws) as con:
        record = cache_record(con, data.version.digest, name)
    intact = record is not None and path.is_file() and path.stat().st_size == record.bytes == size
    if intact and record is not None and (pixels := verified_pixels(path, record.sha256, size)) is not None:
        return pixels
    if record and path.is_file():
        print(f"warning: {path.relative_to(ws.root)} differs from its recorded sha256; rebuilding it", file=sys.stderr)
    sha = build_pixels(data.files, data.shape, path, expected=size, sha256s=data.sha256s)
    with open_catalog(ws, write=True) as con:
        forget_cache(con, data.version.digest, name)
        record_cache(con, CacheRecord(data.version.digest, name, sha, size))
    pixels = verified_pixels(path, sha, size)
    if pixels is None:
        raise IntegrityError(f"{path.name} changed while it was being written", hint="is another process writing it?")
    return pixels


def verified_pixels(path: Path, sha256: str, size: int) -> str | np.ndarray | None:
    """The cache's bytes (in memory when small enough, hashed as read) or its
    path (hashed now), if they match `sha256`; None otherwise."""
    if size <= IN_MEMORY_BYTES:
        pixels = np.fromfile(path, dtype=np.uint8)
        return pixels if hashlib.sha256(pixels.data).hexdigest() == sha256 else None
    return str(path) if sha256_file(path) == sha256 else None


def build_pixels(
    files: list[str], shape: ImageShape, path: Path, *, expected: int, sha256s: list[str] | None = None
) -> str:
    """Decode every image, row groups in order, into `path` (atomically);
    returns the sha256 of what was written."""
    from datagov.pixels.tensors import decode_batch

    digest = hashlib.sha256()
    with written(path) as tmp:  # a name of its own per writer: ranks may build it at once
        with open(tmp, "wb") as out:
            for i, file in enumerate(files):
                parquet = read_verified(file, sha256s[i] if sha256s else None)
                for group in range(parquet.num_row_groups):
                    blobs = parquet.read_row_group(group, columns=["image"]).column("image").to_pylist()
                    chunk = decode_batch(blobs, shape).numpy().tobytes()
                    digest.update(chunk)
                    out.write(chunk)
        if tmp.stat().st_size != expected:
            raise OSError(f"decoded {tmp.stat().st_size} bytes of pixels into {path.name}, expected {expected}")
    return digest.hexdigest()
