"""In-memory image arrays (torchvision, scikit-learn, .npz) to image Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datagov.errors import SourceError
from datagov.sources import IngestOptions, SourceResult
from datagov.store.images.columns import encode_arrays
from datagov.store.images.writer import ImageParquetWriter, run_chunks

CHUNK = 1024


def to_uint8(images: np.ndarray, source: str) -> np.ndarray:
    """Images as uint8; floats in [0, 1] are scaled, other ranges refused."""
    if images.dtype == np.uint8:
        return images
    if np.issubdtype(images.dtype, np.floating) and images.size and images.min() >= 0 and images.max() <= 1:
        return np.round(images * 255).astype(np.uint8)
    if np.issubdtype(images.dtype, np.integer) and images.size and images.min() >= 0 and images.max() <= 255:
        return images.astype(np.uint8)
    raise SourceError(f"images in {source} must be uint8, integers in 0..255 or floats in 0..1")


def write_image_arrays(
    images: np.ndarray,
    labels: np.ndarray | None,
    out: Path,
    opts: IngestOptions,
    *,
    source: str,
    prefix: str,
    label_names: list[str] | None = None,
    details: dict | None = None,
    ids: list[str] | None = None,
) -> SourceResult:
    """Images (and labels) as image Parquet; each row's `path` is `ids[i]`,
    or `PREFIX/i` zero-padded when no ids are given."""
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] not in (1, 3, 4)):
        raise SourceError(f"images in {source} must be shaped (N, H, W) or (N, H, W, C) with C in 1, 3, 4")
    if len(images) == 0:
        raise SourceError(f"source is empty: {source}")
    if labels is not None and len(labels) != len(images):
        raise SourceError(f"{source}: {len(images)} images but {len(labels)} labels")
    images = to_uint8(images, source)
    if ids is None:
        width = len(str(len(images) - 1))
        ids = [f"{prefix}/{i:0{width}d}" for i in range(len(images))]
    label_list = [int(v) for v in labels] if labels is not None else [None] * len(images)
    chunks = [
        (images[i : i + CHUNK], ids[i : i + CHUNK], label_list[i : i + CHUNK]) for i in range(0, len(images), CHUNK)
    ]
    writer = ImageParquetWriter(out, labels is not None, label_names)

    def on_bad(bad: list) -> None:  # encoding arrays cannot fail per item
        raise SourceError(f"{source}: {bad[0]}")

    run_chunks(
        encode_arrays,
        chunks,
        len(images),
        writer,
        workers=opts.workers,
        label="encoding images",
        show_progress=opts.show_progress,
        on_bad=on_bad,
    )
    return SourceResult(
        modality="image",
        label_column="label" if labels is not None else None,
        details={"classes": label_names or [], **(details or {})},
    )
