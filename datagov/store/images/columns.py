"""Per-image work done in worker processes: decode a chunk of files or
blobs into column buffers (`Columns`), naming the ones that fail.

Kept free of pyarrow/torch imports so that worker processes start fast.
"""

from __future__ import annotations

import os

import numpy as np

from datagov.pixels.codec import FEATURES, BadImage, decode, encode_png, pixel_features
from datagov.workspace import MAX_IMAGE_PIXELS

COLUMNS = ("image", "format", "path", "label", *FEATURES)


class Columns(dict):
    """Column name -> list of values: cheaper to pickle back than row dicts."""

    def __init__(self) -> None:
        super().__init__((name, []) for name in COLUMNS)

    def add(self, image: bytes, fmt: str, path: str, label: int | None, features: tuple) -> None:
        """One row: the encoded bytes, what they are, and `pixel_features`."""
        self["image"].append(image)
        self["format"].append(fmt)
        self["path"].append(path)
        self["label"].append(label)
        for name, value in zip(FEATURES, features, strict=True):
            self[name].append(value)

    def __len__(self) -> int:
        return len(self["image"])


def decode_into(rows: Columns, bad: list, data: bytes, rel: str, label: int | None, max_pixels: int) -> None:
    try:
        if not data:
            raise BadImage("empty file")
        pixels, fmt = decode(data, max_pixels)
    except BadImage as exc:
        bad.append((rel, str(exc)))
        return
    rows.add(data, fmt, rel, label, pixel_features(pixels))


def decode_files(
    items: list[tuple[str, str, int | None]], max_pixels: int = MAX_IMAGE_PIXELS
) -> tuple[Columns, list[tuple[str, str]]]:
    """Worker: [(absolute path, relative path, label)] -> (columns, [(relative path, reason)])."""
    rows, bad = Columns(), list[tuple[str, str]]()
    for path, rel, label in items:
        try:
            # O_NOFOLLOW: a file swapped for a symlink after the scan is not followed
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            bad.append((rel, str(exc)))
            continue
        decode_into(rows, bad, data, rel, label, max_pixels)
    return rows, bad


def decode_blobs(
    items: list[tuple[bytes, str, int | None]], max_pixels: int = MAX_IMAGE_PIXELS
) -> tuple[Columns, list[tuple[str, str]]]:
    """Worker: [(encoded bytes, name, label)] -> (columns, [(name, reason)]), for
    images that arrive as bytes (tar shards, Parquet image structs)."""
    rows, bad = Columns(), list[tuple[str, str]]()
    for data, rel, label in items:
        decode_into(rows, bad, data, rel, label, max_pixels)
    return rows, bad


def encode_arrays(chunk: tuple[np.ndarray, list[str], list[int | None]]) -> tuple[Columns, list]:
    """Worker: raw uint8 arrays -> PNG bytes plus features."""
    arrays, ids, labels = chunk
    rows = Columns()
    for pixels, item, label in zip(arrays, ids, labels, strict=True):
        if pixels.ndim == 3 and pixels.shape[2] == 1:
            pixels = pixels[:, :, 0]
        rows.add(encode_png(pixels), "PNG", item, label, pixel_features(pixels))
    return rows, []
