"""The DuckDB-native metric providers give GX's own answers: each suite runs
twice on the same Parquet, with datagov's providers and with GX's, and every
result must agree; the SQL shows which ran. A GX release that moves one of
these metrics fails `install` (and this file) loudly."""

import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from datagov.errors import DatagovError
from datagov.quality import duckdb_metrics
from datagov.quality.gx_duckdb import duckdb_batch, view_database


@pytest.fixture
def parquet(tmp_path):
    rng = random.Random(7)
    n = 5000
    ints = [rng.randrange(-50, 50) if i % 11 else None for i in range(n)]
    floats = [rng.gauss(0, 1) if i % 13 else None for i in range(n)]
    unique_but_few = [i if i not in (10, 20, 30) else 5 for i in range(n)]  # 5 appears 4 times
    unique_but_few[100] = None
    unique_floats = [i / 7 if i % 9 else None for i in range(n)]
    signed_zeros_and_nans = [i / 7 for i in range(n)]
    signed_zeros_and_nans[:4] = [0.0, -0.0, float("nan"), float("nan")]  # equal to DuckDB, in GROUP BY and DISTINCT
    path = tmp_path / "d.parquet"
    columns = {"i": ints, "f": floats, "u": unique_but_few, "label": [i % 4 for i in range(n)], "z": unique_floats}
    pq.write_table(pa.table(columns | {"w": signed_zeros_and_nans}), path)
    return path


Q = [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0]
QUANTILE_EXPECTATIONS = [
    {"type": "expect_column_quantile_values_to_be_between",
     "kwargs": {"column": c, "quantile_ranges": {"quantiles": Q, "value_ranges": [[-1000, 1000]] * len(Q)}}}
    for c in ("i", "f", "label")
]  # fmt: skip


def _suite():
    import great_expectations as gx

    e = gx.expectations
    return gx.ExpectationSuite(
        name="providers",
        expectations=[e.ExpectColumnQuantileValuesToBeBetween(**x["kwargs"]) for x in QUANTILE_EXPECTATIONS]
        + [e.ExpectColumnMedianToBeBetween(column="f", min_value=-1, max_value=1)]
        + [e.ExpectColumnValuesToBeUnique(column=c) for c in ("u", "i", "label", "z", "w")]
        + [e.ExpectColumnValuesToBeUnique(column="u", mostly=0.99)],
    )


def _run(tmp_path, parquet, native: bool):
    (duckdb_metrics.install if native else duckdb_metrics.uninstall)()
    statements = []

    def seen(conn, cursor, statement, *_):
        statements.append(statement)

    folder = tmp_path / ("native" if native else "gx")
    folder.mkdir()
    database = view_database(folder / "v.duckdb", [str(parquet)])
    event.listen(Engine, "before_cursor_execute", seen)
    try:
        if native:
            with duckdb_batch(database, [str(parquet)]) as batch:
                duckdb_metrics.prefetch(batch, QUANTILE_EXPECTATIONS)
                result = batch.validate(_suite(), result_format="SUMMARY")
        else:  # GX's providers: duckdb_batch installs ours, so take them out again inside it
            with duckdb_batch(database, [str(parquet)]) as batch:
                duckdb_metrics.uninstall()
                result = batch.validate(_suite(), result_format="SUMMARY")
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
        duckdb_metrics.install()
    return result.results, statements


def _one_value(v):
    """-0.0 and 0.0 are one value to DuckDB, listed by either sign; NaN is one value too."""
    if isinstance(v, float) and v != v:
        return "NaN"
    return v + 0.0 if v == 0 else v


def _comparable(r):
    """A result as both engines must agree on it. The partial list is a sample
    of the unexpected rows in an engine's own order: with more unexpected rows
    than it holds, any of them may be listed (checked against the data below)."""
    out = dict(r.result)
    out.pop("partial_unexpected_counts", None)
    listed = out.pop("partial_unexpected_list", None)
    if listed is not None:
        out["listed"] = len(listed)
        if out["unexpected_count"] <= len(listed):
            out["partial_unexpected_list"] = sorted(map(_one_value, listed), key=repr)
    return r.success, out


def _by_expectation(results):
    def key(r):
        kw = r.expectation_config.kwargs
        return r.expectation_config.type, kw.get("column"), kw.get("mostly")

    return {key(r): r for r in results}


def test_native_providers_give_gx_s_own_results(tmp_path, parquet):
    ours, our_statements = _run(tmp_path, parquet, native=True)
    theirs, their_statements = _run(tmp_path, parquet, native=False)
    our_sql, their_sql = " ".join(our_statements), " ".join(their_statements)
    # Every column's quantiles in one scan (the prefetch); no window anywhere.
    assert [s.count("quantile_disc(") for s in our_statements if "quantile_disc(" in s] == [3]
    assert "OVER (PARTITION BY" not in our_sql
    assert our_sql.count("count(DISTINCT") == 5 and our_sql.count("HAVING") == 4  # z is unique
    assert "percentile_disc" in their_sql and "OVER (PARTITION BY" in their_sql  # GX's path really ran
    ours, theirs = _by_expectation(ours), _by_expectation(theirs)
    assert len(ours) == len(theirs) == 10 and ours.keys() == theirs.keys()
    for key, a in ours.items():
        b = theirs[key]
        assert not a.exception_info.get("raised_exception") and not b.exception_info.get("raised_exception")
        assert _comparable(a) == _comparable(b), key
    table = pq.read_table(parquet).to_pydict()
    unique = "expect_column_values_to_be_unique"
    for column in ("u", "i", "label"):  # every value listed really occurs more than once
        values = [v for v in table[column] if v is not None]
        assert all(values.count(v) > 1 for v in ours[(unique, column, None)].result["partial_unexpected_list"])
    strict, tolerant = ours[(unique, "u", None)], ours[(unique, "u", 0.99)]
    assert strict.result["unexpected_count"] == 4 and strict.result["partial_unexpected_list"] == [5, 5, 5, 5]
    assert strict.success is False and tolerant.success is True  # mostly=0.99 tolerates 4 of 5000
    assert ours[(unique, "z", None)].success is True and ours[(unique, "w", None)].result["unexpected_count"] == 4


def test_install_is_idempotent_and_uninstall_restores_gx(monkeypatch):
    from great_expectations.expectations.registry import _registered_metrics

    duckdb_metrics.install()
    duckdb_metrics.install()
    for name in duckdb_metrics.PROVIDERS:
        fn = _registered_metrics[name]["providers"]["SqlAlchemyExecutionEngine"][1]
        assert fn.datagov_native is duckdb_metrics.PROVIDERS[name]
        assert not hasattr(fn.datagov_original, "datagov_native")  # wrapped once, not twice
    duckdb_metrics.uninstall()
    assert all(
        not hasattr(_registered_metrics[n]["providers"]["SqlAlchemyExecutionEngine"][1], "datagov_native")
        for n in duckdb_metrics.PROVIDERS
    )
    duckdb_metrics.install()
    # A GX release without one of these SQL providers is refused, not silently unpatched.
    monkeypatch.setitem(duckdb_metrics.PROVIDERS, "column.no_such_metric", duckdb_metrics.quantile_values)
    with pytest.raises(DatagovError, match=r"no SQL provider for 'column\.no_such_metric'"):
        duckdb_metrics.install()
