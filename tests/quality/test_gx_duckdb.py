"""The GX-on-DuckDB workaround. These tests fail loudly when a GX upgrade
breaks it, or makes it unnecessary (then datagov/quality/gx_duckdb.py can go)."""

import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datagov.errors import DatagovError
from datagov.quality import gx_duckdb

SCRIPT = """
import sys
import great_expectations as gx
import pyarrow as pa, pyarrow.parquet as pq
from datagov.quality.gx_duckdb import duckdb_batch, view_database
from datagov.quality.validate import exception_messages
folder = sys.argv[1]
pq.write_table(pa.table({"x": [1.0, 2.0, 3.0]}), folder + "/d.parquet")
db = view_database(__import__("pathlib").Path(folder) / "v.duckdb", [folder + "/d.parquet"])
suite = gx.ExpectationSuite(name="s", expectations=[
    gx.expectations.ExpectColumnMeanToBeBetween(column="x", min_value=1.5, max_value=2.5)])
with duckdb_batch(db, [folder + "/d.parquet"], patched=sys.argv[2] == "patched") as batch:
    r = batch.validate(suite).results[0]
print("RESULT", r.success, r.result.get("observed_value"), exception_messages(r.exception_info))
"""


def run_case(tmp_path, mode):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), mode], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return next(line for line in proc.stdout.splitlines() if line.startswith("RESULT"))


def test_patched_engine_evaluates_on_duckdb(tmp_path):
    assert run_case(tmp_path, "patched") == "RESULT True 2.0 []"


def test_unpatched_engine_still_fails_upstream(tmp_path):
    """Canary: if this starts passing, GX fixed DuckDB and the workaround can be removed."""
    line = run_case(tmp_path, "unpatched")
    assert line.startswith("RESULT False None"), line
    assert "list index out of range" in line


def test_workaround_is_idempotent_and_visible():
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine

    gx_duckdb.install_workaround()
    gx_duckdb.install_workaround()
    dialects = engine._PERSISTED_CONNECTION_DIALECTS
    assert sum(1 for d in dialects if d == "duckdb") == 1
    assert engine._dialect_requires_persisted_connection(connection_string="duckdb:///x.duckdb")


def test_missing_hook_is_a_clear_error(monkeypatch):
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine

    monkeypatch.delattr(engine, "_PERSISTED_CONNECTION_DIALECTS")
    with pytest.raises(DatagovError, match="no longer has _PERSISTED_CONNECTION_DIALECTS"):
        gx_duckdb.install_workaround()


def test_view_database_reads_parquet_in_place(tmp_path):
    import duckdb

    pq.write_table(pa.table({"a": [1, 2]}), tmp_path / "it's.parquet")
    db = gx_duckdb.view_database(tmp_path / "v.duckdb", [str(tmp_path / "it's.parquet")])
    con = duckdb.connect(str(db))
    try:
        assert con.execute("SELECT sum(a) FROM data").fetchone()[0] == 3
    finally:
        con.close()
