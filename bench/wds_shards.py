"""Generated WebDataset shards for the benchmarks: 32x32 RGB PNGs with .cls
labels, written as tar bytes (to a folder or a bucket)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable

import numpy as np

DISTINCT = 4096  # distinct images, reused under new keys (their bytes, not their keys, cost time)


def png_blobs(n: int = DISTINCT, seed: int = 0) -> list[bytes]:
    """Small natural-ish images: a gradient plus a bright bar and a little noise."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 200, 32, dtype=np.float64)
    blobs = []
    for _ in range(n):
        img = np.stack([np.add.outer(ramp * rng.random(), ramp * rng.random())] * 3, axis=2) / 2
        r = rng.integers(2, 26)
        img[r : r + 5, 3:29] = rng.integers(100, 256, size=3)
        img += rng.normal(0, 6, img.shape)
        buf = io.BytesIO()
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB").save(buf, format="PNG")
        blobs.append(buf.getvalue())
    return blobs


def tar_bytes(blobs: list[bytes], start: int, count: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for i in range(start, start + count):
            for ext, data in (("png", blobs[i % len(blobs)]), ("cls", str(i % 10).encode())):
                info = tarfile.TarInfo(f"{i:08d}.{ext}")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def write_shards(put: Callable[[str, bytes], None], shards: int, per_shard: int) -> int:
    """Write `shards` tars through `put(name, bytes)`; returns the bytes written."""
    blobs = png_blobs()
    total = 0
    for s in range(shards):
        data = tar_bytes(blobs, s * per_shard, per_shard)
        put(f"shard-{s:05d}.tar", data)
        total += len(data)
    return total
