"""Decoded pixels, kept once per version so later epochs and runs skip decoding.

Small images are cheap to store and expensive to decode: an 8x8 digit is 64
bytes of pixels but tens of microseconds of PNG decoding, which on a 2-core
machine starves the model. The first training on a version decodes it once
(row groups in order, with torchvision, as the stream would) into
`catalog/cache/<digest>/pixels-CxHxW.u8`, raw uint8 in row order; the stream
then gathers batches from it through a memory map. The file is derived data
keyed by the version's content digest, so it never goes stale; it is written
under a temporary name and renamed, so a killed process leaves no partial
cache; delete `catalog/cache/` at any time to reclaim the space. Versions
whose pixels would exceed `MAX_BYTES` are decoded on the fly as before.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pyarrow.parquet as pq

from datagov.training.inputs import ImageInput, ImageShape
from datagov.workspace import Workspace

MAX_BYTES = 8 << 30


def cache_path(ws: Workspace, data: ImageInput) -> Path:
    return ws.catalog_dir / "cache" / data.version.digest / f"pixels-{data.shape}.u8"


def ensure_pixels(ws: Workspace, data: ImageInput) -> str | None:
    """The decoded-pixel file for this version (built now if missing), or None
    when it would be larger than MAX_BYTES."""
    size = data.version.rows * data.shape.numel
    if size > MAX_BYTES:
        return None
    path = cache_path(ws, data)
    if path.is_file() and path.stat().st_size == size:
        return str(path)
    build_pixels(data.files, data.shape, path, expected=size)
    return str(path)


def build_pixels(files: list[str], shape: ImageShape, path: Path, *, expected: int) -> None:
    """Decode every image, row groups in order, into `path` (atomically)."""
    from datagov.training.data import decode_batch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")  # ranks may build it at once
    try:
        with open(tmp, "wb") as out:
            for file in files:
                parquet = pq.ParquetFile(file)
                for i in range(parquet.num_row_groups):
                    blobs = parquet.read_row_group(i, columns=["image"]).column("image").to_pylist()
                    out.write(decode_batch(blobs, shape).numpy().tobytes())
        if tmp.stat().st_size != expected:
            raise OSError(f"decoded {tmp.stat().st_size} bytes of pixels into {path.name}, expected {expected}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
