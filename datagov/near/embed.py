"""Confirming image pairs with a registered encoder: the cosine similarity of
the two images' embeddings (only the rows in candidate pairs are embedded)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from datagov.near.rows import VersionRows


def _embed(model, rows: VersionRows, wanted: np.ndarray, shape) -> dict[int, np.ndarray]:
    import torch

    from datagov.pixels.tensors import decode_batch, to_unit_float

    images = rows.image_bytes(wanted.tolist())
    order = sorted(images)
    out: dict[int, np.ndarray] = {}
    with torch.no_grad():
        for start in range(0, len(order), 1024):
            part = order[start : start + 1024]
            z = model.encoder(to_unit_float(decode_batch([images[i] for i in part], shape))).flatten(1)
            out.update(zip(part, z.numpy(), strict=True))
    return out


# (uri, versions) -> an encoder ready to embed (`training.encoders.encoder_for_images`),
# handed in by the caller: near/ loads no model itself.
EncoderLoader = Callable[[str, list], Any]


def encoder_cosines(
    model, shape, ref: VersionRows, target: VersionRows, ref_rows: np.ndarray, target_rows: np.ndarray
) -> np.ndarray:
    """Per pair, the cosine of the encoder's embeddings of the two images (of `shape`, as its loader checked)."""
    a = _embed(model, ref, np.unique(ref_rows), shape)
    b = _embed(model, target, np.unique(target_rows), shape)
    za = np.stack([a[int(i)] for i in ref_rows])
    zb = np.stack([b[int(i)] for i in target_rows])
    norms = np.linalg.norm(za, axis=1) * np.linalg.norm(zb, axis=1)
    return (za * zb).sum(axis=1) / np.where(norms == 0, 1.0, norms)
