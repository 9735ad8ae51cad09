"""The DuckDB sandbox validation runs in: it reads only the version's files,
writes nothing, and cannot be talked out of it."""

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datagov.quality.gx_duckdb import SandboxViolation, only_queries, sandbox, view_database


@pytest.fixture
def con(tmp_path):
    pq.write_table(pa.table({"x": [1, 2, 3]}), tmp_path / "d.parquet")
    (tmp_path / "secret.txt").write_text("s3cret")
    db = view_database(tmp_path / "v.duckdb", [str(tmp_path / "d.parquet")])
    connection = duckdb.connect(str(db), read_only=True)
    sandbox(connection, [str(db), str(tmp_path / "d.parquet")])
    yield connection
    connection.close()


def test_the_view_still_reads(con):
    assert con.execute("SELECT sum(x) FROM data").fetchone()[0] == 6


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_text('{tmp}/secret.txt')",
        "SELECT * FROM read_csv('{tmp}/secret.txt')",
        "SELECT * FROM glob('{tmp}/*')",
        "COPY (SELECT 1) TO '{tmp}/out.csv'",
        "ATTACH '{tmp}/other.duckdb'",
        "SET enable_external_access = true",
        "RESET lock_configuration",
        "LOAD httpfs",
        "CREATE TABLE t AS SELECT 1",
    ],
)
def test_nothing_outside_the_data_is_reachable(con, tmp_path, sql):
    with pytest.raises(duckdb.Error):
        con.execute(sql.replace("{tmp}", str(tmp_path))).fetchall()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.parquet", "secret.txt", "v.duckdb"]


def test_a_second_connection_to_the_locked_instance_is_accepted(con, tmp_path):
    sandbox(con, [])  # already locked with external access off: nothing to do, no error


@pytest.mark.parametrize(
    "sql", ["COPY (SELECT 1) TO 'x'", "SELECT 1; DELETE FROM t", "PRAGMA database_list", "SET x=1"]
)
def test_only_queries_refuses_statements(sql):
    with pytest.raises(SandboxViolation, match="only queries may run"):
        only_queries(sql)


def test_only_queries_accepts_queries():
    only_queries("WITH a AS (SELECT 1) SELECT * FROM a UNION ALL SELECT 2")
