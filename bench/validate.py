"""Validation at scale: 5 columns (4 float, 1 integer label), ~20 expectations,
at 10M rows by default (`python -m bench.validate 100000000` for 100M).

Each round runs the contenders in turn, the order rotated every round:
1. `datagov validate` (a fresh CLI process: GX import, hashing, receipt and
   report included) against one raw DuckDB query computing the same
   statistics (in-process). Target: <= 1.5 at 100M.
2. GX's pandas engine on the same data (a fresh process: read the Parquet
   into pandas, validate; imports excluded) against `datagov validate`.
   Target: datagov >= 5x faster at 100M. No memory cap beyond the machine's
   own RAM; its peak RSS is printed. 2b: then once more with its address
   space capped (`--pandas-cap-gb`, default 8: a laptop or a CI runner).
3. Peak resident memory of `datagov validate`. Target: <= 1 GB at any size.
4. The cost of verification (`--hash-only`, or after the above up to 10M
   rows): `datagov validate` (which re-hashes every file before GX runs)
   against the same command with the hash replaced by a stat. Target:
   <= 10 % at 10M rows.
5. Up to 10M rows: the Spark engine on local[2] against the DuckDB path,
   both CLI processes (no target: the price of a cluster).
Usage: python -m bench.validate [ROWS] [--hash-only] [--rounds N] [--pandas-cap-gb GB]"""

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


def prepare(rows: int):
    """A workspace holding the data as version `bench`, reused across runs
    (ingesting 100M rows takes longer than validating them)."""
    ws = OUT / f"ws-validate-{rows}"
    if not (ws / ".ready").exists():
        data = make_data(rows)
        shutil.rmtree(ws, ignore_errors=True)
        run([*DATAGOV, "init", str(ws)])
        run([*DATAGOV, "--workspace", str(ws), "ingest", str(data), "--name", "bench", "--no-progress"])
        data.unlink()  # the workspace holds the bytes now; the source is regenerated if ever needed
        (ws / ".ready").touch()
    return ws


def _pandas(glob, suite_file, cap_gb: float | None = None) -> tuple[float, float, str]:
    """(validate seconds, peak RSS MB, met/total) of GX's pandas engine in a
    fresh process, its address space capped at `cap_gb` when given."""
    cap = "None" if cap_gb is None else f"lambda: resource.setrlimit(resource.RLIMIT_AS, ({int(cap_gb * 2**30)},) * 2)"
    probe = (
        "import resource, subprocess, sys; "
        f"p = subprocess.run(sys.argv[1:], capture_output=True, text=True, preexec_fn={cap}); "
        "print(p.stdout.strip().splitlines()[-1] if p.returncode == 0 else 'FAILED', "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024); sys.stderr.write(p.stderr[-3000:])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, sys.executable, "-c", PANDAS, str(glob.parent), str(suite_file)],
        capture_output=True, text=True,
    )  # fmt: skip
    if proc.stdout.startswith("FAILED"):
        raise RuntimeError(proc.stderr[-3000:])
    seconds, met, total, rss = proc.stdout.split()
    return float(seconds), float(rss), f"{met}/{total}"


def main(rows: int = 10_000_000, hash_only: bool = False, rounds: int = 3, pandas_cap_gb: float = 0) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    ws = prepare(rows)
    suite_file = ws / "expectations" / "bench.json"
    suite_file.write_text(json.dumps(suite(), indent=2))
    glob = next((ws / "catalog" / "store").iterdir()) / "*.parquet"
    n_exp = len(suite()["expectations"])
    if hash_only:
        hashing_cost(ws, rows)
        return

    def raw_query() -> None:
        con = duckdb.connect()
        t = time.perf_counter()
        con.execute(RAW_SQL.format(glob=glob)).fetchall()
        raw.append(time.perf_counter() - t)
        con.close()

    def datagov_cli() -> None:
        wall, peak = max_rss_mb([*DATAGOV, "--workspace", str(ws), "validate", "bench", "--suite", "bench",
                                 "--no-progress"])  # fmt: skip
        ours.append(wall)
        rss.append(peak)

    def gx_pandas() -> None:
        seconds, peak, met = _pandas(glob, suite_file)
        pandas.append(seconds)
        pandas_rss.append(peak)
        results.append(met)

    raw, ours, rss, pandas, pandas_rss, results = [], [], [], [], [], []
    contenders = [raw_query, datagov_cli, gx_pandas]
    for r in range(rounds):
        for fn in contenders[r % 3 :] + contenders[: r % 3]:
            fn()
    raw_t, ours_t, pandas_t = min(raw), min(ours), min(pandas)
    print(f"Validation: {rows:,} rows x 5 columns, {n_exp} expectations ({machine()}; best of {rounds}, alternating)")
    print(f"  {'raw DuckDB query, same statistics (in-process)':<52} {raw_t:8.3f} s")
    print(f"  {'datagov validate (CLI process, GX SQL on DuckDB)':<52} {ours_t:8.3f} s   peak {max(rss):,.0f} MB")
    print(f"  {'GX pandas engine (read_parquet + validate)':<52} {pandas_t:8.3f} s   peak {max(pandas_rss):,.0f} MB"
          f"   ({results[0]} met)")  # fmt: skip
    ratio, speedup = ours_t / raw_t, pandas_t / ours_t
    print(f"  1. datagov / raw DuckDB     {ratio:6.2f}   target <= 1.5   {'PASS' if ratio <= 1.5 else 'MISS'}")
    print(f"  2. GX pandas / datagov      {speedup:6.2f}   target >= 5     {'PASS' if speedup >= 5 else 'MISS'}")
    print(f"  3. datagov peak RSS      {max(rss):7.0f} MB  target <= 1024 {'PASS' if max(rss) <= 1024 else 'MISS'}")
    if pandas_cap_gb:
        pandas_under_cap(glob, suite_file, pandas_cap_gb, ours_t, max(rss))
    if rows <= 10_000_000:
        hashing_cost(ws, rows)
        spark_price(ws, rows, rounds)


def pandas_under_cap(glob, suite_file, cap_gb: float, ours_t: float, ours_rss: float) -> None:
    """2b. GX's pandas engine once more, its address space capped (RLIMIT_AS):
    does it run at all on a machine with that much memory?"""
    t = time.perf_counter()
    try:
        seconds, peak, met = _pandas(glob, suite_file, cap_gb)
    except RuntimeError as exc:
        last = [line for line in str(exc).splitlines() if line.strip()][-1:] or ["(no output)"]
        print(f"GX pandas engine, address space capped at {cap_gb:g} GB: failed after "
              f"{time.perf_counter() - t:.1f} s: {last[0][:100]}")  # fmt: skip
        print(f"  2b. under {cap_gb:g} GB: datagov validates in {ours_t:.1f} s at {ours_rss:,.0f} MB peak; "
              "GX pandas cannot run")  # fmt: skip
        return
    print(f"GX pandas engine, address space capped at {cap_gb:g} GB: {seconds:.3f} s, peak {peak:,.0f} MB ({met} met)")
    print(f"  2b. under {cap_gb:g} GB: GX pandas / datagov {seconds / ours_t:6.2f}")


def spark_price(ws, rows: int, rounds: int) -> None:
    """4. The same suite on Spark local[2] against DuckDB, both CLI processes, alternating."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        print("  5. Spark engine: not measured (pip install 'datagov[spark]')")
        return
    cmd = [*DATAGOV, "--workspace", str(ws), "validate", "bench", "--suite", "bench", "--no-progress"]
    duck, spark = [], []
    for r in range(rounds):
        pair = [(duck, cmd), (spark, [*cmd, "--engine", "spark", "--master", "local[2]"])]
        for times, argv in pair[:: 1 if r % 2 == 0 else -1]:
            times.append(max_rss_mb(argv)[0])
    print(f"Spark engine: {rows:,} rows, the same suite ({machine()}; best of {rounds}, alternating)")
    print(f"  datagov validate --engine duckdb                    {min(duck):8.3f} s")
    print(f"  datagov validate --engine spark --master local[2]   {min(spark):8.3f} s")
    print(f"  5. Spark / DuckDB           {min(spark) / min(duck):6.2f}   (no target: the price of a cluster)")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=10_000_000)
    parser.add_argument("--hash-only", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pandas-cap-gb", type=float, default=8.0, help="2b: pandas under this cap (0: no)")
    args = parser.parse_args()
    main(args.rows, hash_only=args.hash_only, rounds=args.rounds, pandas_cap_gb=args.pandas_cap_gb)
