"""One image of a version, for the desk's side-by-side pairs: read by row
number from the version's own verified Parquet (never by a path a request
names), decoded, and re-encoded as PNG so the browser gets pixels, never the
stored bytes as they are (which a user could have crafted)."""

from __future__ import annotations

import io
import threading

from datagov.catalog.db import open_catalog
from datagov.catalog.locations import locate
from datagov.catalog.versions import Version, resolve
from datagov.errors import IntegrityError, NotFound
from datagov.sql import sql_str
from datagov.store.files import Fingerprint
from datagov.verify import Intact, require_intact
from datagov.workspace import Workspace

MAX_SIDE = 256  # larger images are scaled down: the page shows thumbnails

_verified: dict[str, Intact] = {}  # digest -> the files as last hashed, reused while stat says untouched
_lock = threading.Lock()


def row_png(ws: Workspace, name: str, digest: str, row: int) -> bytes:
    with open_catalog(ws) as con:
        version = resolve(con, f"{name}@{digest}")
        if version.digest != digest:
            raise NotFound(f"no version {name}@{digest}", hint="link to a version by its whole digest")
        if "image" not in version.columns:
            raise NotFound(f"{version.ref} holds no images")
        if not 0 <= row < version.rows:
            raise NotFound(f"{version.ref} has no row {row} (it has {version.rows:,})")
        files = locate(ws, con, version.digest, version.dataset)
    intact = _intact(ws, version, files)
    blob = _image_bytes(intact, row, version)
    return _as_png(blob, version, row, ws.max_image_pixels)


def _intact(ws: Workspace, version: Version, files) -> Intact:
    with _lock:
        known = _verified.get(version.digest)
    if known is not None and all(fp.unchanged() for fp in known.fingerprints):
        return known
    intact = require_intact(ws, version, files, purpose="show its images")
    with _lock:
        _verified[version.digest] = intact
    return intact


def _image_bytes(intact: Intact, row: int, version: Version) -> bytes | None:
    """The row's stored image, from the file that holds it (the usable files'
    own row counts: shards rendered from tar have their own)."""
    from datagov.store import duckdb_connection

    start = 0
    rows_per_file = [e.rows for e in intact.files.entries]
    for path, rows, fingerprint in zip(intact.files.paths, rows_per_file, intact.fingerprints, strict=True):
        if row < start + rows:
            duck = duckdb_connection(threads=1)
            try:
                found = duck.execute(
                    f"SELECT image FROM read_parquet({sql_str(path)}, file_row_number=true) WHERE file_row_number = ?",
                    [row - start],
                ).fetchone()
            finally:
                duck.close()
            _still(fingerprint, version)
            return bytes(found[0]) if found and found[0] is not None else None
        start += rows
    raise NotFound(f"{version.ref} has no row {row}")


def _still(fingerprint: Fingerprint, version: Version) -> None:
    if not fingerprint.unchanged():
        with _lock:
            _verified.pop(version.digest, None)
        raise IntegrityError(f"{version.ref} changed while it was read", hint=f"datagov datasets verify {version.ref}")


def _as_png(blob: bytes | None, version: Version, row: int, max_pixels: int) -> bytes:
    from PIL import Image

    from datagov.pixels.codec import BadImage, decode

    if blob is None:
        raise NotFound(f"row {row} of {version.ref} has no image")
    try:
        pixels, _ = decode(blob, max_pixels)
    except BadImage as exc:
        raise NotFound(f"row {row} of {version.ref} is not an image datagov can read: {exc}") from None
    image = Image.fromarray(pixels)
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
