"""Reading what the near-duplicate search needs from a version, from bytes
hashed as they are read.

Image versions ingested since the perceptual hashes exist carry `phash`,
`dhash` and `thumb` columns. Older versions get them on first use: decoded
once from their verified images into `catalog/cache/<digest>/fingerprints.parquet`,
whose sha256 is recorded in the catalog and checked before every later use
(a cache that differs is rebuilt, never trusted).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from dataclasses import dataclass, field

import numpy as np

from datagov.catalog.caches import CacheRecord, cache_record, forget_cache, record_cache
from datagov.catalog.db import open_catalog
from datagov.catalog.versions import Version
from datagov.errors import IntegrityError, InvalidInput
from datagov.near.fingerprints import THUMB, hashes_of_bytes
from datagov.near.images import ImageRows
from datagov.store.files import ChangedObjects, VersionFiles, read_verified
from datagov.workspace import Workspace

CACHE_NAME = "fingerprints.parquet"
FINGERPRINTS = ("phash", "dhash", "thumb")
SHAPE = ("height", "width")


@dataclass
class VersionRows:
    """One version's rows as the search reads them, and how to find a row's image again."""

    version: Version
    files: VersionFiles  # local, verified copies
    offsets: np.ndarray  # first global row of each file
    labels: np.ndarray | None = None  # object array, per row (None: unlabelled)
    names: list[str] = field(default_factory=list)  # the `path` column: where each row came from
    images: ImageRows | None = None
    keys: np.ndarray | None = None  # images: `pixel_hash`, equal for identical pixels
    columns: dict[str, list] = field(default_factory=dict)  # tables: the text columns

    @property
    def rows(self) -> int:
        return int(self.offsets[-1]) if len(self.offsets) else 0

    def image_bytes(self, rows: list[int]) -> dict[int, bytes]:
        """The stored (encoded) image of each row, read from verified bytes."""
        out: dict[int, bytes] = {}
        wanted = sorted(set(rows))
        for i, (path, sha) in enumerate(zip(self.files.paths, self.files.sha256s, strict=True)):
            lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
            mine = [r for r in wanted if lo <= r < hi]
            if not mine:
                continue
            table = read_verified(path, sha).read(columns=["image"])
            import pyarrow as pa

            taken = table.column("image").take(pa.array([r - lo for r in mine])).to_pylist()
            out.update(zip(mine, taken, strict=True))
        return out


def usable_files(ws: Workspace, files: VersionFiles, version: Version) -> VersionFiles:
    """Local files to read, every one checked against the manifest as it is
    read (`read_verified`); a listing that differs is refused first."""
    problems = [f"{p.path} ({p.problem})" for p in files.check(full=False, etags=False)]
    if not problems:
        try:
            return files if files.direct else files.usable(ws.tmp_dir)
        except ChangedObjects as exc:
            problems = [f"{name} (hash)" for name in exc.names]
    raise IntegrityError(
        f"{version.ref} no longer matches its manifest: {', '.join(problems[:5])}",
        hint=f"see `datagov datasets verify {version.ref}`; restore the files or ingest the data again",
    )


def is_image_version(version: Version) -> bool:
    return any(c["name"] == "image" and str(c.get("type", "")).upper() == "BLOB" for c in version.schema)


def read_rows(
    ws: Workspace,
    version: Version,
    files: VersionFiles,
    *,
    modality: str,
    label_column: str | None,
    text_columns: list[str],
) -> VersionRows:
    """Labels, names, and the image fingerprints or text columns of every row.

    Stored fingerprints are used only in image versions, where datagov's
    ingest computed them from the decoded pixels; a table that merely has
    such columns (its writer chose their values) is fingerprinted here from
    its images, like a version older than the columns."""
    import pyarrow as pa

    usable = usable_files(ws, files, version)
    is_image = is_image_version(version)
    trusted = modality == "image" and all(c in version.columns for c in (*FINGERPRINTS, *SHAPE, "pixel_hash"))
    cached = _cached_prints(ws, version) if is_image and not trusted else None
    want = [c for c in (label_column, "label_name" if label_column else None, "path") if c and c in version.columns]
    if trusted:
        want += [*SHAPE, "pixel_hash", *FINGERPRINTS]
    elif is_image and cached is None:
        want.append("image")
    want += [c for c in text_columns if c not in want]
    tables, offsets = [], [0]
    for path, sha in zip(usable.paths, usable.sha256s, strict=True):
        table = read_verified(path, sha).read(columns=want)
        tables.append(table)
        offsets.append(offsets[-1] + table.num_rows)
    table = pa.concat_tables(tables) if tables else pa.table({c: [] for c in want})
    out = VersionRows(version, usable, np.array(offsets, np.int64))
    if label_column and label_column in table.column_names:
        shown = "label_name" if "label_name" in table.column_names else label_column
        out.labels = np.array(table.column(shown).to_pylist(), dtype=object)
    if "path" in table.column_names:
        out.names = table.column("path").to_pylist()
    out.columns = {c: table.column(c).to_pylist() for c in text_columns}
    if is_image:
        prints = (
            table if trusted else cached if cached is not None else _build_cache(ws, version, table.column("image"))
        )
        if prints.num_rows != table.num_rows:
            raise IntegrityError(f"the fingerprints of {version.ref} have {prints.num_rows} rows, not {table.num_rows}")
        out.images = _image_rows(prints)
        out.keys = np.array(prints.column("pixel_hash").to_pylist(), dtype=object)
    return out


def _image_rows(prints) -> ImageRows:
    return ImageRows(
        hashes_of_bytes(prints.column("phash").to_pylist()),
        hashes_of_bytes(prints.column("dhash").to_pylist()),
        _thumbs(prints.column("thumb").combine_chunks()),
        prints.column("height").to_numpy().astype(np.int64),
        prints.column("width").to_numpy().astype(np.int64),
    )


def _thumbs(column) -> np.ndarray:
    """(N, 16, 16) uint8 from a binary column whose values are all 256 bytes."""
    offsets = np.frombuffer(column.buffers()[1], np.int32)[column.offset : column.offset + len(column) + 1]
    if len(column) and not np.all(np.diff(offsets) == THUMB * THUMB):
        raise IntegrityError("a thumbnail is not 16x16 bytes", hint="ingest the data again")
    data = (
        np.frombuffer(column.buffers()[2], np.uint8)[offsets[0] : offsets[-1]] if len(column) else np.zeros(0, np.uint8)
    )
    return data.reshape(-1, THUMB, THUMB)


def _cache_path(ws: Workspace, version: Version):
    return ws.cache_dir / version.digest / CACHE_NAME


def _cached_prints(ws: Workspace, version: Version):
    """The cached fingerprints, when present and matching their recorded sha256."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = _cache_path(ws, version)
    with open_catalog(ws) as con:
        record = cache_record(con, version.digest, CACHE_NAME)
    if record is None or not path.is_file():
        return None
    data = path.read_bytes()
    if len(data) != record.bytes or hashlib.sha256(data).hexdigest() != record.sha256:
        print(f"warning: {path.relative_to(ws.root)} differs from its recorded sha256; rebuilding it", file=sys.stderr)
        return None
    return pq.read_table(pa.BufferReader(data))


def _build_cache(ws: Workspace, version: Version, images):
    """Decode every image once, fingerprint it, and keep the result (atomically)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from datagov.near.fingerprints import hash_columns
    from datagov.sources.image_features import BadImage, decode, pixel_features

    thumbs, heights, widths, keys = [], [], [], []
    for row, blob in enumerate(images.to_pylist()):
        try:
            pixels = decode(blob or b"")[0]
        except BadImage as exc:
            raise InvalidInput(f"row {row} of {version.ref} is not a decodable image: {exc}") from None
        height, width, *_, key, thumb = pixel_features(pixels)  # what ingest stores, computed the same way
        thumbs.append(thumb)
        heights.append(height)
        widths.append(width)
        keys.append(key)
    phash, dhash = hash_columns(thumbs)
    table = pa.table(
        {"phash": phash, "dhash": dhash, "thumb": thumbs, "height": heights, "width": widths, "pixel_hash": keys},
        schema=pa.schema(
            [
                *((c, pa.binary()) for c in FINGERPRINTS),
                ("height", pa.int32()),
                ("width", pa.int32()),
                ("pixel_hash", pa.string()),
            ]
        ),
    )
    path = _cache_path(ws, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{os.getpid()}-{secrets.token_hex(4)}-{path.name}.tmp")  # pid first: the sweep knows it
    try:
        pq.write_table(table, tmp, compression="zstd")
        data = tmp.read_bytes()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    with open_catalog(ws, write=True) as con:
        forget_cache(con, version.digest, CACHE_NAME)
        record_cache(con, CacheRecord(version.digest, CACHE_NAME, hashlib.sha256(data).hexdigest(), len(data)))
    return table
