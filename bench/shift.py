"""Distribution-shift benchmarks.

1. `datagov shift` on 1M against 1M rows x 10 numeric columns (the CLI, end
   to end: start-up, aggregates, report, catalog row), against one raw DuckDB
   pass per side computing the same shared-bin histograms (after the min/max
   pass the bins need), same run. Target: ratio <= 3.
2. MMD with 200 permutations, 10,000 against 10,000 64-dimensional
   embeddings on the CPU. Target: under 5 s.

  python -m bench.shift [ROWS]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATAGOV, OUT, alternate, machine, report, run

COLUMNS = [f"c{i}" for i in range(10)]
BINS = 256


def make(folder: Path, rows: int, seed: int, shift: float) -> Path:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table({c: rng.normal(shift * (i % 2), 1 + i / 10, size=rows) for i, c in enumerate(COLUMNS)})
    path = folder / f"part-{seed}.parquet"
    pq.write_table(table, path, row_group_size=122_880)
    return path


def raw_histograms(files: list[str]) -> None:
    import duckdb

    con = duckdb.connect()
    sources = [f"read_parquet('{f}')" for f in files]
    ranges = []
    for src in sources:
        ranges.append(
            con.execute(f"SELECT {', '.join(f'min({c}), max({c})' for c in COLUMNS)} FROM {src}").fetchall()[0]
        )
    bounds = []
    for i in range(len(COLUMNS)):
        lo = min(r[2 * i] for r in ranges)
        hi = max(r[2 * i + 1] for r in ranges)
        bounds.append((lo, (hi - lo) / BINS))
    for src in sources:
        parts = [
            f"histogram(least(floor(({c} - {lo!r}) / {w!r}), {BINS - 1})::INTEGER)"
            for c, (lo, w) in zip(COLUMNS, bounds, strict=False)
        ]
        con.execute(f"SELECT {', '.join(parts)} FROM {src}").fetchall()
    con.close()


def bench_cli(rows: int) -> None:
    ws = OUT / "shift"
    shutil.rmtree(ws, ignore_errors=True)
    data = OUT / "shift-data"
    shutil.rmtree(data, ignore_errors=True)
    files = [make(data / "ref", rows, 0, 0.0), make(data / "tgt", rows, 1, 0.2)]
    run([*DATAGOV, "init", str(ws)])
    dg = [*DATAGOV, "--workspace", str(ws)]
    for name, f in zip(("ref", "tgt"), files, strict=False):
        run([*dg, "ingest", str(f.parent), "--name", name, "--no-progress"])
    stored = sorted(str(p) for p in (ws / "catalog" / "store").glob("*/*.parquet"))  # both versions' files

    def shift() -> float:
        start = time.perf_counter()
        proc = subprocess.run([*dg, "shift", "ref", "tgt", "--encoder", "none"], capture_output=True, text=True)
        if proc.returncode not in (0, 3):
            raise RuntimeError(proc.stderr)
        return time.perf_counter() - start

    def raw() -> float:
        start = time.perf_counter()
        raw_histograms(stored)
        return time.perf_counter() - start

    base, cand = alternate(raw, shift, repeats=3)
    print(f"Shift: {rows:,} against {rows:,} rows x {len(COLUMNS)} numeric columns, {machine()}")
    report("  datagov shift (CLI, end to end) vs raw DuckDB histograms", "raw DuckDB: min/max + histogram per side",
           base, "datagov shift REF TGT --encoder none", cand, "<= 3", cand / base <= 3)  # fmt: skip


def bench_mmd() -> None:
    import torch

    from datagov.shift.mmd import mmd_test

    g = torch.Generator().manual_seed(0)
    x = torch.randn(10_000, 64, generator=g)
    y = torch.randn(10_000, 64, generator=g) + 0.05
    mmd_test(x[:500], y[:500], permutations=10)  # warm-up: thread pools, allocator
    start = time.perf_counter()
    result = mmd_test(x, y, permutations=200)
    seconds = time.perf_counter() - start
    print(f"MMD: 10,000 vs 10,000 x 64, 200 permutations, {machine()}, torch threads {torch.get_num_threads()}")
    print(f"  {seconds:6.2f} s   p = {result.p_value:.3f}   target < 5 s   {'PASS' if seconds < 5 else 'MISS'}")


def main(rows: int = 1_000_000) -> None:
    bench_cli(rows)
    print()
    bench_mmd()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
