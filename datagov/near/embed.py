"""Confirming image pairs with a registered encoder: the cosine similarity of
the two images' embeddings (only the rows in candidate pairs are embedded)."""

from __future__ import annotations

import numpy as np

from datagov.errors import InvalidInput
from datagov.near.rows import VersionRows
from datagov.workspace import Workspace


def _embed(model, rows: VersionRows, wanted: np.ndarray, shape) -> dict[int, np.ndarray]:
    import torch

    from datagov.training.data import decode_batch, to_unit_float

    images = rows.image_bytes(wanted.tolist())
    order = sorted(images)
    out: dict[int, np.ndarray] = {}
    with torch.no_grad():
        for start in range(0, len(order), 1024):
            part = order[start : start + 1024]
            z = model.encoder(to_unit_float(decode_batch([images[i] for i in part], shape))).flatten(1)
            out.update(zip(part, z.numpy(), strict=True))
    return out


def encoder_cosines(
    ws: Workspace, uri: str, ref: VersionRows, target: VersionRows, ref_rows: np.ndarray, target_rows: np.ndarray
) -> np.ndarray:
    """Per pair, the cosine of the encoder's embeddings of the two images."""
    from datagov.tracking import configure
    from datagov.training.encoders import load_autoencoder, resolve_encoder
    from datagov.training.inputs import image_shape

    configure(ws)
    model = load_autoencoder(ws, resolve_encoder(uri))[0].eval()
    shapes = {}
    for rows in (ref, target):
        shapes[rows.version.digest] = shape = image_shape(ws, rows.version)
        if str(model.shape) != str(shape):
            raise InvalidInput(f"the encoder {uri} takes {model.shape} images; {rows.version.ref} has {shape}")
    a = _embed(model, ref, np.unique(ref_rows), shapes[ref.version.digest])
    b = _embed(model, target, np.unique(target_rows), shapes[target.version.digest])
    za = np.stack([a[int(i)] for i in ref_rows])
    zb = np.stack([b[int(i)] for i in target_rows])
    norms = np.linalg.norm(za, axis=1) * np.linalg.norm(zb, axis=1)
    return (za * zb).sum(axis=1) / np.where(norms == 0, 1.0, norms)
