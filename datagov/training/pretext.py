"""What an autoencoder is asked to do with its input (`train.pretext`).

- reconstruct: rebuild the image (with `train.noise`, Gaussian noise on the
  input: the classic denoising autoencoder).
- denoise: rebuild the whole image from a corrupted one: square patches
  blanked (`train.mask_ratio` of them, `train.patch` pixels a side) and the
  Gaussian noise on top. Stronger corruption than noise alone.
- masked: the same patch masking, but the loss counts only the masked
  pixels (MAE-style, He et al. 2022): the visible pixels are free to copy,
  so the code must carry what predicts the hidden ones.

Validation of `denoise` and `masked` measures the pretext itself, on masks
drawn from a generator seeded the same way every epoch, so epochs compare;
`reconstruct` validates on clean images, as it always has.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

PRETEXTS = ("reconstruct", "denoise", "masked")
MASK_SEED = 7919  # validation masks: the same every epoch and every run


def pixel_loss(kind: str):
    """Per-pixel reconstruction loss of logits against [0, 1] targets."""
    if kind == "bce":
        return lambda logits, target: nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return lambda logits, target: (torch.sigmoid(logits) - target).square()


def patch_mask(shape: torch.Size, patch: int, ratio: float, generator: torch.Generator | None) -> torch.Tensor:
    """A (N, 1, H, W) float mask, 1 where a blanked patch covers the pixel;
    each patch of the grid is blanked with probability `ratio`."""
    n, _, h, w = shape
    rows, cols = -(-h // patch), -(-w // patch)
    grid = (torch.rand(n, 1, rows, cols, generator=generator) < ratio).float()
    return grid.repeat_interleave(patch, 2).repeat_interleave(patch, 3)[:, :, :h, :w]


@dataclass(frozen=True)
class Pretext:
    kind: str = "reconstruct"
    loss: str = "mse"
    noise: float = 0.0
    mask_ratio: float = 0.5
    patch: int = 4

    def step(self, model: nn.Module, images: torch.Tensor, training: bool, autocast) -> torch.Tensor:
        """The batch's mean loss: corrupt `images` ([0, 1] floats), reconstruct, compare."""
        mask = generator = None
        if self.kind != "reconstruct":
            generator = None if training else torch.Generator().manual_seed(MASK_SEED)
            mask = patch_mask(images.shape, self.patch, self.mask_ratio, generator).to(images.device)
        inputs = images if mask is None else images * (1 - mask)
        if self.noise > 0 and training:
            inputs = inputs + self.noise * torch.randn_like(images)
        elif self.noise > 0 and mask is not None:  # validation of a corrupting pretext: fixed noise too
            inputs = inputs + self.noise * torch.randn(images.shape, generator=generator).to(images.device)
        with autocast:
            logits = model(inputs)
        per_pixel = pixel_loss(self.loss)(logits.float(), images)
        if self.kind != "masked":
            return per_pixel.mean()
        assert mask is not None
        weight = mask.expand_as(per_pixel)
        return (per_pixel * weight).sum() / weight.sum().clamp_min(1.0)
