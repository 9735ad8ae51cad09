"""CSV ingest: `datagov ingest` against DuckDB's own
`COPY (SELECT * FROM read_csv(...)) TO ... (FORMAT parquet)` on the same file.

Both run as a fresh process, as a user would run them (the datagov CLI; the
COPY through `python -c "import duckdb; ..."`), so both pay interpreter start
and DuckDB's load. The COPY is also timed inside this process, printed for
reference: the gap to it is datagov's fixed cost (start-up, hashing, catalog).
Target: ratio <= 1.5. Usage: python -m bench.csv_ingest [ROWS]"""

from __future__ import annotations

import statistics
import sys

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from bench.common import OUT, alternate, machine, report, run, timed, timed_ingest


def make_csv(path, rows: int) -> None:
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "id": np.arange(rows),
            "x1": rng.normal(size=rows),
            "x2": rng.normal(size=rows),
            "x3": rng.uniform(size=rows),
            "x4": rng.exponential(size=rows),
            "x5": rng.normal(10, 3, size=rows),
            "label": rng.integers(0, 10, rows),
            "cat": pa.array(np.array(["red", "green", "blue", "cyan"])[rng.integers(0, 4, rows)]),
        }
    )
    pacsv.write_csv(table, path)


def main(rows: int = 1_000_000, repeats: int = 5) -> float:
    OUT.mkdir(parents=True, exist_ok=True)
    src = OUT / f"csv-{rows}.csv"
    if not src.exists():
        make_csv(src, rows)
    target = OUT / "duckdb-copy.parquet"

    copy = f"COPY (SELECT * FROM read_csv('{src}')) TO '{target}' (FORMAT parquet)"

    def baseline() -> float:
        return run([sys.executable, "-c", f"import duckdb; duckdb.execute({copy!r})"])

    def in_process() -> float:
        con = duckdb.connect()
        try:
            return timed(lambda: con.execute(copy))
        finally:
            con.close()

    def candidate() -> float:
        return timed_ingest("ws-csv", src)

    base, cand = alternate(baseline, candidate, repeats)
    inner = statistics.median(in_process() for _ in range(repeats))
    size = src.stat().st_size / 2**20
    report(
        f"CSV ingest: {rows:,} rows x 8 columns, {size:.0f} MiB CSV ({machine()})",
        "DuckDB COPY read_csv -> parquet (process)",
        base,
        "datagov ingest (process: hash, catalog)",
        cand,
        "<= 1.5",
        cand / base <= 1.5,
    )
    print(f"  (the same COPY inside this process: {inner:.3f} s; datagov / that = {cand / inner:.2f})")
    return cand / base


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
