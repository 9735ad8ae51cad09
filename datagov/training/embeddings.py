"""Every image of a version through a registered encoder, from verified
bytes (the training input path: the hash-checked decode cache when it fits),
for `datagov select --encoder`."""

from __future__ import annotations

import numpy as np

from datagov.catalog.versions import Version
from datagov.training.encoders import LoadedEncoder
from datagov.workspace import Workspace

BATCH = 4096


def embed_version(ws: Workspace, encoder: LoadedEncoder, version: Version) -> np.ndarray:
    """(rows, latent) float32 embeddings, in the version's row order."""
    import torch

    from datagov.pixels.tensors import to_unit_float
    from datagov.training.data import ParquetImageStream
    from datagov.training.inputs import image_input
    from datagov.training.pixel_cache import ensure_pixels

    data = image_input(ws, version.node_id)
    if str(data.shape) != str(encoder.shape):
        from datagov.errors import InvalidInput

        raise InvalidInput(f"the encoder {encoder.uri} takes {encoder.shape} images; {version.ref} has {data.shape}")
    stream = ParquetImageStream(data.files, data.shape, split="all", shuffle=False, batch_size=BATCH,
                                pixels=ensure_pixels(ws, data))  # fmt: skip
    out = []
    with torch.no_grad():
        for images, _labels in stream:
            out.append(encoder.model.encoder(to_unit_float(images)).flatten(1).float().numpy())
    data.require_unchanged("embed it")
    return np.concatenate(out) if out else np.zeros((0, 1), np.float32)
