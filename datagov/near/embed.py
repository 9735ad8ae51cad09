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


def load_encoder(ws: Workspace, uri: str, versions: list) -> tuple[object, str, object]:
    """(the encoder, its pinned URI, the image shape it takes), resolved and its weights verified
    before any work: a receipt naming an encoder must name one that exists,
    with the bytes the catalog recorded, taking these versions' images."""
    from datagov.tracking import registry_client
    from datagov.training.encoders import check_encoder_uri, load_autoencoder, resolve_encoder
    from datagov.training.inputs import image_shape

    check_encoder_uri(uri)
    registry_client(ws)  # refuses a store that was never made (or lost) instead of creating one
    source = resolve_encoder(uri)
    model = load_autoencoder(ws, source)[0].eval()
    shape = None
    for version in versions:
        shape = image_shape(ws, version)
        if str(model.shape) != str(shape):
            raise InvalidInput(f"the encoder {uri} takes {model.shape} images; {version.ref} has {shape}")
    return model, source.pinned_uri, shape


def encoder_cosines(
    model, shape, ref: VersionRows, target: VersionRows, ref_rows: np.ndarray, target_rows: np.ndarray
) -> np.ndarray:
    """Per pair, the cosine of the encoder's embeddings of the two images (of `shape`, as `load_encoder` checked)."""
    a = _embed(model, ref, np.unique(ref_rows), shape)
    b = _embed(model, target, np.unique(target_rows), shape)
    za = np.stack([a[int(i)] for i in ref_rows])
    zb = np.stack([b[int(i)] for i in target_rows])
    norms = np.linalg.norm(za, axis=1) * np.linalg.norm(zb, axis=1)
    return (za * zb).sum(axis=1) / np.where(norms == 0, 1.0, norms)
