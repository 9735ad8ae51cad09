"""Audit benchmark: `datagov audit run` over 20 dataset versions of 1M rows
(4 numeric columns, one suite each, validated once) against the sum of a
plain `sha256sum` of the same files plus one DuckDB pass per file, same run.
Target: ratio <= 2. Also prints `audit run --revalidate` (every suite re-run
through GX) for scale.

  python -m bench.audit [VERSIONS] [ROWS]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATAGOV, OUT, alternate, machine, report, run

COLUMNS = ("a", "b", "c", "d")


def prepare(ws: Path, versions: int, rows: int) -> list[str]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    shutil.rmtree(ws, ignore_errors=True)
    data = OUT / "audit-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    run([*DATAGOV, "init", str(ws)])
    dg = [*DATAGOV, "--workspace", str(ws)]
    for i in range(versions):
        rng = np.random.default_rng(i)
        path = data / f"t{i:02d}.parquet"
        pq.write_table(pa.table({c: rng.normal(j, 1 + j, rows) for j, c in enumerate(COLUMNS)}), path)
        run([*dg, "ingest", str(path), "--name", f"t{i:02d}", "--no-progress"])
        if i == 0:
            run([*dg, "expectations", "suggest", "t00", "--suite", "bench", "--margin", "0.5"])
        run([*dg, "validate", f"t{i:02d}", "--suite", "bench"])
    return sorted(str(p) for p in (ws / "catalog" / "store").glob("*/*.parquet"))


def baseline(files: list[str]) -> float:
    import duckdb

    start = time.perf_counter()
    subprocess.run(["sha256sum", *files], check=True, capture_output=True)
    con = duckdb.connect()
    stats = ", ".join(f"count({c}), min({c}), max({c}), avg({c}), stddev_samp({c})" for c in COLUMNS)
    for f in files:
        con.execute(f"SELECT count(*), {stats} FROM read_parquet('{f}')").fetchall()
    con.close()
    return time.perf_counter() - start


def main(versions: int = 20, rows: int = 1_000_000) -> None:
    ws = OUT / "audit"
    t0 = time.perf_counter()
    files = prepare(ws, versions, rows)
    print(f"(set-up: {versions} versions ingested and validated in {time.perf_counter() - t0:.0f} s)")
    audit = [*DATAGOV, "--workspace", str(ws), "audit", "run"]
    base, cand = alternate(lambda: baseline(files), lambda: run(audit), repeats=3)
    print(f"Audit: {versions} versions x {rows:,} rows x {len(COLUMNS)} columns, one suite each, {machine()}")
    report("  datagov audit run vs sha256sum + one DuckDB pass per file", "sha256sum + DuckDB pass per file", base,
           "datagov audit run", cand, "<= 2", cand / base <= 2)  # fmt: skip
    forced = run([*audit, "--revalidate"])
    print(f"  datagov audit run --revalidate (GX re-runs all {versions} suites): {forced:.2f} s, "
          f"ratio {forced / base:.1f} (no target)")  # fmt: skip


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*args)
