"""Where a model's weights live: the device, and convolution weights in
channels-last order on every device.

Channels-last is the layout oneDNN (CPU) and cuDNN (GPU, with bf16 tensor
cores) run convolutions fastest in; a convolution follows its weight's
layout, so the images stay as they are. On 2 CPU cores it made a ResNet-18
training step 1.1-1.2x and its embedding 1.1-1.5x faster, the conv
autoencoder's embedding 1.3x (`python -m bench.memory_format`, four runs);
the conv autoencoder's training step took 0.85-1.31 times as long (1.1 at
the median of seven), a cost not yet weighed per kind. Linear layers (the
MLP) have no such layout and are only moved. Saved weights and digests are made
from contiguous copies, so the bytes on disk do not depend on it.
"""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import nn

M = TypeVar("M", bound=nn.Module)


def place(model: M, device: torch.device | str = "cpu") -> M:
    return model.to(device).to(memory_format=torch.channels_last)
