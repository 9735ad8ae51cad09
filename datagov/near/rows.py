"""Reading what the near-duplicate search needs from a version, from bytes
hashed as they are read.

Image versions ingested since the perceptual hashes exist carry `phash`,
`dhash` and `thumb` columns. Older versions get them on first use: decoded
once from their verified images into `catalog/cache/<digest>/fingerprints.parquet`,
whose sha256 is recorded in the catalog and checked before every later use
(a cache that differs is rebuilt, never trusted).
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from datagov.catalog.caches import CacheRecord, cache_record, forget_cache, record_cache
from datagov.catalog.db import open_catalog
from datagov.catalog.versions import Version
from datagov.errors import IntegrityError, InvalidInput
from datagov.near.images import ImageRows
from datagov.pixels.fingerprints import HASH_BYTES, THUMB
from datagov.store.derived import cache_file, written
from datagov.store.files import ChangedObjects, Fingerprint, VersionFiles, read_verified
from datagov.workspace import Workspace

CACHE_NAME = "fingerprints.parquet"
FINGERPRINTS = ("phash", "dhash", "thumb")
SHAPE = ("height", "width")
_INTEGERS = {f"{sign}int{bits}": np.dtype(f"{sign}int{bits}") for sign in ("", "u") for bits in (8, 16, 32, 64)}


@dataclass
class VersionRows:
    """One version's rows as the search reads them, and how to find a row's image again."""

    version: Version
    files: VersionFiles  # local, verified copies
    offsets: np.ndarray  # first global row of each file
    stats: list[Fingerprint] = field(default_factory=list)  # each file as it was when hashed
    images: ImageRows | None = None
    keys: np.ndarray | None = None  # images: `pixel_hash`, equal for identical pixels
    columns: dict[str, list] = field(default_factory=dict)  # tables: the text columns
    label_values: Any = None  # the label (or label name) column, as read (a pyarrow ChunkedArray)
    name_values: Any = None  # the `path` column: where each row came from (a pyarrow ChunkedArray)

    @property
    def rows(self) -> int:
        return int(self.offsets[-1]) if len(self.offsets) else 0

    @functools.cached_property
    def labels(self) -> np.ndarray | None:
        """Per row (an object array), or None when the version has no labels."""
        if self.label_values is None:
            return None
        return np.array(self.label_values.to_pylist(), dtype=object)

    @functools.cached_property
    def names(self) -> list[str]:
        return self.name_values.to_pylist() if self.name_values is not None else []

    def label(self, row: int):
        return self.label_values[row].as_py() if self.label_values is not None else None

    def name(self, row: int) -> str | None:
        return self.name_values[row].as_py() if self.name_values is not None else None

    def image_bytes(self, rows: list[int]) -> dict[int, bytes]:
        """The stored (encoded) image of each row, from files stat says are
        untouched since they were hashed (DuckDB reads only the pages that
        hold those rows)."""
        from datagov.sql import sql_str
        from datagov.store import duckdb_connection

        out: dict[int, bytes] = {}
        wanted = sorted(set(rows))
        con = duckdb_connection()
        try:
            for i, path in enumerate(self.files.paths):
                lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
                mine = [r - lo for r in wanted if lo <= r < hi]
                if not mine:
                    continue
                if self.stats and not self.stats[i].unchanged():
                    raise IntegrityError(
                        f"{os.path.basename(path)} of {self.version.ref} changed while it was read",
                        hint=f"see `datagov datasets verify {self.version.ref}`",
                    )
                found = con.execute(
                    f"SELECT file_row_number, image FROM read_parquet({sql_str(path)}, file_row_number=true) "
                    f"WHERE file_row_number IN ({', '.join(str(int(r)) for r in mine)})"
                ).fetchall()
                out.update((int(r) + lo, bytes(image)) for r, image in found)
        finally:
            con.close()
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

    from datagov.store.leases import hold_read_lease

    hold_read_lease(ws, version.digest)
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
    tables, stats = _read_files(usable, want)
    offsets = np.cumsum([0] + [t.num_rows for t in tables])
    table = pa.concat_tables(tables) if tables else pa.table({c: [] for c in want})
    out = VersionRows(version, usable, offsets.astype(np.int64), stats)
    if label_column and label_column in table.column_names:
        out.label_values = table.column("label_name" if "label_name" in table.column_names else label_column)
    if "path" in table.column_names:
        out.name_values = table.column("path")
    out.columns = {c: table.column(c).to_pylist() for c in text_columns}
    if is_image:
        prints = (
            table if trusted else cached if cached is not None else _build_cache(ws, version, table.column("image"))
        )
        if prints.num_rows != table.num_rows:
            raise IntegrityError(f"the fingerprints of {version.ref} have {prints.num_rows} rows, not {table.num_rows}")
        out.images = image_rows_of(prints)
        out.keys = np.array(prints.column("pixel_hash").to_pylist(), dtype=object)
    return out


def _read_files(files: VersionFiles, columns: list[str]) -> tuple[list, list[Fingerprint]]:
    """The columns of every file, each file read whole and hashed first (a
    few at once: reading, hashing and parsing release the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(item: tuple[str, str]):
        path, sha = item
        stat = Fingerprint.of(path)
        return read_verified(path, sha).read(columns=columns), stat

    with ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:
        done = list(pool.map(one, zip(files.paths, files.sha256s, strict=True)))
    return [t for t, _ in done], [s for _, s in done]


def image_rows_of(prints) -> ImageRows:
    return ImageRows(
        _fixed(prints.column("phash"), HASH_BYTES).view(">u8").reshape(-1).astype(np.uint64),
        _fixed(prints.column("dhash"), HASH_BYTES).view(">u8").reshape(-1).astype(np.uint64),
        _fixed(prints.column("thumb"), THUMB * THUMB).reshape(-1, THUMB, THUMB),
        _integers(prints.column("height")),
        _integers(prints.column("width")),
    )


def _integers(column) -> np.ndarray:
    """int64 from an integer column, read from Arrow's buffers (Arrow's own
    conversion imports pandas: a fifth of a second of an erasure's start-up)."""
    parts = [np.zeros(0, np.int64)]
    for chunk in column.chunks:
        if chunk.null_count:
            raise IntegrityError("an image's height or width is missing", hint="ingest the data again")
        kind = str(chunk.type)
        if kind not in _INTEGERS:
            raise IntegrityError(f"an image's height or width is stored as {kind}, not an integer")
        values = np.frombuffer(chunk.buffers()[1], _INTEGERS[kind])
        parts.append(values[chunk.offset : chunk.offset + len(chunk)].astype(np.int64))
    return np.concatenate(parts)


def _fixed(column, width: int) -> np.ndarray:
    """(N, width) uint8 from a binary column whose values are all `width`
    bytes, read from Arrow's buffers (no Python object per row)."""
    parts = [np.zeros((0, width), np.uint8)]
    for chunk in column.chunks:
        if chunk.null_count:
            raise IntegrityError(f"a fingerprint is missing (a null among {width}-byte values)")
        offsets = np.frombuffer(chunk.buffers()[1], np.int32)[chunk.offset : chunk.offset + len(chunk) + 1]
        if len(chunk) and not np.all(np.diff(offsets) == width):
            raise IntegrityError(f"a fingerprint is not {width} bytes", hint="ingest the data again")
        if len(chunk):
            data = np.frombuffer(chunk.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
            parts.append(data.reshape(-1, width))
    return np.concatenate(parts)


def _cache_path(ws: Workspace, version: Version):
    return cache_file(ws, version.digest, CACHE_NAME)


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

    from datagov.pixels.codec import BadImage, decode, pixel_features
    from datagov.pixels.fingerprints import hash_columns

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
    with written(_cache_path(ws, version)) as tmp:
        pq.write_table(table, tmp, compression="zstd")
        data = tmp.read_bytes()
    with open_catalog(ws, write=True) as con:
        forget_cache(con, version.digest, CACHE_NAME)
        record_cache(con, CacheRecord(version.digest, CACHE_NAME, hashlib.sha256(data).hexdigest(), len(data)))
    return table
