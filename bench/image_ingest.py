"""Image ingest: 70,000 generated 28x28 PNGs in an ImageFolder (10 classes).

Baseline: a plain single-process loop that decodes each file with
torchvision.io and writes the same columns (bytes, format, path, label,
label_name, height, width, channels, mean, std, pixel hash) with pyarrow.
Candidate: `datagov ingest` (a fresh CLI process, all cores, start-up
included). The baseline's time excludes its imports (torch takes seconds).
Target: ratio <= 1.3. Usage: python -m bench.image_ingest [N]"""

from __future__ import annotations

import hashlib
import multiprocessing
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.common import OUT, alternate, machine, report, timed_ingest

CLASSES = 10


def _write_pngs(args: tuple[Path, int, int]) -> None:
    from PIL import Image

    root, start, stop = args
    rng = np.random.default_rng(start)
    for i in range(start, stop):
        # digit-like strokes on black: compressible like MNIST, not noise
        img = np.zeros((28, 28), dtype=np.uint8)
        r = rng.integers(4, 20)
        img[r : r + 6, 4:24] = rng.integers(100, 256)
        img[4:24, r : r + 4] = rng.integers(100, 256)
        Image.fromarray(img).save(root / f"c{i % CLASSES}" / f"{i:06d}.png")


def make_folder(n: int) -> Path:
    root = OUT / f"images-{n}"
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    for c in range(CLASSES):
        (root / f"c{c}").mkdir(parents=True)
    step = 5000
    with multiprocessing.Pool() as pool:
        pool.map(_write_pngs, [(root, s, min(s + step, n)) for s in range(0, n, step)])
    (root / ".complete").touch()
    return root


def plain_loop(root: Path, out: Path) -> None:
    """What a careful engineer writes without datagov."""
    import torchvision.io as tvio

    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    cols: dict[str, list] = {
        k: []
        for k in (
            "image",
            "format",
            "path",
            "label",
            "label_name",
            "height",
            "width",
            "channels",
            "mean",
            "std",
            "pixel_hash",
        )
    }
    for label, name in enumerate(classes):
        for path in sorted((root / name).iterdir()):
            data = path.read_bytes()
            pixels = tvio.decode_image(tvio.read_file(str(path))).permute(1, 2, 0).numpy()
            h, w, c = pixels.shape
            scaled = pixels.astype(np.float64) / 255.0
            digest = hashlib.blake2b(f"{h}x{w}x{c}:".encode() + pixels.tobytes(), digest_size=16).hexdigest()
            for key, value in (
                ("image", data),
                ("format", "PNG"),
                ("path", f"{name}/{path.name}"),
                ("label", label),
                ("label_name", name),
                ("height", h),
                ("width", w),
                ("channels", c),
                ("mean", float(scaled.mean())),
                ("std", float(scaled.std())),
                ("pixel_hash", digest),
            ):
                cols[key].append(value)
    pq.write_table(pa.table(cols), out, compression="zstd", row_group_size=4096)


def main(n: int = 70_000, repeats: int = 3) -> float:
    OUT.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    root = make_folder(n)
    print(f"(image folder ready in {time.perf_counter() - start:.1f} s)")

    def baseline() -> float:
        """The loop alone: torch's import (seconds) is left out, to be strict."""
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "import time, torchvision.io; from pathlib import Path; from bench.image_ingest import plain_loop; "
                f"t = time.perf_counter(); plain_loop(Path({str(root)!r}), Path({str(OUT / 'plain.parquet')!r})); "
                "print(time.perf_counter() - t)",
            ],
            cwd=str(Path(__file__).resolve().parents[1]),
            capture_output=True,
            text=True,
            check=True,
        )
        return float(proc.stdout.strip().splitlines()[-1])

    def candidate() -> float:
        return timed_ingest("ws-images", root)

    base, cand = alternate(baseline, candidate, repeats)
    report(
        f"Image ingest: {n:,} PNGs, 28x28, {CLASSES} classes ({machine()})",
        "plain loop: torchvision.io + pyarrow (no imports)",
        base,
        "datagov ingest (all cores)",
        cand,
        "<= 1.3",
        cand / base <= 1.3,
    )
    print(f"  throughput: datagov {n / cand:,.0f} images/s, plain loop {n / base:,.0f} images/s")
    return cand / base


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 70_000)
