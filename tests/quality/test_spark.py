"""`datagov validate --engine spark`: the same suite through GX's Spark engine
on local[2] and on a standalone master and worker started here on
127.0.0.1 (both ship in the pyspark wheel), the same receipt with the engine
recorded, the same gate, and agreement with DuckDB expectation by expectation.

Quantiles may differ by engine: DuckDB's `quantile_disc` and Spark's exact
`approxQuantile` (relative error 0, as GX asks) each return a value of the
column, but may pick neighbouring order statistics when q·n falls between
ranks. They are compared by rank: at most one apart."""

import bisect
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from datagov.catalog.db import open_catalog
from datagov.catalog.receipts import list_receipts
from datagov.gate import check_gate
from tests.quality.conftest import exp, write_suite

SUITE = [
    exp("expect_table_row_count_to_be_between", min_value=100, max_value=1000),
    exp("expect_column_values_to_not_be_null", column="x"),
    exp("expect_column_values_to_be_between", column="y", min_value=0, max_value=10),
    exp("expect_column_mean_to_be_between", column="x", min_value=-0.5, max_value=0.5),
    exp("expect_column_stdev_to_be_between", column="x", min_value=0.5, max_value=1.5),
    exp("expect_column_values_to_be_in_set", column="label", value_set=[0, 1, 2, 3]),
    exp("expect_column_values_to_be_unique", column="id"),
    exp("expect_column_values_to_be_unique", column="kind"),  # fails: two values
    exp(
        "expect_column_quantile_values_to_be_between",
        column="x",
        quantile_ranges={"quantiles": [0.05, 0.25, 0.5, 0.75, 0.95], "value_ranges": [[-3, 3]] * 5},
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spark_class(*args, log: Path) -> subprocess.Popen:
    import pyspark

    home = Path(pyspark.__file__).parent
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    return subprocess.Popen(
        [str(home / "bin" / "spark-class"), *args], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def _wait_for(path: Path, text: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise AssertionError(f"{text!r} never appeared in {path}:\n{path.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def spark_master(tmp_path_factory):
    """A standalone Spark master and one worker on 127.0.0.1, stopped after the module."""
    logs = tmp_path_factory.mktemp("spark")
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    master = _spark_class("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                          "--webui-port", str(_free_port()), log=logs / "master.log")  # fmt: skip
    worker = None
    try:
        _wait_for(logs / "master.log", "I have been elected leader")
        worker = _spark_class("org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "2",
                              "--memory", "1g", "--webui-port", str(_free_port()), log=logs / "worker.log")  # fmt: skip
        _wait_for(logs / "worker.log", "Successfully registered with master")
        yield url
    finally:
        for proc in (worker, master):
            if proc is not None:
                os.killpg(proc.pid, 15)
                proc.wait(timeout=60)


def _receipt(ws, engine):
    with open_catalog(ws) as con:
        return next(r for r in list_receipts(con, dataset="t") if r.engine == engine)


def _rank(sorted_values, value) -> int:
    return bisect.bisect_left(sorted_values, value)


def test_spark_on_local_agrees_with_duckdb_expectation_by_expectation(table, ws):
    write_suite(ws, "both", SUITE)
    spark = table("validate", "t", "--suite", "both", "--engine", "spark")
    duck = table("validate", "t", "--suite", "both")
    assert spark.exit_code == duck.exit_code == 3, spark.output  # the same one failure: kind is not unique
    on_spark, on_duckdb = _receipt(ws, "spark"), _receipt(ws, "duckdb")
    assert on_spark.digest == on_duckdb.digest and on_spark.suite_digest == on_duckdb.suite_digest
    assert (on_spark.evaluated, on_spark.successful) == (on_duckdb.evaluated, on_duckdb.successful) == (9, 8)
    with open_catalog(ws) as con:
        stored = con.execute("SELECT digest FROM versions WHERE dataset = 't'").fetchone()[0]
    x = sorted(pq.read_table(ws.store_dir / stored, columns=["x"]).column("x").to_pylist())
    for a, b in zip(on_spark.results, on_duckdb.results, strict=True):
        assert (a["type"], a["column"], a["success"]) == (b["type"], b["column"], b["success"])
        seen, expected = a["result"].get("observed_value"), b["result"].get("observed_value")
        if a["type"] == "expect_column_quantile_values_to_be_between":
            for s, d in zip(seen["values"], expected["values"], strict=True):
                assert s in x and d in x and abs(_rank(x, s) - _rank(x, d)) <= 1
        elif isinstance(expected, float):
            assert seen == pytest.approx(expected, rel=1e-9)
        else:
            assert seen == expected
            assert a["result"].get("unexpected_count") == b["result"].get("unexpected_count")


def test_a_standalone_cluster_writes_the_receipt_the_gate_accepts(table, ws, spark_master):
    write_suite(ws, "s", [e for e in SUITE if e["kwargs"].get("column") != "kind"])
    result = table("validate", "t", "--suite", "s", "--engine", "spark", "--master", spark_master)
    assert result.exit_code == 0, result.output
    receipt = _receipt(ws, "spark")
    assert receipt.success and receipt.evaluated == 8
    decision = check_gate(ws, "pretrain", "t", ["s"])
    assert decision.allowed and decision.receipt_ids == [receipt.id]


def test_sql_bad_masters_and_missing_engines_are_one_error(table, ws):
    write_suite(ws, "sql", [exp("expect_column_values_to_not_be_null", column="x"),
                            {"type": "unexpected_rows_expectation",
                             "kwargs": {"unexpected_rows_query": "SELECT * FROM {batch} WHERE x > 100"}}])  # fmt: skip
    write_suite(ws, "expr", [exp("expect_column_values_to_not_be_null", column="x",
                                 row_condition="reflect('java.lang.System', 'getProperty', 'user.home') IS NOT NULL",
                                 condition_parser="spark")])  # fmt: skip
    write_suite(ws, "ok", SUITE[:2])
    port = _free_port()
    for args, message in (
        (["--suite", "sql", "--engine", "spark"], "Error: suite 'sql', expectation #2 (unexpected_rows_expectation) "
                                                  "carries SQL"),
        (["--suite", "expr", "--engine", "spark"], "Error: suite 'expr', expectation #1 "
                                                   "(expect_column_values_to_not_be_null) carries SQL (row_condition)"),
        (["--suite", "ok", "--engine", "spark", "--master", f"spark://127.0.0.1:{port}"],
         f"Error: cannot reach the Spark master at spark://127.0.0.1:{port}"),
        (["--suite", "ok", "--engine", "spark", "--master", "yarn"], "Error: --master 'yarn' is not a Spark master"),
        (["--suite", "ok", "--engine", "flink"], "Error: unknown engine 'flink'"),
        (["--suite", "ok", "--master", "local[2]"], "Error: --master names a Spark master"),
    ):  # fmt: skip
        bad = table("validate", "t", *args)
        assert bad.exit_code == 1 and bad.stderr.startswith(message), bad.stderr
    with open_catalog(ws) as con:
        assert list_receipts(con, dataset="t") == []  # nothing was written


def test_great_expectations_imports_in_a_python_c_process():
    """Canary: GX imports pyspark's Connect module; without its dependencies
    (the `spark` extra installs them) pyspark exits a `python -c` process with
    status 0 on import, which would make any such caller look successful."""
    proc = subprocess.run([sys.executable, "-c", "import great_expectations; print('alive')"],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip() == "alive", proc.stderr[-2000:]


def test_spark_receipts_are_json_like_duckdb_ones(table, ws):
    write_suite(ws, "one", SUITE[:1])
    assert table("validate", "t", "--suite", "one", "--engine", "spark").exit_code == 0
    listed = json.loads(table("validations", "list", "t", "--json").stdout)
    assert listed[0]["engine"] == "spark"


@pytest.mark.slow
def test_a_port_that_is_no_spark_master_is_one_error_within_the_deadline(table, ws, monkeypatch):
    """It accepts connections and never speaks Spark: the wait is bounded, the error one line."""
    import socket
    import time

    write_suite(ws, "ok", SUITE[:2])
    monkeypatch.setenv("DATAGOV_SPARK_START_TIMEOUT", "5")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        master = f"spark://127.0.0.1:{silent.getsockname()[1]}"
        t0 = time.monotonic()
        bad = table("validate", "t", "--suite", "ok", "--engine", "spark", "--master", master)
    assert time.monotonic() - t0 < 60  # Spark's own retries take 60 s and more
    assert bad.exit_code == 1, bad.output
    assert bad.stderr.startswith(f"Error: the Spark master at {master} did not take this application within 5 s")
    assert "Traceback" not in bad.output
    with open_catalog(ws) as con:
        assert list_receipts(con, dataset="t") == []
