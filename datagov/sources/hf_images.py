"""Hugging Face `datasets` Parquet with an image column.

`datasets` stores an `Image` feature as `struct<bytes: binary, path: string>`
and a `ClassLabel` as an integer column whose names live in the file's
`huggingface` metadata. Such a source becomes an image version: the image
column becomes `image` (encoded bytes, as every image version has), its
`path` becomes `path`, the other columns are kept under their own names,
each class-label column gains `<column>_name`, and the feature columns
(`height`, `width`, `channels`, `mean`, `std`, `pixel_hash`) are computed
with the one decoder, in worker processes.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from datagov.errors import SourceError
from datagov.sources import IngestOptions, SourceResult
from datagov.store.images.columns import decode_blobs
from datagov.store.images.writer import (
    FEATURE_FIELDS,
    FILE_BYTES,
    FILE_ROWS,
    IMAGE_FIELDS,
    ROW_GROUP,
    feature_arrays,
    run_chunks,
)

BATCH = 512  # rows handed to a worker at once
OWN = {f.name for f in IMAGE_FIELDS + FEATURE_FIELDS}


MAX_METADATA_BYTES = 16 * 1024 * 1024  # a features document is kilobytes; more is not metadata


def class_labels(path: str, source: str) -> dict[str, list[str]]:
    """{column: class names} from the `huggingface` metadata of a Parquet
    file. Metadata that cannot be read as `datasets` writes it is refused,
    not ignored: the class names it gives become the stored labels."""
    raw = (pq.read_schema(path).metadata or {}).get(b"huggingface")
    if not raw:
        return {}
    where = f"the huggingface metadata of {source}"
    hint = "fix or remove the file's `huggingface` metadata (class names then stay integers)"
    if len(raw) > MAX_METADATA_BYTES:
        raise SourceError(f"{where} is {len(raw):,} bytes, over {MAX_METADATA_BYTES:,}", hint=hint)
    try:
        features = json.loads(raw).get("info", {}).get("features", {})
    except RecursionError:
        raise SourceError(f"{where} nests too deeply to read", hint=hint) from None
    except (ValueError, AttributeError):
        raise SourceError(f"{where} is not a JSON object", hint=hint) from None
    if not isinstance(features, dict):
        return {}
    labels = {}
    for name, spec in features.items():
        if isinstance(spec, dict) and spec.get("_type") == "ClassLabel":
            names = spec.get("names")
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise SourceError(f"{where}: ClassLabel {name!r} has names that are not a list of strings", hint=hint)
            labels[name] = names
    return labels


def check_columns(schema: pa.Schema, image_col: str, labels: dict[str, list[str]], source: str) -> None:
    """Refuse a source column that a computed column would shadow, and a
    ClassLabel on a column that cannot hold class ids."""
    names = {f.name for f in schema if f.name != image_col}
    computed = OWN | {f"{label}_name" for label in labels}
    clash = sorted(computed & names)
    if clash:
        raise SourceError(
            f"{source} has column(s) {', '.join(clash)}, which datagov computes for images",
            hint="rename them before ingesting",
        )
    for label in labels:
        if not pa.types.is_integer(schema.field(label).type):
            raise SourceError(
                f"{source}: ClassLabel column {label!r} is {schema.field(label).type}, not integer class ids",
                hint="fix the file's `huggingface` metadata, or cast the column to integers",
            )


class HFImageWriter:
    """Writes each decoded chunk beside the source rows it came from (the
    batches are queued in the order their chunks were handed out)."""

    def __init__(self, out: Path, image_col: str, schema: pa.Schema, labels: dict[str, list[str]]) -> None:
        self.out, self.image_col, self.labels = out, image_col, labels
        self.keep = [f for f in schema if f.name != image_col]
        self.schema = pa.schema(
            IMAGE_FIELDS + self.keep + [pa.field(f"{name}_name", pa.string()) for name in labels] + FEATURE_FIELDS
        )
        self.pending: collections.deque[pa.RecordBatch] = collections.deque()
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._part = self._in_part = self._part_bytes = 0

    def add(self, rows: dict[str, list]) -> None:
        batch = self.pending.popleft()
        if not rows["image"]:
            return
        kept = batch.take(pa.array(rows["label"], pa.int64()))  # `label` carries the row's index in its batch
        columns = [pa.array(rows["image"], pa.binary()), pa.array(rows["format"]), pa.array(rows["path"])]
        columns += [kept.column(f.name) for f in self.keep]
        for name, names in self.labels.items():
            ids = kept.column(name).to_pylist()
            columns.append(pa.array([names[i] if i is not None and 0 <= i < len(names) else None for i in ids]))
        columns += feature_arrays(rows)
        self._write(pa.Table.from_arrays(columns, schema=self.schema), sum(len(b) for b in rows["image"]))

    def _write(self, table: pa.Table, size: int) -> None:
        if self._writer is None or self._in_part >= FILE_ROWS or self._part_bytes >= FILE_BYTES:
            self.close()
            part = self.out / f"part-{self._part:05d}.parquet"
            self._writer = pq.ParquetWriter(part, self.schema, compression="zstd")
            self._part += 1
            self._in_part = self._part_bytes = 0
        self._writer.write_table(table, row_group_size=ROW_GROUP)
        self.rows += table.num_rows
        self._in_part += table.num_rows
        self._part_bytes += size

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _chunks(batches: Iterator[pa.RecordBatch], writer: HFImageWriter, image_col: str) -> Iterator[list]:
    seen = 0
    for batch in batches:
        images = batch.column(image_col)
        data, paths = images.field("bytes").to_pylist(), images.field("path").to_pylist()
        writer.pending.append(batch)
        chunk = []
        for i, (blob, name) in enumerate(zip(data, paths, strict=True)):
            chunk.append((blob or b"", name or f"row-{seen + i}", i))
        seen += batch.num_rows
        yield chunk


def write_hf_images(con, reader: str, image_col: str, source: str, out: Path, opts: IngestOptions, first: str):
    """Decode the image column of Hugging Face Parquet into an image version."""
    stream = con.sql(f"SELECT * FROM {reader}").to_arrow_reader(BATCH)
    labels = {k: v for k, v in class_labels(first, source).items() if k in stream.schema.names and k != image_col}
    check_columns(stream.schema, image_col, labels, source)
    label = opts.label or next(iter(labels), None)
    if label is None and "label" in stream.schema.names and pa.types.is_integer(stream.schema.field("label").type):
        label = "label"
    writer = HFImageWriter(out, image_col, stream.schema, labels)
    rejects: list[tuple[str, str]] = []

    def on_bad(bad: list[tuple[str, str]]) -> None:
        if not opts.skip_bad:
            name, reason = bad[0]
            raise SourceError(
                f"cannot decode image {name!r} of column {image_col!r} in {source}: {reason}; nothing was ingested",
                hint="pass --skip-bad to skip undecodable images (they are recorded as rejects)",
            )
        rejects.extend(bad)

    try:
        run_chunks(
            partial(decode_blobs, max_pixels=opts.max_pixels),
            _chunks(iter(stream), writer, image_col),
            None,
            writer,
            workers=opts.workers,
            label="decoding images",
            show_progress=opts.show_progress,
            on_bad=on_bad,
        )
    finally:
        writer.close()
    if writer.rows == 0:
        raise SourceError(f"no readable images in column {image_col!r} of {source}")
    return SourceResult(
        modality="image",
        label_column=label,
        rejects=rejects,
        details={"image_column": image_col, "class_labels": labels, "skipped": len(rejects)},
    )
