"""Bounded-memory exact quantiles give DuckDB's `quantile_disc` answers: the
rank formula against DuckDB on many (n, q) pairs, and the bracket method
(forced on small data, with brackets made to miss, to overflow and to fall
on ties) against `quantile_disc` on floats with NULLs and NaN, heavy ties, a
dominant value and a column that is all NULL."""

import random

import duckdb
import pytest
import sqlalchemy as sa

from datagov.errors import DatagovError
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
        pow(-ln(1 - random()), 3) AS skewed,
        CASE WHEN i % 5 = 0 THEN 'nan'::DOUBLE WHEN i % 7 = 0 THEN NULL ELSE random() END AS nans,
        NULL::DOUBLE AS empty,
        CASE WHEN i < 59000 THEN NULL ELSE i END AS sparse
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
        expected = qmod._in_memory(run, table, col, QS)
        return qmod.exact_quantiles(run, table, col, QS), expected


def _same(got: list, expected: list) -> bool:
    return all(qmod._same(a, b) for a, b in zip(got, expected, strict=True))


@pytest.fixture
def bounded(monkeypatch):
    """The bounded path on small data, with a sample small enough to be off."""
    monkeypatch.setattr(qmod, "IN_MEMORY_ROWS", 0)
    monkeypatch.setattr(qmod, "SAMPLE_VALUES", 2_000)
    monkeypatch.setattr(qmod, "MIN_SAMPLE", 2_000)


@pytest.mark.parametrize("column", ["f", "ties", "dominant", "skewed", "nans", "empty", "sparse"])
def test_the_bracket_method_gives_quantile_disc_s_values(engine, column, bounded):
    got, expected = _both(engine, column)
    assert _same(got, expected), (got, expected)


def test_brackets_that_miss_overflow_or_sit_on_ties_are_resolved(engine, bounded, monkeypatch):
    calls = []

    def spy(kind, method):
        return lambda self, brackets: calls.append((kind, len(brackets))) or method(self, brackets)

    monkeypatch.setattr(qmod._Brackets, "_split_ties", spy("split", qmod._Brackets._split_ties))
    monkeypatch.setattr(qmod._Brackets, "_pick_batch", spy("pick", qmod._Brackets._pick_batch))
    monkeypatch.setattr(qmod, "SIGMAS", 1e-6)  # too narrow: the sample misses, the bracket widens
    got, expected = _both(engine, "f")
    assert got == expected
    monkeypatch.setattr(qmod, "SIGMAS", 40.0)
    monkeypatch.setattr(qmod, "MAX_BRACKET_ROWS", 500)  # too many values: split at the ends, or a larger sample
    for column in ("skewed", "ties", "dominant"):
        got, expected = _both(engine, column)
        assert got == expected, column
    assert any(kind == "split" and n for kind, n in calls)
    monkeypatch.setattr(qmod, "PICK_VALUES", 600)  # one bracket per pick pass
    calls.clear()
    got, expected = _both(engine, "skewed")
    assert got == expected
    assert sum(kind == "pick" for kind, _ in calls) > 1, calls


def test_a_column_that_changes_between_passes_is_an_error_not_an_answer(engine, bounded):
    with engine.connect() as conn:
        reads = []

        def run(query):
            reads.append(query)
            if "list_sort" in str(query):  # the pick pass reads one row more than the counts saw
                conn.execute(sa.text("INSERT INTO data (f) VALUES (0.0)"))
            return conn.execute(query)

        with pytest.raises(DatagovError, match="changed between two reads"):
            qmod.exact_quantiles(run, sa.table("data"), sa.column("f"), [0.5])


def test_several_columns_share_the_passes(engine, monkeypatch):
    monkeypatch.setattr(qmod, "IN_MEMORY_ROWS", 0)
    statements = []
    with engine.connect() as conn:

        def run(query):
            statements.append(str(query))
            return conn.execute(query)

        table = sa.table("data")
        columns = [sa.column(c) for c in ("f", "skewed", "ties")]
        got = qmod.exact_quantiles_of(run, table, [(c, QS) for c in columns])
        expected = [qmod._in_memory(run, table, c, QS) for c in columns]
    assert got == expected
    samples = [s for s in statements if "random()" in s]
    assert len(samples) == 1 and all(c in samples[0] for c in ("f", "skewed", "ties"))  # one sample pass for three
