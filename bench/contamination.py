"""Contamination at scale: 200,000 reference images against 50,000 target
images (generated, 32x32 RGB; 5,000 targets are planted near-duplicates of
reference images: JPEG at quality 75, a one-pixel shift, +-10 % brightness,
Gaussian noise, 2x upscaling and back), both ingested with `datagov ingest`.

Contenders, alternated in one run, over the same stored 64-bit pHashes:
- baseline: a brute-force pairwise Hamming search, vectorised numpy
  (xor + popcount of every pair, blocks of targets), hashes already in memory;
- `datagov contamination REF TARGET` as a fresh CLI process: start-up,
  verification of every stored byte, reading the columns, the search, the
  thumbnail confirmation, the report and the receipt (peak RSS reported);
- the search alone (`near.images.candidates`) on the same arrays.

Target: datagov >= 20x faster than brute force, with recall >= 0.95 of the
brute force's pairs. Also printed: recall and precision against the planted
truth, after confirmation.

  python -m bench.contamination [REFERENCE] [TARGET] [REPEATS]
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATAGOV, OUT, machine, run

PLANTED = 5_000  # at most a tenth of the targets
MODS = ("jpeg", "shift", "brightness", "noise", "resize")


def smooth_images(n: int, seed: int) -> np.ndarray:
    """Random images with structure at a few scales (not noise, which no
    perceptual hash is made for), uint8 (n, 32, 32, 3)."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    out = np.empty((n, 32, 32, 3), np.uint8)
    for start in range(0, n, 20_000):
        k = min(20_000, n - start)
        coarse = F.interpolate(torch.rand(k, 3, 4, 4, generator=g), size=32, mode="bicubic", align_corners=False)
        mid = F.interpolate(torch.rand(k, 3, 8, 8, generator=g), size=32, mode="bilinear", align_corners=False)
        fine = torch.rand(k, 3, 32, 32, generator=g)
        x = (0.6 * coarse + 0.3 * mid + 0.1 * fine).clamp(0, 1) * 255
        out[start : start + k] = x.round().byte().permute(0, 2, 3, 1).numpy()
    return out


def modify(pixels: np.ndarray, how: str, rng: np.random.Generator) -> np.ndarray:
    import io

    from PIL import Image

    from tests.near.planted import modify as plant_modify

    data, _ = plant_modify(pixels, how, rng)
    if isinstance(data, bytes):  # JPEG: decode what the file would hold
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return data


def resize_twice(pixels: np.ndarray) -> np.ndarray:
    from PIL import Image

    h, w = pixels.shape[:2]
    up = Image.fromarray(pixels).resize((2 * w, 2 * h), Image.Resampling.BICUBIC)
    return np.asarray(up.resize((w, h), Image.Resampling.BICUBIC))


def make_sources(n_ref: int, n_target: int) -> tuple[Path, Path, np.ndarray]:
    """npz files of both sides, and the reference row each planted target copies."""
    root = OUT / f"contamination-{n_ref}-{n_target}"
    ref_path, target_path, truth_path = root / "ref.npz", root / "target.npz", root / "truth.npy"
    if truth_path.exists():
        return ref_path, target_path, np.load(truth_path)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ref = smooth_images(n_ref, 1)
    target = smooth_images(n_target, 2)
    truth = rng.choice(n_ref, min(PLANTED, n_target // 10), replace=False)
    for i, row in enumerate(truth):
        how = MODS[i % len(MODS)]
        target[i] = resize_twice(ref[row]) if how == "resize" else modify(ref[row], how, rng)
    np.savez(ref_path, images=ref, y=rng.integers(0, 10, n_ref))
    np.savez(target_path, images=target, y=rng.integers(0, 10, n_target))
    np.save(truth_path, truth)
    return ref_path, target_path, truth


def stored_hashes(ws: Path, name: str) -> np.ndarray:
    """The version's stored pHashes in row order, read as datagov reads them."""
    from datagov.workspace import Workspace
    from tests.near.planted import version_rows

    return version_rows(Workspace(ws), name).images.phash


def brute_force(ref: np.ndarray, target: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    found_ref, found_target = [], []
    block = 128
    for start in range(0, len(target), block):
        d = np.bitwise_count(ref[None, :] ^ target[start : start + block, None])
        t, r = np.nonzero(d <= radius)
        found_ref.append(r)
        found_target.append(t + start)
    return np.concatenate(found_ref), np.concatenate(found_target)


def timed_cli(ws: Path, report_json: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `datagov contamination` process.

    The RSS comes from /usr/bin/time, whose small process starts the
    command: Linux counts the pages of whatever process forked a command into
    that command's peak (exec keeps the larger high-water mark), so `wait4`
    from this bench, which holds the hashes, would overstate it."""
    import tempfile

    cmd = [*DATAGOV, "--workspace", str(ws), "contamination", "ref", "target", "--max-share", "1", "--json"]
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        wrapped = ["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd] if shutil.which("/usr/bin/time") else cmd
        start = time.perf_counter()
        with open(report_json, "w") as out:
            proc = subprocess.run(wrapped, stdout=out, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.decode()[-2000:])
        text = Path(rss.name).read_text().strip()
    return elapsed, int(text.splitlines()[-1]) / 1024 if text else float("nan")


def main(n_ref: int = 200_000, n_target: int = 50_000, repeats: int = 3) -> None:
    from datagov.near.images import ImageMethod

    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ref_src, target_src, truth = make_sources(n_ref, n_target)
    ws = OUT / f"ws-contamination-{n_ref}-{n_target}"
    if not (ws / ".complete").exists():
        shutil.rmtree(ws, ignore_errors=True)
        run([*DATAGOV, "init", str(ws)])
        for name, src in (("ref", ref_src), ("target", target_src)):
            run([*DATAGOV, "--workspace", str(ws), "ingest", str(src), "--name", name, "--no-progress"])
        (ws / ".complete").touch()
    print(f"(sources and versions ready in {time.perf_counter() - t0:.1f} s)")
    ref, target = stored_hashes(ws, "ref"), stored_hashes(ws, "target")
    assert len(ref) == n_ref and len(target) == n_target
    radius = ImageMethod().radius

    base, cli, search, rss = [], [], [], []
    report_json = ws / "report.json"
    for _ in range(repeats):
        start = time.perf_counter()
        brute = brute_force(ref, target, radius)
        base.append(time.perf_counter() - start)
        seconds, peak = timed_cli(ws, report_json)
        cli.append(seconds)
        rss.append(peak)
        start = time.perf_counter()
        ours = _search(ref, target, radius)
        search.append(time.perf_counter() - start)
    b, c, s = (float(np.median(x)) for x in (base, cli, search))
    brute_pairs = set(zip(brute[0].tolist(), brute[1].tolist(), strict=True))
    our_pairs = set(zip(ours.ref.tolist(), ours.query.tolist(), strict=True))
    recall = len(brute_pairs & our_pairs) / len(brute_pairs) if brute_pairs else 1.0
    doc = json.loads(report_json.read_text())
    planted = _planted_scores(ws, truth)
    print(f"Contamination: {n_ref:,} reference vs {n_target:,} target images, 32x32 RGB ({machine()})")
    print(f"  brute-force Hamming search (numpy, radius {radius})      {b:8.3f} s")
    print(f"  datagov contamination (CLI process, end to end)        {c:8.3f} s   peak RSS {max(rss):,.0f} MB")
    print(f"  multi-index search alone (same hashes)                 {s:8.3f} s")
    print(f"  speed-up, search alone:  {b / s:6.1f}x   target >= 20x   {'PASS' if b / s >= 20 else 'MISS'}")
    print(f"  speed-up, CLI end to end: {b / c:5.1f}x   target >= 20x   {'PASS' if b / c >= 20 else 'MISS'}")
    print(
        f"  recall of the brute force's {len(brute_pairs):,} pairs: {recall:.4f}   target >= 0.95   "
        f"{'PASS' if recall >= 0.95 else 'MISS'}"
    )
    print(
        f"  planted: {doc['flagged']:,} target rows flagged; recall {planted['recall']:.4f}, "
        f"precision {planted['precision']:.4f} (after thumbnail confirmation)"
    )


def _search(ref: np.ndarray, target: np.ndarray, radius: int):
    from datagov.near.index import HammingIndex

    return HammingIndex(ref).search(target, radius)


def _planted_scores(ws: Path, truth: np.ndarray) -> dict:
    """Recall and precision of the last CLI run's pairs against the planted truth."""
    from datagov.near.check import run_check
    from datagov.workspace import Workspace

    _, _, _, pairing = run_check(Workspace(ws), "ref", "target", max_share=1.0)
    found: dict[int, set[int]] = {}
    for a, b in zip(pairing.ref.tolist(), pairing.target.tolist(), strict=True):
        found.setdefault(b, set()).add(a)
    correct = sum(1 for i, row in enumerate(truth.tolist()) if row in found.get(i, ()))
    return {"recall": correct / len(truth), "precision": correct / len(found) if found else 1.0}


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
