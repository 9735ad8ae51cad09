"""Autoencoders: an MLP for small images, a convolutional one for larger, and
torchvision ResNets (`backbones.py`)."""

from __future__ import annotations

import itertools

import torch
from torch import nn

from datagov.pixels.shape import ImageShape

CONV_MIN_SIDE = 16  # below this an MLP is both faster and better


def pick_kind(kind: str, shape: ImageShape) -> str:
    if kind != "auto":
        return kind
    return "conv" if min(shape.height, shape.width) >= CONV_MIN_SIDE else "mlp"


class MLPAutoencoder(nn.Module):
    def __init__(self, shape: ImageShape, hidden: list[int], latent: int) -> None:
        super().__init__()
        self.shape = shape
        dims = [shape.numel, *hidden]
        enc: list[nn.Module] = [nn.Flatten()]
        for a, b in itertools.pairwise(dims):
            enc += [nn.Linear(a, b), nn.ReLU()]
        enc.append(nn.Linear(dims[-1], latent))
        self.encoder = nn.Sequential(*enc)
        rdims = [latent, *reversed(hidden)]
        dec: list[nn.Module] = []
        for a, b in itertools.pairwise(rdims):
            dec += [nn.Linear(a, b), nn.ReLU()]
        dec.append(nn.Linear(rdims[-1], shape.numel))
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # logits, shaped like x
        return self.decoder(self.encoder(x)).view(-1, self.shape.channels, self.shape.height, self.shape.width)


class ConvAutoencoder(nn.Module):
    def __init__(self, shape: ImageShape, channels: list[int], latent: int) -> None:
        super().__init__()
        self.shape = shape
        layers: list[nn.Module] = []
        c_in = shape.channels
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.ReLU()]
            c_in = c
        scale = 2 ** len(channels)
        if shape.height % scale or shape.width % scale:
            raise ValueError(f"image size {shape.height}x{shape.width} must divide by {scale} for this conv stack")
        self.grid = (channels[-1], shape.height // scale, shape.width // scale)
        flat = channels[-1] * self.grid[1] * self.grid[2]
        self.encoder = nn.Sequential(*layers, nn.Flatten(), nn.Linear(flat, latent))
        dec: list[nn.Module] = []
        rev = list(reversed(channels))
        for a, b in zip(rev, [*rev[1:], shape.channels], strict=True):
            dec += [nn.ConvTranspose2d(a, b, 4, stride=2, padding=1), nn.ReLU()]
        dec.pop()  # logits out: no activation after the last layer
        self.project = nn.Linear(latent, flat)
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.project(self.encoder(x)).view(-1, *self.grid)
        return self.decoder(torch.relu(z))


def build_autoencoder(kind: str, shape: ImageShape, hidden: list[int], channels: list[int], latent: int) -> nn.Module:
    from datagov.training.backbones import BACKBONES, BackboneAutoencoder

    kind = pick_kind(kind, shape)
    if kind == "mlp":
        return MLPAutoencoder(shape, hidden, latent)
    if kind in BACKBONES:
        return BackboneAutoencoder(kind, shape, latent)
    return ConvAutoencoder(shape, channels, latent)
