"""The torchvision backbones datagov can use as encoders, by name: the one
list the spec, the CLI's help and `backbones.BACKBONES` (which builds them,
and imports torch) agree on. Torch-free, so the CLI can show it at once."""

from __future__ import annotations

BACKBONE_NAMES = ("resnet18", "resnet34", "mobilenet_v3_small")
MODEL_KINDS = ("auto", "mlp", "conv", *BACKBONE_NAMES)  # `model.kind` in a pretraining spec


def names_text() -> str:
    """`resnet18, resnet34 or mobilenet_v3_small`, for help text."""
    return ", ".join(BACKBONE_NAMES[:-1]) + " or " + BACKBONE_NAMES[-1]
