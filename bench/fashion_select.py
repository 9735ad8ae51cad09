"""Chosen against random pretraining data (`python -m bench.fashion_value --select N`).

The pool is 60,000 images at 28x28: a share of Fashion-MNIST training
images (`--select-share`, default a quarter) and, in equal parts,
scikit-learn's digits scaled and placed at random, letters drawn in
Pillow's font, and smoothed noise. The target is 2,000 further
Fashion-MNIST training images without labels. `datagov select` draws N
pool images to match the target; `datagov split` draws N at random. Each
passes its own suggested suite, a conv autoencoder is pretrained on each by
`datagov pretrain`, and both are scored at 5 labels per class (labelled rows
from the training images in neither the pool nor the target) on the 10,000
test images, mean ± std over 3 seeds.
"""

from __future__ import annotations

import string
from types import SimpleNamespace

import numpy as np

from bench.fashion_value import SEEDS, cell, classify, dg, gated, pretrain

POOL, TARGET = 60_000, 2_000


def digits_like(n: int, rng) -> np.ndarray:
    from PIL import Image
    from sklearn.datasets import load_digits

    small = (load_digits().images * 16).clip(0, 255).astype(np.uint8)
    out = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        side = int(rng.integers(14, 27))
        img = Image.fromarray(small[rng.integers(len(small))]).resize((side, side), Image.BILINEAR)
        y, x = rng.integers(0, 29 - side, 2)
        out[i, y : y + side, x : x + side] = np.asarray(img)
    return out


def letters(n: int, rng) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    out = np.zeros((n, 28, 28), np.uint8)
    fonts = {s: ImageFont.load_default(size=s) for s in range(14, 25, 2)}
    for i in range(n):
        img = Image.new("L", (28, 28))
        size = int(rng.choice(list(fonts)))
        xy = tuple(int(v) for v in rng.integers(0, 28 - size, 2))
        ImageDraw.Draw(img).text(xy, str(rng.choice(list(string.ascii_letters))), fill=255, font=fonts[size])
        out[i] = np.asarray(img)
    return out


def blobs(n: int, rng) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    noise = gaussian_filter(rng.random((n, 28, 28)), sigma=(0, 2, 2))
    lo, hi = noise.min(axis=(1, 2), keepdims=True), noise.max(axis=(1, 2), keepdims=True)
    return ((noise - lo) / (hi - lo) * 255).astype(np.uint8)


def make_sources(ws, data, share: float) -> SimpleNamespace:
    """Ingest `mixed` (the pool, `share` of it Fashion-MNIST) and `fashion-target`;
    return the labelled rows left for the few-label task."""
    rng = np.random.default_rng(0)
    fashion = data.pool_x[:, 0].numpy()
    kept = round(POOL * share)
    each = (POOL - kept) // 3
    others = [digits_like(each, rng), letters(each, rng), blobs(POOL - kept - 2 * each, rng)]
    images = np.concatenate([fashion[:kept], *others])
    source = np.repeat(np.arange(4), [kept, each, each, POOL - kept - 2 * each])
    order = rng.permutation(len(images))
    np.savez(ws / "mixed.npz", images=images[order], label=source[order])  # label: where it came from
    np.savez(ws / "target.npz", images=fashion[kept : kept + TARGET])
    dg("ingest", ws / "mixed.npz", "--name", "mixed", "--no-progress")
    dg("ingest", ws / "target.npz", "--name", "fashion-target", "--no-progress")
    rest = slice(kept + TARGET, None)
    return SimpleNamespace(pool_x=data.pool_x[rest], pool_y=data.pool_y[rest], eval_x=data.eval_x,
                           eval_y=data.eval_y, names=data.names)  # fmt: skip


def share_of_fashion(ws, name: str) -> float:
    import duckdb

    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import resolve, scan_version
    from datagov.workspace import Workspace

    w = Workspace(ws)
    with open_catalog(w) as con:
        version = resolve(con, name)
    return float(duckdb.sql(f"SELECT avg((label = 0)::INT) FROM {scan_version(w, version)}").fetchall()[0][0])


def compare(ws, data, size: int, epochs: int, share: float) -> list[str]:
    labelled = make_sources(ws, data, share)
    scores: dict[tuple[str, str], list[float]] = {}
    shares: dict[str, list[float]] = {}
    for seed in SEEDS:
        chosen, random = f"mixed-chosen-{seed}", f"mixed-random-{seed}"
        dg("select", "mixed", "--target", "fashion-target", "--size", size, "--seed", seed, "--name", chosen)
        dg("split", "mixed", "--into", f"part={size / 60_000:.6f}", "--seed", seed, "--prefix", random)
        for how, name in (("chosen", chosen), ("random", f"{random}-part")):
            gated(name)
            shares.setdefault(how, []).append(share_of_fashion(ws, name))
            encoder = pretrain(name, "conv", "reconstruct", epochs, seed)
            for strategy, acc in classify(labelled, encoder, 5, seed, ("features", "finetune")).items():
                scores.setdefault((how, strategy), []).append(acc)
                print(f"  seed {seed} {how} {strategy}: {acc:.4f}", flush=True)
    lines = [f"| {size:,} pretraining images from a pool {share:.0%} Fashion-MNIST | Fashion-MNIST among them | "
             "features | finetune |", "|---|---|---|---|"]  # fmt: skip
    for how in ("chosen", "random"):
        share = f"{100 * np.mean(shares[how]):.1f} %"
        lines.append(f"| {how} | {share} | {cell(scores[(how, 'features')])} | {cell(scores[(how, 'finetune')])} |")
    return lines
