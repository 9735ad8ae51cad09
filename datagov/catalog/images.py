"""What the catalog knows of an image version: its one image shape, read
from the feature columns every image version has (no image is decoded)."""

from __future__ import annotations

from datagov.catalog.versions import Version, scan_version
from datagov.errors import InvalidInput
from datagov.pixels.shape import ImageShape
from datagov.store import duckdb_connection
from datagov.workspace import Workspace


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
