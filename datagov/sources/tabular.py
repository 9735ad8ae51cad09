"""Parquet, CSV and JSONL sources, read and rewritten by DuckDB.

Rewriting (rather than copying the bytes) gives every version the same
Parquet layout, so its digest depends on the data, not on the producer.
Output is split into parts of about `PART_BYTES`, so a large source becomes
shards a distributed engine can split. Parquet may come as a file, a folder,
a glob or an `s3://` prefix or glob (objects are downloaded into the staging
folder first); Hugging Face image columns (`struct<bytes, path>`) are
handed to `hf_images`.
"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import duckdb

from datagov.errors import SourceError
from datagov.sources import IngestOptions, SourceResult
from datagov.sql import sql_str
from datagov.store import duckdb_connection
from datagov.workspace import MAX_CSV_LINE_BYTES

PART_BYTES = 256 << 20
PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION zstd"  # DuckDB's default row groups (122,880 rows)
# Splitting into parts runs on one thread: with more, DuckDB splits rows
# between parts differently from run to run (even out of order), and the same
# content must always give the same parts (and digest).
PART_OPTIONS = PARQUET_OPTIONS + ", FILE_SIZE_BYTES {part_bytes}, FILENAME_PATTERN 'part-{{i}}'"
PARQUET_SUFFIXES = (".parquet", ".pq")
WHOLE = ".whole"  # the table as one file, in the staging folder, before it is split
PARTS = ".parts"  # DuckDB writes parts into an empty folder; they are moved up into the staging folder


DELIMITERS = ",;|\t"


def _csv_delimiter(path: Path) -> str:
    """The candidate that occurs most in the header line (ties: ','). Passing
    it explicitly lets DuckDB's strict mode report ragged rows, which its
    sniffer would otherwise read as one wide text column."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    with open(path, newline="", errors="replace") as fh:
        header = fh.readline()
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _first_ragged_line(path: Path, delim: str, max_field: int) -> tuple[int, int, int] | None:
    """(line, expected, found) for the first row whose field count differs from the header."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(max_field, limit))  # the diagnosis reads what DuckDB was allowed to read
    try:
        with open(path, newline="", errors="replace") as fh:
            reader = csv.reader(fh, delimiter=delim)
            expected = None
            for row in reader:
                if expected is None:
                    expected = len(row)
                elif row and len(row) != expected:
                    return reader.line_num, expected, len(row)
    except csv.Error:
        return None  # DuckDB's own message stands
    finally:
        csv.field_size_limit(limit)
    return None


def reader_sql(path: Path, fmt: str, max_line_bytes: int = MAX_CSV_LINE_BYTES) -> str:
    if fmt == "csv":
        delim = _csv_delimiter(path)
        # skip=0: DuckDB's sniffer would otherwise take a later, wider row for
        # the header and silently drop the rows above it.
        options = f"header=true, strict_mode=true, null_padding=false, skip=0, max_line_size={int(max_line_bytes)}"
        return f"read_csv({sql_str(str(path))}, delim={sql_str(delim)}, {options})"
    if fmt == "jsonl":
        return f"read_json({sql_str(str(path))}, format='newline_delimited')"
    return parquet_reader_sql([str(path / "*.parquet")] if path.is_dir() else [str(path)])


def parquet_reader_sql(paths: list[str]) -> str:
    return f"read_parquet([{', '.join(sql_str(p) for p in paths)}])"


def _first_long_line(path: Path, limit: int) -> int | None:
    """The number of the first line longer than `limit` bytes, read a line at a time."""
    with open(path, "rb") as fh:
        for number, line in enumerate(iter(lambda: fh.readline(limit + 2), b""), start=1):
            if len(line.rstrip(b"\r\n")) > limit:
                return number
    return None


def _explain(path: Path, fmt: str, exc: duckdb.Error, max_line_bytes: int) -> SourceError:
    if fmt == "csv" and "Maximum line size" in str(exc):
        line = _first_long_line(path, max_line_bytes)  # DuckDB's own line number is not the file's
        where = f"line {line:,}" if line else "a line"
        return SourceError(
            f"cannot read CSV {path}: {where} is longer than {max_line_bytes:,} bytes",
            hint="raise [ingest] max_csv_line_bytes in datagov.toml if such lines are meant to be there",
        )
    if fmt == "csv" and path.is_file():
        ragged = _first_ragged_line(path, _csv_delimiter(path), max_line_bytes)
        if ragged:
            line, expected, found = ragged
            return SourceError(f"cannot read CSV {path}: line {line} has {found} fields, the header has {expected}")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return SourceError(f"cannot read {fmt} source {path}: {first}")


def _parquet_paths(source: str, scratch: Path) -> list[str]:
    """Local paths of the Parquet files a glob or s3:// source names (objects
    are downloaded into `scratch`, inside the staging folder)."""
    from datagov.store import s3
    from datagov.store.shards import find_shards

    shards = find_shards(source, PARQUET_SUFFIXES)
    if not shards.shards:
        raise SourceError(f"no Parquet files match {source}")
    if not shards.remote:
        return [str(Path(shards.root) / s.name) for s in shards.shards]
    root = s3.S3Url.parse(shards.root)
    paths = []
    for i, shard in enumerate(shards.shards):
        dest = scratch / f"{i:06d}.parquet"
        scratch.mkdir(exist_ok=True)
        s3.download_hashed(root.child(shard.name), dest)
        paths.append(str(dest))
    return paths


def _check_local(path: Path, source: str, fmt: str) -> None:
    if not path.exists():
        raise SourceError(f"source not found: {source}")
    if fmt != "parquet" and not path.is_file():
        raise SourceError(f"a {fmt} source must be a file: {source}")
    if path.is_file() and path.stat().st_size == 0:
        raise SourceError(f"source is empty: {source}")
    if path.is_dir() and (link := next((p for p in sorted(path.iterdir()) if p.is_symlink()), None)):
        raise SourceError(f"{link.name} in {source} is a symlink; datagov does not follow links out of a source folder")


def write_duckdb_source(source: str, out: Path, opts: IngestOptions, fmt: str) -> SourceResult:
    from datagov.store.shards import has_glob

    scratch = out / ".download"  # inside the staging folder: swept with it if killed
    remote = fmt == "parquet" and (source.startswith("s3://") or has_glob(source))
    try:
        if remote:
            paths = _parquet_paths(source, scratch)
            reader, path = parquet_reader_sql(paths), Path(paths[0])
        else:
            path = Path(source)
            _check_local(path, source, fmt)
            reader = reader_sql(path, fmt, opts.max_line_bytes)
        return _copy(reader, path, source, out, opts, fmt)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _copy(reader: str, path: Path, source: str, out: Path, opts: IngestOptions, fmt: str) -> SourceResult:
    con = duckdb_connection()
    try:
        if opts.show_progress and sys.stderr.isatty():
            con.execute("SET enable_progress_bar = true")
        try:
            # checked before the copy: a typo should not cost a full read
            described = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
            columns = [row[0] for row in described]
            if len(columns) > opts.max_columns:
                raise SourceError(
                    f"{source} has {len(columns):,} columns, over the limit of {opts.max_columns:,}",
                    hint="select the columns you need first, or raise [ingest] max_columns in datagov.toml",
                )
            if opts.label and opts.label not in columns:
                raise SourceError(f"label column {opts.label!r} is not in {source}; columns: {', '.join(columns)}")
            if fmt == "parquet" and (images := image_struct_columns(described)):
                from datagov.sources.hf_images import write_hf_images

                first = str(path if path.is_file() else sorted(path.glob("*.parquet"))[0])
                return write_hf_images(con, reader, images[0], source, out, opts, first)
            con.execute(f"COPY (SELECT * FROM {reader}) TO {sql_str(str(out / WHOLE))} ({PARQUET_OPTIONS})")
        except duckdb.Error as exc:
            raise _explain(path, fmt, exc, opts.max_line_bytes) from exc
        _into_parts(con, out)
    finally:
        con.close()
    return SourceResult(modality="tabular", label_column=opts.label)


def _into_parts(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """The table written with every thread as one file becomes `part-00000.parquet`
    when it is at most PART_BYTES, else parts of about that size, split by
    one thread (see PART_OPTIONS) and named part-NNNNN in row order. Only a
    table that needs parts pays for the second pass."""
    whole = out / WHOLE
    if whole.stat().st_size <= PART_BYTES:
        whole.rename(out / "part-00000.parquet")
        return
    con.execute("SET threads = 1")
    options = PART_OPTIONS.format(part_bytes=PART_BYTES)
    con.execute(f"COPY (SELECT * FROM read_parquet({sql_str(str(whole))})) TO {sql_str(str(out / PARTS))} ({options})")
    whole.unlink()
    for part in (out / PARTS).glob("part-*.parquet"):
        part.rename(out / f"part-{int(part.stem.split('-', 1)[1]):05d}.parquet")
    (out / PARTS).rmdir()


def image_struct_columns(described: list[tuple]) -> list[str]:
    """Columns stored as Hugging Face `datasets` images: struct<bytes: binary, path: string>."""
    wanted = {'STRUCT("bytes" BLOB, path VARCHAR)', "STRUCT(bytes BLOB, path VARCHAR)"}
    return [name for name, type_, *_ in described if type_ in wanted]
