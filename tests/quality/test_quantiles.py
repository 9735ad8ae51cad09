"""Bounded-memory exact quantiles give DuckDB's `quantile_disc` answers: the
rank formula against DuckDB on many (n, q) pairs, and the bracket method
(forced on small data, with brackets made to miss and to overflow) against
`quantile_disc` on floats with NULLs, heavy ties and a dominant value."""

import random

import duckdb
import pytest
import sqlalchemy as sa

from datagov.quality import quantiles as qmod

QS = [0.0, 0.001, 0.05, 0.25, 0.28, 0.5, 0.56, 0.75, 0.95, 0.999, 1.0, 1 / 3]


def test_rank_formula_is_duckdb_s():
    con = duckdb.connect()
    rng = random.Random(3)
    ns = [*range(1, 120), 997, 1000, 4545, 12345, 100_000, *(rng.randrange(1, 300_000) for _ in range(6))]
    qs = sorted({i / 100 for i in range(101)} | {i / 1000 for i in range(0, 1001, 7)} | {1 / 3, 2 / 3, 0.333})
    for n in ns:
        got = con.execute(f"SELECT quantile_disc(i, ?::DOUBLE[]) FROM range({n}) t(i)", [qs]).fetchone()[0]
        assert got == [qmod.quantile_index(q, n) for q in qs], n


@pytest.fixture
def engine(tmp_path):
    path = tmp_path / "d.duckdb"
    con = duckdb.connect(str(path))
    con.execute("SELECT setseed(0.11)")
    con.execute("""CREATE TABLE data AS SELECT
        CASE WHEN i % 17 = 0 THEN NULL ELSE sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) END AS f,
        (random() * 40)::BIGINT AS ties,
        CASE WHEN random() < 0.9 THEN 7 ELSE (random() * 1000)::BIGINT END AS dominant,
        pow(-ln(1 - random()), 3) AS skewed
        FROM range(60000) t(i)""")
    con.close()
    eng = sa.create_engine(f"duckdb:///{path}")
    yield eng
    eng.dispose()


def _both(engine, column):
    with engine.connect() as conn:

        def run(query):
            return conn.execute(query)

        table = sa.table("data", sa.column(column))
        col = sa.column(column)
        n = run(sa.select(sa.func.count(col)).select_from(table)).scalar()
        expected = qmod._in_memory(run, table, col, QS)
        return qmod.exact_quantiles(run, table, col, QS, n=n), expected


@pytest.mark.parametrize("column", ["f", "ties", "dominant", "skewed"])
def test_the_bracket_method_gives_quantile_disc_s_values(engine, column, monkeypatch):
    monkeypatch.setattr(qmod, "IN_MEMORY_ROWS", 0)  # always the bounded path
    got, expected = _both(engine, column)
    assert got == expected


def test_brackets_that_miss_or_overflow_are_retried(engine, monkeypatch):
    monkeypatch.setattr(qmod, "IN_MEMORY_ROWS", 0)
    monkeypatch.setattr(qmod, "BRACKET", 1e-7)  # too narrow: the estimate misses, the bracket widens
    assert _both(engine, "f")[0] == _both(engine, "f")[1]
    monkeypatch.setattr(qmod, "BRACKET", 0.4)
    monkeypatch.setattr(qmod, "MAX_BRACKET_ROWS", 2_000)  # too many rows: the bracket narrows
    got, expected = _both(engine, "skewed")
    assert got == expected


def test_several_columns_share_the_passes(engine, monkeypatch):
    monkeypatch.setattr(qmod, "IN_MEMORY_ROWS", 0)
    statements = []
    with engine.connect() as conn:

        def run(query):
            statements.append(str(query))
            return conn.execute(query)

        table = sa.table("data")
        columns = [sa.column(c) for c in ("f", "skewed", "ties")]
        counts = run(sa.select(*[sa.func.count(c) for c in columns]).select_from(table)).fetchone()
        got = qmod.exact_quantiles_of(run, table, [(c, QS, n) for c, n in zip(columns, counts, strict=True)])
        expected = [qmod._in_memory(run, table, c, QS) for c in columns]
    assert got == expected
    assert sum("approx_quantile" in s for s in statements) == 1  # one t-digest pass for three columns
