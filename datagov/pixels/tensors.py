"""Encoded images to torch tensors, with the one codec (`pixels.codec`)."""

from __future__ import annotations

import numpy as np
import torch

from datagov.errors import InvalidInput
from datagov.pixels.codec import BadImage, decode
from datagov.pixels.shape import ImageShape


def decode_batch(blobs: list[bytes], shape: ImageShape) -> torch.Tensor:
    """Encoded images -> uint8 tensor (N, C, H, W), with the decoder ingest
    used (`pixels.codec.decode`): an image accepted at ingest
    decodes here the same way. Kept as bytes until the training device
    (`to_unit_float`): a quarter of float32's traffic between loader workers,
    pinned memory and the GPU."""
    out = np.empty((len(blobs), shape.height, shape.width, shape.channels), dtype=np.uint8)
    for i, blob in enumerate(blobs):
        try:
            pixels, _ = decode(blob, max_pixels=shape.height * shape.width, channels=shape.channels)
        except BadImage as exc:
            raise InvalidInput(f"a stored image of shape {shape} cannot be decoded: {exc}") from None
        if pixels.shape[:2] != (shape.height, shape.width):
            raise InvalidInput(f"a stored image is {pixels.shape[0]}x{pixels.shape[1]}, the version says {shape}")
        out[i] = pixels.reshape(shape.height, shape.width, shape.channels)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def to_unit_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float in [0, 1], on whatever device they are on."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images
