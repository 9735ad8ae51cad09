"""Writing chosen rows of a version as a new version's Parquet, in the
parent's row order: what `split` and `select` derive their versions with.

A row is named by its place in file order (the manifest's path order, then
the row within the file), so only integer arrays are held in Python."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from datagov.sql import sql_ident, sql_str
from datagov.store import parquet_options

OFFSET = "__datagov_first_row"  # a file's first row in the parent (a name no data set uses)
FILES = "row_files"  # the registered (filename, OFFSET) table


def register_offsets(duck, files) -> None:
    """Register FILES: each file's name and its first row's place in the version."""
    names, offsets, at = [], [], 0
    for path, entry in zip(files.paths, files.entries, strict=True):
        names.append(path)
        offsets.append(at)
        at += entry.rows
    duck.register(FILES, pa.table({"filename": names, OFFSET: offsets}))


def row_index_sql(alias: str = "s") -> str:
    """The row's place in the version, for a scan read with filename and file_row_number."""
    return f"f.{OFFSET} + {alias}.file_row_number"


def copy_rows(duck, source: str, chosen_sql: str, out: Path, exclude: list[str], modality: str) -> None:
    """COPY the rows whose place is in `chosen_sql` (a query with an `idx`
    column) from `source` (a scan with filename and file_row_number, after
    `register_offsets`) to the Parquet file `out`, without `exclude`."""
    excluded = ", ".join(sql_ident(c) for c in dict.fromkeys(["filename", "file_row_number", *exclude]))
    duck.execute(
        f"COPY (SELECT s.* EXCLUDE ({excluded}) FROM {source} s JOIN {FILES} f USING (filename) "
        f"SEMI JOIN ({chosen_sql}) c ON c.idx = {row_index_sql()} ORDER BY {row_index_sql()}) "
        f"TO {sql_str(str(out))} ({parquet_options(modality)})"
    )
