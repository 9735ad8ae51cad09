"""The planted near-duplicate set: modified copies of pretraining images,
mixed with the untouched images of a separate eval split.

The modifications are the ones near-duplicates in the wild carry (Barz and
Denzler, 2020): JPEG re-encoding at quality 75, a one-pixel shift, +-10 %
brightness, small Gaussian noise, and upscaling to 16x16 then back.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from datagov.catalog.db import open_catalog
from datagov.catalog.locations import locate
from datagov.catalog.versions import dataset_row, resolve
from datagov.near.rows import VersionRows, read_rows
from datagov.pixels.codec import decode

MODIFICATIONS = ("jpeg", "shift", "brightness", "noise", "resize")


def modify(pixels: np.ndarray, how: str, rng: np.random.Generator) -> tuple[np.ndarray | bytes, str]:
    """(pixels, or encoded bytes for JPEG, and the file suffix)."""
    if how == "jpeg":
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="JPEG", quality=75)
        return buf.getvalue(), ".jpg"
    if how == "shift":
        out, axis, step = np.zeros_like(pixels), int(rng.integers(2)), int(rng.choice([-1, 1]))
        src = [slice(None)] * 2
        dst = [slice(None)] * 2
        src[axis] = slice(0, -1) if step == 1 else slice(1, None)
        dst[axis] = slice(1, None) if step == 1 else slice(0, -1)
        out[tuple(dst)] = pixels[tuple(src)]
        return out, ".png"
    if how == "brightness":
        factor = 1.1 if rng.random() < 0.5 else 0.9
        return np.clip(np.rint(pixels * factor), 0, 255).astype(np.uint8), ".png"
    if how == "noise":
        return np.clip(np.rint(pixels + rng.normal(0, 8, pixels.shape)), 0, 255).astype(np.uint8), ".png"
    if how == "resize":
        h, w = pixels.shape[:2]
        up = Image.fromarray(pixels).resize((16, 16), Image.Resampling.BICUBIC)
        return np.asarray(up.resize((w, h), Image.Resampling.BICUBIC)), ".png"
    raise ValueError(how)


def version_rows(ws, ref: str) -> VersionRows:
    with open_catalog(ws) as con:
        version = resolve(con, ref)
        files = locate(ws, con, version.digest, version.dataset)
        meta = dataset_row(con, version.dataset)
    return read_rows(ws, version, files, modality=meta.modality, label_column=meta.label_column, text_columns=[])


@dataclass
class Planted:
    folder: Path
    source_of: dict[str, int]  # planted file (path as ingested) -> its pretraining row
    distinct: int


def plant(ws, out: Path, *, reference: str, distinct_from: str, per_modification: int, seed: int = 0) -> Planted:
    """Write an image folder (class subfolders) of planted copies of
    `reference` rows and every image of `distinct_from`."""
    rng = np.random.default_rng(seed)
    ref, other = version_rows(ws, reference), version_rows(ws, distinct_from)
    chosen = rng.choice(ref.rows, per_modification * len(MODIFICATIONS), replace=False)
    ref_images = ref.image_bytes(chosen.tolist())
    labels = {int(r): str(other.labels[0]) for r in chosen}  # reference rows may be unlabelled
    source_of = {}
    for i, row in enumerate(chosen.tolist()):
        how = MODIFICATIONS[i % len(MODIFICATIONS)]
        data, suffix = modify(decode(ref_images[row])[0], how, rng)
        label = str(ref.labels[row]) if ref.labels is not None else labels[row]
        name = f"{label}/p-{how}-{row}{suffix}"
        (out / label).mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            (out / name).write_bytes(data)
        else:
            Image.fromarray(data).save(out / name)
        source_of[name] = row
    for row, blob in other.image_bytes(list(range(other.rows))).items():
        label = str(other.labels[row])
        (out / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(decode(blob)[0]).save(out / f"{label}/d-{row}.png")
    return Planted(out, source_of, other.rows)


def score(planted: Planted, names: list[str], ref_rows: np.ndarray, target_rows: np.ndarray) -> dict:
    """Recall: planted copies matched to their source. Precision: flagged
    target rows that are planted copies matched to their source."""
    matched: dict[int, set[int]] = {}
    for a, b in zip(ref_rows.tolist(), target_rows.tolist(), strict=True):
        matched.setdefault(b, set()).add(a)
    correct = sum(1 for b, refs in matched.items() if planted.source_of.get(names[b]) in refs)
    flagged = len(matched)
    return {
        "recall": correct / len(planted.source_of),
        "precision": correct / flagged if flagged else 1.0,
        "flagged": flagged,
        "correct": correct,
        "planted": len(planted.source_of),
        "distinct": planted.distinct,
    }
