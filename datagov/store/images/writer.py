"""Writing image records to Parquet, with decoding spread over processes.

Each sample is stored as its encoded bytes plus feature columns that quality
checks read without decoding: label, height, width, channels, mean and std
intensity (0..1), and a hash of the decoded pixels (for duplicate detection).
"""

from __future__ import annotations

import collections
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from datagov import faults
from datagov.pixels.codec import FEATURES
from datagov.store.images.columns import COLUMNS

ROW_GROUP = 4096  # rows per row group: the unit training shards stream
FILE_ROWS = 262_144  # rows per Parquet file before the next part starts...
FILE_BYTES = 256 << 20  # ...or encoded image bytes: parts of bounded size an engine can split
IN_PROCESS_BELOW = 2048  # fewer items than this are not worth a worker pool


# Every image version's columns: the encoded image, what it is and where it
# came from, then the features computed from its pixels (`pixel_features`).
IMAGE_FIELDS = [pa.field("image", pa.binary()), pa.field("format", pa.string()), pa.field("path", pa.string())]
FEATURE_FIELDS = [
    *(
        pa.field(name, type_)
        for name, type_ in zip(
            FEATURES[:-1], (pa.int32(), pa.int32(), pa.int32(), pa.float64(), pa.float64(), pa.string()), strict=True
        )
    ),
    # Near-duplicate search (datagov.near): 64-bit perceptual hashes as 8
    # big-endian bytes (binary, so no quality check mistakes them for numbers)
    # and the 16x16 gray thumbnail they are computed from.
    pa.field("phash", pa.binary()),
    pa.field("dhash", pa.binary()),
    pa.field("thumb", pa.binary()),
]


def feature_arrays(rows: Mapping[str, list]) -> list[pa.Array]:
    """FEATURE_FIELDS' columns for decoded rows, the hashes computed here
    from the thumbnails, a whole batch at once."""
    from datagov.pixels.fingerprints import hash_columns

    phash, dhash = hash_columns(rows["thumb"])
    derived = {"phash": phash, "dhash": dhash}
    return [pa.array(derived.get(f.name, rows.get(f.name)), f.type) for f in FEATURE_FIELDS]


def image_schema(labelled: bool) -> pa.Schema:
    fields = [*IMAGE_FIELDS]
    if labelled:
        fields += [pa.field("label", pa.int64()), pa.field("label_name", pa.string())]
    return pa.schema(fields + FEATURE_FIELDS)


# Encoded images are compressed already: zstd would spend more time on them
# than on everything else a worker does, for a percent or two.
COMPRESSION = {**dict.fromkeys(image_schema(labelled=True).names, "zstd"), "image": "none"}


def image_schema_doc(labelled: bool) -> list[dict]:
    """`image_schema` as a manifest records it (DuckDB's type names)."""
    import io

    import duckdb

    from datagov.store.manifest import parquet_facts_of_bytes

    buf = io.BytesIO()
    pq.write_table(image_schema(labelled).empty_table(), buf)
    con = duckdb.connect()
    try:
        return parquet_facts_of_bytes(con, buf.getvalue())[1]
    finally:
        con.close()


class ImageParquetWriter:
    """Buffers columns and writes fixed-size row groups, rolling over to new parts."""

    def __init__(
        self, out: Path, labelled: bool, label_names: Sequence[str] | None = None, prefix: str | None = None
    ) -> None:
        self.out = out
        self.prefix = prefix  # parts named PREFIX-NNN.parquet (one writer per worker), else part-NNNNN.parquet
        self.schema = image_schema(labelled)
        self.labelled = labelled
        self.label_names = list(label_names) if label_names else None
        self.rows = 0
        self._buffer: dict[str, list] = {name: [] for name in COLUMNS}
        self._writer: pq.ParquetWriter | None = None
        self._part = 0
        self._in_part = 0
        self._part_bytes = 0

    def add(self, columns: Mapping[str, list]) -> None:
        for name in COLUMNS:
            self._buffer[name].extend(columns[name])
        while len(self._buffer["image"]) >= ROW_GROUP:
            self._flush({k: v[:ROW_GROUP] for k, v in self._buffer.items()})
            for values in self._buffer.values():
                del values[:ROW_GROUP]

    def close(self) -> None:
        if self._buffer["image"]:
            self._flush(self._buffer)
            self._buffer = {name: [] for name in COLUMNS}
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _flush(self, rows: dict[str, list]) -> None:
        if self._writer is None or self._in_part >= FILE_ROWS or self._part_bytes >= FILE_BYTES:
            if self._writer is not None:
                self._writer.close()
            name = f"{self.prefix}-{self._part:03d}" if self.prefix else f"part-{self._part:05d}"
            self._writer = pq.ParquetWriter(self.out / f"{name}.parquet", self.schema, compression=COMPRESSION)
            self._part += 1
            self._in_part = 0
            self._part_bytes = 0
        columns = {f.name: a for f, a in zip(FEATURE_FIELDS, feature_arrays(rows), strict=True)}
        for field in self.schema:
            if field.name == "label_name":
                names = self.label_names
                columns["label_name"] = [
                    (names[v] if names else str(v)) if v is not None else None for v in rows["label"]
                ]
            elif field.name not in columns:
                columns[field.name] = rows[field.name]
        self._writer.write_table(pa.table(columns, schema=self.schema), row_group_size=ROW_GROUP)
        count = len(rows["image"])
        self.rows += count
        self._in_part += count
        self._part_bytes += sum(len(b) for b in rows["image"])
        faults.point("images:row-group")


def progress_columns(label: str, enabled: bool):
    """A progress bar for image work: count, rate and time left (hidden when not `enabled`)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    from datagov.progress import progress_bar

    return progress_bar(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        enabled=enabled,
    )


def ordered_results(work: Callable, chunks: Iterable, pool, ahead: int) -> Iterator:
    """`work` over `chunks` in a pool, results in input order, with at most
    `ahead` chunks in flight: a lazy source (tar shards, Parquet batches) is
    read only as fast as the workers decode it, so memory stays bounded
    (Pool.imap would read the whole source ahead)."""
    pending: collections.deque = collections.deque()
    for chunk in chunks:
        pending.append(pool.apply_async(work, (chunk,)))
        if len(pending) >= ahead:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


class RowWriter(Protocol):
    """Where decoded rows go: an ImageParquetWriter, or a source's own (HF Parquet keeps its columns)."""

    def add(self, rows: dict[str, list]) -> None: ...

    def close(self) -> None: ...


def run_chunks(
    work: Callable,
    chunks: Iterable,
    total: int | None,
    writer: RowWriter,
    *,
    workers: int | None,
    label: str,
    show_progress: bool,
    on_bad: Callable[[list[tuple[str, str]]], None],
) -> None:
    """Apply `work` to each chunk (in order, so output is deterministic) and
    write the rows; `on_bad` sees each chunk's failures and may raise to stop.
    `total` (items) sizes the progress bar; None when the source is streamed."""
    import time

    workers = workers or os.cpu_count() or 1
    parallel = workers > 1 and (total is None or total >= IN_PROCESS_BELOW)
    start = time.perf_counter()
    with progress_columns(label, show_progress) as progress:
        task = progress.add_task(label, total=total, rate="")
        if parallel:
            # forkserver: workers do not inherit the parent's threads (DuckDB,
            # torch), which `fork` would copy in an unknown state.
            ctx = multiprocessing.get_context("forkserver")
            pool = ctx.Pool(workers)
            results = ordered_results(work, chunks, pool, ahead=4 * workers)
        else:
            pool = None
            results = map(work, chunks)
        try:
            done = 0
            for rows, bad in results:
                if bad:
                    on_bad(bad)
                writer.add(rows)
                done += len(rows["image"]) + len(bad)
                rate = done / max(time.perf_counter() - start, 1e-9)
                progress.update(task, completed=done, rate=f"{rate:,.0f} img/s")
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
    writer.close()


def chunked(seq: Sequence, size: int) -> list:
    return [seq[i : i + size] for i in range(0, len(seq), size)]
