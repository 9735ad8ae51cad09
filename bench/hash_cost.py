"""What the perceptual fingerprints add to image ingest.

Baseline: `datagov ingest` of an image folder (the 28x28 PNGs of
bench.image_ingest; a fresh CLI process, all cores, start-up included), which
computes the fingerprints as part of its work. Candidate: the fingerprint
work alone on the same images (the 16x16 thumbnail of each decoded image,
then both hashes a batch at a time, as ingest does), spread over the same
number of processes; decoding is done first and not timed. Alternated, same
run. Target: fingerprints <= 15 % of ingest time.

  python -m bench.hash_cost [N] [REPEATS]
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import OUT, alternate, machine, report, timed_ingest


def _fingerprint_chunk(paths: list[str]) -> float:
    """Seconds spent fingerprinting these images (decoding excluded)."""
    from datagov.pixels.codec import decode
    from datagov.pixels.fingerprints import hash_columns, thumbnail

    pixels = [decode(Path(p).read_bytes())[0] for p in paths]
    start = time.perf_counter()
    thumbs = [thumbnail(p) for p in pixels]
    for i in range(0, len(thumbs), 4096):  # ingest hashes each row group's thumbnails at once
        hash_columns(thumbs[i : i + 4096])
    return time.perf_counter() - start


def fingerprint_time(root: Path, processes: int) -> float:
    """Wall seconds the fingerprints would take spread over `processes`."""
    paths = sorted(str(p) for p in root.rglob("*.png"))
    chunks = [paths[i::processes] for i in range(processes)]
    with multiprocessing.get_context("forkserver").Pool(processes) as pool:
        return max(pool.map(_fingerprint_chunk, chunks))


def main(n: int = 70_000, repeats: int = 3) -> float:
    from bench.image_ingest import make_folder

    OUT.mkdir(parents=True, exist_ok=True)
    root = make_folder(n)
    processes = os.cpu_count() or 1
    ingest, prints = alternate(
        lambda: timed_ingest("ws-hash-cost", root),
        lambda: fingerprint_time(root, processes),
        repeats,
    )
    report(
        f"Fingerprint cost in image ingest: {n:,} PNGs, 28x28 ({machine()})",
        f"datagov ingest (CLI, {processes} workers, fingerprints included)",
        ingest,
        f"thumbnails + pHash + dHash alone ({processes} processes)",
        prints,
        "<= 0.15",
        prints / ingest <= 0.15,
    )
    print(f"  per image: {prints * processes / n * 1e6:.1f} us of fingerprinting on one core")
    return prints / ingest


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
