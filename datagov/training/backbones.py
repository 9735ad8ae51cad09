"""torchvision backbones as autoencoder encoders (`model.kind: resnet18`,
`resnet34`, `mobilenet_v3_small`): the same gate, logging, safetensors
weights and DDP path as the small models, and the encoder a transfer
fine-tunes or freezes.

torchvision's networks are built for 224 px: their stems shrink the input
4× before the first block, which leaves nothing of an 8–32 px image. For
sides up to `SMALL_IMAGE` each gets a small-image stem (a ResNet the 3×3,
stride-1, no-pool stem of CIFAR ResNets; MobileNet its first two stride-2
layers at stride 1), so the body downsamples 8×; above it torchvision's
own stem stays (32×). The first convolution takes the image's channels (1
for grayscale). The classifier's last linear layer becomes the latent layer
(its key is `Backbone.head`, which `models import` reads the latent size
from); the decoder turns the code back into an image with transposed
convolutions, from a grid the downsampling (rounded up) smaller than the
image, cropped to the image's size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from datagov.pixels.shape import ImageShape

SMALL_IMAGE = 32  # sides up to this get the small-image stem


def downsampling(shape: ImageShape) -> int:
    return 8 if max(shape.height, shape.width) <= SMALL_IMAGE else 32


def _resnet(kind: str) -> Callable[[ImageShape, int], nn.Module]:
    def build(shape: ImageShape, latent: int) -> nn.Module:
        import torchvision

        net = getattr(torchvision.models, kind)(weights=None)
        if downsampling(shape) == 8:
            net.conv1 = nn.Conv2d(shape.channels, 64, 3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        else:
            net.conv1 = nn.Conv2d(shape.channels, 64, 7, stride=2, padding=3, bias=False)
        net.fc = nn.Linear(net.fc.in_features, latent)
        return net

    return build


def _mobilenet_v3_small(shape: ImageShape, latent: int) -> nn.Module:
    import torchvision

    net = torchvision.models.mobilenet_v3_small(weights=None)
    small = downsampling(shape) == 8
    stem = net.features[0][0].out_channels
    net.features[0][0] = nn.Conv2d(shape.channels, stem, 3, stride=1 if small else 2, padding=1, bias=False)
    if small:  # the first block's depthwise convolution is the second stride-2 layer
        net.features[1].block[0][0].stride = (1, 1)
    net.classifier[3] = nn.Linear(net.classifier[3].in_features, latent)
    return net


@dataclass(frozen=True)
class Backbone:
    build: Callable[[ImageShape, int], nn.Module]  # image -> latent code, random weights
    head: str  # state-dict key of the latent layer's weight (torchvision's classifier output)


BACKBONES = {
    "resnet18": Backbone(_resnet("resnet18"), "fc.weight"),
    "resnet34": Backbone(_resnet("resnet34"), "fc.weight"),
    "mobilenet_v3_small": Backbone(_mobilenet_v3_small, "classifier.3.weight"),
}


def backbone_encoder(kind: str, shape: ImageShape, latent: int) -> nn.Module:
    """A torchvision network (random weights) from image to latent code."""
    if kind not in BACKBONES:
        raise ValueError(f"unknown backbone {kind!r}; one of {', '.join(BACKBONES)}")
    return BACKBONES[kind].build(shape, latent)


class BackboneAutoencoder(nn.Module):
    def __init__(self, kind: str, shape: ImageShape, latent: int, width: int = 256) -> None:
        super().__init__()
        factor = downsampling(shape)
        self.shape = shape
        self.encoder = backbone_encoder(kind, shape, latent)  # any size: the networks end in adaptive pooling
        # The decoder rebuilds a grid `factor` times smaller, rounded up, and its output is cropped
        # to the image: 28x28 (MNIST, Fashion-MNIST) decodes 4x4 -> 32x32 -> 28x28.
        self.grid = (width, -(-shape.height // factor), -(-shape.width // factor))
        self.project = nn.Linear(latent, width * self.grid[1] * self.grid[2])
        layers: list[nn.Module] = []
        c = width
        for _ in range(factor.bit_length() - 1):  # one 2x upsampling per halving
            out = max(c // 2, 16)
            layers += [nn.ConvTranspose2d(c, out, 4, stride=2, padding=1), nn.BatchNorm2d(out), nn.ReLU()]
            c = out
        layers.append(nn.Conv2d(c, shape.channels, 3, padding=1))  # logits
        self.decoder = nn.Sequential(*layers)

    def forward(self, x):
        z = self.project(self.encoder(x)).view(-1, *self.grid)
        return self.decoder(z.relu())[:, :, : self.shape.height, : self.shape.width]
