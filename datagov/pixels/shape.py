"""An image version's one shape (channels, height, width), as its feature
columns say, for every layer that turns its images into arrays."""

from __future__ import annotations

from dataclasses import dataclass

from datagov.catalog.versions import Version, scan_version
from datagov.errors import InvalidInput
from datagov.store import duckdb_connection
from datagov.workspace import Workspace


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


def image_shape(ws: Workspace, version: Version) -> ImageShape:
    """The one (C, H, W) shared by every image, or an error saying otherwise."""
    if "image" not in version.columns:
        raise InvalidInput(f"{version.ref} has no image column; training needs an image dataset")
    con = duckdb_connection()
    try:
        rows = con.execute(f"SELECT DISTINCT channels, height, width FROM {scan_version(ws, version)}").fetchall()
    finally:
        con.close()
    if len(rows) != 1:
        raise InvalidInput(f"{version.ref} mixes image shapes {sorted(rows)[:5]}; resize them to one shape first")
    return ImageShape(*rows[0])
