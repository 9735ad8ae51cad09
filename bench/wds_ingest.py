"""WebDataset ingest: N generated 32x32 RGB PNGs (1,000 per tar shard, .cls
labels) copied into a version by `datagov ingest DIR --format webdataset`
(a fresh CLI process, all cores, start-up included), against a decode loop
with the same number of processes: each reads its shards with the same tar
reader and decodes every PNG to pixels with Pillow, writing nothing.
Alternated, same run. Target: ratio <= 1.2; images/s reported.

  python -m bench.wds_ingest [N] [REPEATS]
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import OUT, alternate, machine, report, timed_ingest

PER_SHARD = 1000


def make_shards(n: int) -> Path:
    from bench.wds_shards import write_shards

    root = OUT / f"wds-{n}"
    if (root / ".complete").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    write_shards(lambda name, data: (root / name).write_bytes(data), n // PER_SHARD, PER_SHARD)
    (root / ".complete").touch()
    return root


def _decode_shard(path: str) -> int:
    import io

    import numpy as np
    from PIL import Image

    from datagov.store.images.tar import HashingStream, members

    count = 0
    with open(path, "rb") as fh:
        for name, data in members(HashingStream(fh, hashed=False)):
            if name.endswith(".png"):
                with Image.open(io.BytesIO(data)) as img:
                    np.asarray(img.convert("RGB"))
                count += 1
    return count


def decode_loop(root: Path, processes: int) -> float:
    shards = sorted(str(p) for p in root.glob("*.tar"))
    start = time.perf_counter()
    with multiprocessing.get_context("forkserver").Pool(processes) as pool:
        total = sum(pool.imap_unordered(_decode_shard, shards))
    elapsed = time.perf_counter() - start
    assert total == len(shards) * PER_SHARD
    return elapsed


def main(n: int = 1_000_000, repeats: int = 2) -> float:
    OUT.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    root = make_shards(n)
    size = sum(p.stat().st_size for p in root.glob("*.tar"))
    print(f"(shards ready in {time.perf_counter() - start:.1f} s: {n // PER_SHARD} shards, {size / 1e9:.2f} GB)")
    processes = os.cpu_count() or 1
    base, cand = alternate(
        lambda: decode_loop(root, processes),
        lambda: timed_ingest("ws-wds", root),
        repeats,
    )
    report(
        f"WebDataset ingest: {n:,} PNGs, 32x32 RGB ({machine()})",
        f"decode loop ({processes} processes, Pillow)",
        base,
        f"datagov ingest --format webdataset ({processes} workers)",
        cand,
        "<= 1.2",
        cand / base <= 1.2,
    )
    print(f"  throughput: datagov {n / cand:,.0f} images/s, decode loop {n / base:,.0f} images/s")
    return cand / base


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
