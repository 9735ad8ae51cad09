"""Parquet, CSV and JSONL sources, read and rewritten by DuckDB.

Rewriting (rather than copying the bytes) gives every version the same
Parquet layout, so its digest depends on the data, not on the producer.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import duckdb

from datagov.errors import SourceError
from datagov.sources import IngestOptions, SourceResult
from datagov.sql import sql_str
from datagov.store import duckdb_connection

PART = "part-00000.parquet"
PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION zstd"  # DuckDB's default row groups (122,880 rows)


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


def _first_ragged_line(path: Path, delim: str) -> tuple[int, int, int] | None:
    """(line, expected, found) for the first row whose field count differs from the header."""
    with open(path, newline="", errors="replace") as fh:
        reader = csv.reader(fh, delimiter=delim)
        expected = None
        for row in reader:
            if expected is None:
                expected = len(row)
            elif row and len(row) != expected:
                return reader.line_num, expected, len(row)
    return None


def reader_sql(path: Path, fmt: str) -> str:
    if fmt == "csv":
        delim = _csv_delimiter(path)
        # skip=0: DuckDB's sniffer would otherwise take a later, wider row for
        # the header and silently drop the rows above it.
        options = "header=true, strict_mode=true, null_padding=false, skip=0"
        return f"read_csv({sql_str(str(path))}, delim={sql_str(delim)}, {options})"
    if fmt == "jsonl":
        return f"read_json({sql_str(str(path))}, format='newline_delimited')"
    if path.is_dir():
        return f"read_parquet({sql_str(str(path / '*.parquet'))})"
    return f"read_parquet({sql_str(str(path))})"


def _explain(path: Path, fmt: str, exc: duckdb.Error) -> SourceError:
    if fmt == "csv" and path.is_file():
        ragged = _first_ragged_line(path, _csv_delimiter(path))
        if ragged:
            line, expected, found = ragged
            return SourceError(f"cannot read CSV {path}: line {line} has {found} fields, the header has {expected}")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return SourceError(f"cannot read {fmt} source {path}: {first}")


def write_duckdb_source(source: str, out: Path, opts: IngestOptions, fmt: str) -> SourceResult:
    path = Path(source)
    if not path.exists():
        raise SourceError(f"source not found: {source}")
    if fmt != "parquet" and not path.is_file():
        raise SourceError(f"a {fmt} source must be a file: {source}")
    if path.is_file() and path.stat().st_size == 0:
        raise SourceError(f"source is empty: {source}")
    if path.is_dir() and (link := next((p for p in sorted(path.iterdir()) if p.is_symlink()), None)):
        raise SourceError(f"{link.name} in {source} is a symlink; datagov does not follow links out of a source folder")
    con = duckdb_connection()
    try:
        if opts.show_progress and sys.stderr.isatty():
            con.execute("SET enable_progress_bar = true")
        reader = reader_sql(path, fmt)
        try:
            # checked before the copy: a typo should not cost a full read
            columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
            if len(columns) > opts.max_columns:
                raise SourceError(
                    f"{source} has {len(columns):,} columns, over the limit of {opts.max_columns:,}",
                    hint="select the columns you need first, or raise [ingest] max_columns in datagov.toml",
                )
            if opts.label and opts.label not in columns:
                raise SourceError(f"label column {opts.label!r} is not in {source}; columns: {', '.join(columns)}")
            con.execute(f"COPY (SELECT * FROM {reader}) TO {sql_str(str(out / PART))} ({PARQUET_OPTIONS})")
        except duckdb.Error as exc:
            raise _explain(path, fmt, exc) from exc
    finally:
        con.close()
    return SourceResult(modality="tabular", label_column=opts.label)
