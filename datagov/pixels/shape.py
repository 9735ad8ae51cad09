"""An image's shape (channels, height, width), for every layer that turns
images into arrays. (A version's one shape is a catalog question:
`catalog.images.image_shape`.)"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageShape:
    channels: int
    height: int
    width: int

    @property
    def numel(self) -> int:
        return self.channels * self.height * self.width

    def __str__(self) -> str:
        return f"{self.channels}x{self.height}x{self.width}"
