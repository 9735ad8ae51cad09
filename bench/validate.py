"""Validation on 10M rows (4 float columns, 1 integer label), ~20 expectations.

1. `datagov validate` (a fresh CLI process: GX import, receipt, report
   included) against one raw DuckDB query computing the same statistics
   (in-process). Target: ratio <= 2.
2. The same suite through GX's pandas engine (read the Parquet into pandas,
   validate; a fresh process, imports excluded). Target: datagov >= 4x faster.
3. Peak resident memory of `datagov validate`. Target: <= 1.5 GB.
4. The cost of verification: `datagov validate` (which always re-hashes
   every file before GX runs) against the same command with the hash
   replaced by a stat, alternating. Target: <= 10 % at 10M rows.
Usage: python -m bench.validate [ROWS] [--hash-only]"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import duckdb

from bench.common import DATAGOV, OUT, machine, run

BINS = [-10.0, -1.0, 0.0, 1.0, 10.0]
WEIGHTS = [0.1587, 0.3413, 0.3413, 0.1587]
QUANTILES = [0.05, 0.25, 0.5, 0.75, 0.95]


def e(kind: str, **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs}


def suite() -> dict:
    floats = ["a", "b", "c", "d"]
    exps = [e("expect_table_row_count_to_be_between", min_value=1, max_value=10**9)]
    exps += [e("expect_column_values_to_not_be_null", column=c) for c in [*floats, "label"]]
    exps += [e("expect_column_values_to_be_between", column=c, min_value=-10, max_value=10) for c in floats]
    exps += [e("expect_column_mean_to_be_between", column=c, min_value=-0.1, max_value=0.1) for c in ("a", "b")]
    exps += [e("expect_column_stdev_to_be_between", column=c, min_value=0.9, max_value=1.1) for c in ("a", "b")]
    ranges = [[-2.0, -1.3], [-0.9, -0.5], [-0.1, 0.1], [0.5, 0.9], [1.3, 2.0]]
    exps += [
        e(
            "expect_column_quantile_values_to_be_between",
            column=c,
            quantile_ranges={"quantiles": QUANTILES, "value_ranges": ranges},
        )
        for c in ("a", "b")
    ]
    exps.append(e("expect_column_values_to_be_in_set", column="label", value_set=list(range(10))))
    exps.append(e("expect_column_values_to_be_unique", column="c"))
    exps.append(
        e(
            "expect_column_kl_divergence_to_be_less_than",
            column="d",
            threshold=0.05,
            partition_object={"bins": BINS, "weights": WEIGHTS},
        )
    )
    return {"name": "bench", "expectations": exps}


RAW_SQL = """
SELECT count(*),
  count(a), count(b), count(c), count(d), count(label),
  count(*) FILTER (a < -10 OR a > 10), count(*) FILTER (b < -10 OR b > 10),
  count(*) FILTER (c < -10 OR c > 10), count(*) FILTER (d < -10 OR d > 10),
  avg(a), avg(b), stddev_samp(a), stddev_samp(b),
  quantile_disc(a, [0.05, 0.25, 0.5, 0.75, 0.95]), quantile_disc(b, [0.05, 0.25, 0.5, 0.75, 0.95]),
  count(*) FILTER (label NOT IN (0,1,2,3,4,5,6,7,8,9)),
  count(DISTINCT c),
  count(*) FILTER (d >= -10 AND d < -1), count(*) FILTER (d >= -1 AND d < 0),
  count(*) FILTER (d >= 0 AND d < 1), count(*) FILTER (d >= 1 AND d <= 10)
FROM read_parquet('{glob}')
"""

PANDAS = """
import json, sys, time
import great_expectations as gx, pandas as pd
from datagov.quality.gx_duckdb import quiet_gx
from great_expectations.data_context.types.base import ProgressBarsConfig
quiet_gx()
t = time.perf_counter()
frame = pd.read_parquet(sys.argv[1])
ctx = gx.get_context(mode="ephemeral")
ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
batch = ctx.data_sources.add_pandas("p").add_dataframe_asset("d").add_batch_definition_whole_dataframe("b") \\
    .get_batch(batch_parameters={"dataframe": frame})
doc = json.load(open(sys.argv[2]))
result = batch.validate(gx.ExpectationSuite(name="bench", expectations=doc["expectations"]))
print(time.perf_counter() - t, sum(r.success for r in result.results), len(result.results))
"""


def make_data(rows: int):
    path = OUT / f"validate-{rows}.parquet"
    if not path.exists():
        con = duckdb.connect()
        con.execute("SELECT setseed(0.42)")
        normal = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"
        con.execute(f"""COPY (SELECT {normal} AS a, {normal} AS b, {normal} AS c, {normal} AS d,
                        (i % 10)::BIGINT AS label FROM range({rows}) t(i))
                        TO '{path}' (FORMAT parquet, COMPRESSION zstd)""")
        con.close()
    return path


def max_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of a command run in a fresh wrapper process."""
    probe = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "
        "p.returncode); sys.stderr.write(p.stderr[-2000:] if p.returncode not in (0, 3) else '')"
    )
    proc = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, check=True)
    wall, rss, code = proc.stdout.split()
    if int(code) not in (0, 3):
        raise RuntimeError(proc.stderr)
    return float(wall), float(rss)


# The same CLI with the sha256 step replaced by a stat: the baseline for the cost of hashing.
UNHASHED = (
    "import datagov.quality.validate as v, datagov.verify as f; "
    "v.require_intact = lambda ws, version, files, purpose: "
    "f.Intact(files, [f.Fingerprint.of(p) for p in files.paths]); "
    "from datagov.cli.app import main; main()"
)


def hashing_cost(ws, rows: int, rounds: int = 3) -> None:
    cmd = ["--workspace", str(ws), "validate", "bench", "--suite", "bench"]
    on, off = [], []
    for r in range(rounds):  # alternating, order flipped each round
        pair = [("on", [*DATAGOV, *cmd]), ("off", [sys.executable, "-c", UNHASHED, *cmd])]
        for label, argv in pair[:: 1 if r % 2 == 0 else -1]:
            (on if label == "on" else off).append(max_rss_mb(argv)[0])
    size = sum(p.stat().st_size for p in (ws / "catalog" / "store").rglob("*.parquet"))
    cost = min(on) / min(off) - 1
    print(f"Verification cost: {rows:,} rows, {size / 1e6:,.0f} MB of Parquet ({machine()}; best of {rounds})")
    print(f"  datagov validate, sha256 of every file first        {min(on):8.3f} s")
    print(f"  the same with the hash replaced by a stat           {min(off):8.3f} s")
    print(f"  4. cost of hashing          {cost:6.1%}   target <= 10 %  {'PASS' if cost <= 0.10 else 'MISS'}")


def main(rows: int = 10_000_000, hash_only: bool = False) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    data = make_data(rows)
    ws = OUT / "ws-validate"
    shutil.rmtree(ws, ignore_errors=True)
    run([*DATAGOV, "init", str(ws)])
    run([*DATAGOV, "--workspace", str(ws), "ingest", str(data), "--name", "bench", "--no-progress"])
    suite_file = ws / "expectations" / "bench.json"
    suite_file.write_text(json.dumps(suite(), indent=2))
    glob = next((ws / "catalog" / "store").iterdir()) / "*.parquet"
    n_exp = len(suite()["expectations"])
    if hash_only:
        hashing_cost(ws, rows)
        return

    raw, ours, rss, pandas = [], [], [], []
    for _ in range(3):
        con = duckdb.connect()
        t = time.perf_counter()
        con.execute(RAW_SQL.format(glob=glob)).fetchall()
        raw.append(time.perf_counter() - t)
        con.close()
        wall, peak = max_rss_mb([*DATAGOV, "--workspace", str(ws), "validate", "bench", "--suite", "bench"])
        ours.append(wall)
        rss.append(peak)
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-c", PANDAS, str(glob.parent), str(suite_file)], capture_output=True, text=True
        )
        if proc.returncode:
            raise RuntimeError(proc.stderr[-3000:])
        seconds, met, total = proc.stdout.split()[-3:]
        pandas.append(float(seconds))
    raw_t, ours_t, pandas_t = min(raw), min(ours), min(pandas)
    print(f"Validation: {rows:,} rows x 5 columns, {n_exp} expectations ({machine()}; best of runs)")
    print(f"  {'raw DuckDB query, same statistics (in-process)':<52} {raw_t:8.3f} s")
    print(f"  {'datagov validate (CLI process, GX SQL on DuckDB)':<52} {ours_t:8.3f} s")
    print(f"  {'GX pandas engine (read_parquet + validate)':<52} {pandas_t:8.3f} s   ({met}/{total} met)")
    print(
        f"  1. datagov / raw DuckDB     {ours_t / raw_t:6.2f}   target <= 2     "
        f"{'PASS' if ours_t / raw_t <= 2 else 'MISS'}"
    )
    print(
        f"  2. GX pandas / datagov      {pandas_t / ours_t:6.2f}   target >= 4     "
        f"{'PASS' if pandas_t / ours_t >= 4 else 'MISS'}"
    )
    print(f"  3. datagov peak RSS      {max(rss):7.0f} MB  target <= 1536 {'PASS' if max(rss) <= 1536 else 'MISS'}")
    hashing_cost(ws, rows)


if __name__ == "__main__":
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    main(int(numbers[0]) if numbers else 10_000_000, hash_only="--hash-only" in sys.argv)
