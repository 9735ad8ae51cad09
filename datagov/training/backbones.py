"""torchvision backbones as autoencoder encoders (`model.kind: resnet18`,
`resnet34`): the same gate, logging, safetensors weights and DDP path as the
small models, and the encoder a transfer fine-tunes or freezes.

torchvision's ResNets are built for 224 px: a 7×7 stride-2 stem and a max
pool shrink the input 4× before the first block, which leaves nothing of an
8–32 px image. For sides up to `SMALL_IMAGE` the stem is the one CIFAR
ResNets use (3×3, stride 1, no pool), so the body downsamples 8×; above it
torchvision's own stem stays (32×). The first convolution takes the
image's channels (1 for grayscale). The pooled features go through a linear
layer to the latent code; the decoder mirrors the body with transposed
convolutions back to the input size, which must divide by the
downsampling.
"""

from __future__ import annotations

from torch import nn

from datagov.training.inputs import ImageShape

BACKBONES = ("resnet18", "resnet34")
SMALL_IMAGE = 32  # sides up to this get the small-image stem


def downsampling(shape: ImageShape) -> int:
    return 8 if max(shape.height, shape.width) <= SMALL_IMAGE else 32


def resnet_encoder(kind: str, shape: ImageShape, latent: int) -> nn.Module:
    """A torchvision ResNet (random weights) from image to latent code."""
    import torchvision

    if kind not in BACKBONES:
        raise ValueError(f"unknown backbone {kind!r}; one of {', '.join(BACKBONES)}")
    net = getattr(torchvision.models, kind)(weights=None)
    if downsampling(shape) == 8:
        net.conv1 = nn.Conv2d(shape.channels, 64, 3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    else:
        net.conv1 = nn.Conv2d(shape.channels, 64, 7, stride=2, padding=3, bias=False)
    net.fc = nn.Linear(net.fc.in_features, latent)
    return net


class ResNetAutoencoder(nn.Module):
    def __init__(self, kind: str, shape: ImageShape, latent: int, width: int = 256) -> None:
        super().__init__()
        factor = downsampling(shape)
        if shape.height % factor or shape.width % factor:
            raise ValueError(
                f"image size {shape.height}x{shape.width} must divide by {factor} for a {kind} encoder "
                f"(sides up to {SMALL_IMAGE} px use the small-image stem and divide by 8)"
            )
        self.shape = shape
        self.encoder = resnet_encoder(kind, shape, latent)
        self.grid = (width, shape.height // factor, shape.width // factor)
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
        return self.decoder(z.relu())
