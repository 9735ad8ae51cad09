"""DuckDB-native metric providers for the GX metrics that dominate a
validation's time and memory on DuckDB, installed into GX's metric registry
for the SQL engine and used only when the dialect is DuckDB (every other
dialect keeps GX's own provider).

- `column.quantile_values`: GX's generic SQL asks for one
  `percentile_disc(q) WITHIN GROUP (ORDER BY col)` per quantile, which DuckDB
  evaluates as separate sorts; `quantile_disc(col, [q1, q2, ...])` is one
  aggregate with the same (discrete, nearest-rank) semantics, and `prefetch`
  computes every column's in one scan before GX asks column by column. It
  holds the column's values, though: past 10M rows `quantiles.py` finds the
  same values in three scans of bounded memory (a sample, a count, a sort
  of the few values around each answer).
- `column_values.unique.unexpected_count` and `.unexpected_values`: GX counts
  duplicates with a window (`count(*) OVER (PARTITION BY col)`) that
  materializes every row and grows with the data, then lists them with a
  second window. Here `count(DISTINCT col) = count(col)` proves a column
  unique (the usual case) with the cheapest aggregate; otherwise one
  `GROUP BY ... HAVING count(*) > 1` aggregate gives both the count and the
  first duplicated values with how often each occurs. Both spill under
  DuckDB's memory limit.

Each provider is checked against GX's own result on the same data in
`tests/quality/test_duckdb_metrics.py`; a GX release that renames or
reshapes one of these metrics makes `install` raise, loudly.
"""

from __future__ import annotations

from typing import Any

from datagov.errors import DatagovError

SQL_ENGINE = "SqlAlchemyExecutionEngine"
DUCKDB = "duckdb"


def _column_domain(execution_engine, metric_domain_kwargs: dict):
    """(selectable, column) of a column metric's domain, as GX computes it
    (row conditions applied), with NULLs left for the caller to filter."""
    import sqlalchemy as sa
    from great_expectations.core.metric_domain_types import MetricDomainTypes

    selectable, _compute, accessor = execution_engine.get_compute_domain(
        metric_domain_kwargs, domain_type=MetricDomainTypes.COLUMN
    )
    return selectable, sa.column(accessor["column"])


QUANTILE_EXPECTATION = "expect_column_quantile_values_to_be_between"
_WHOLE_TABLE = {"batch_id", "table", "column", "row_condition", "condition_parser"}


def _whole_column(metric_domain_kwargs: dict) -> str | None:
    """The column of a domain that is a whole column of the batch (no row condition, no filter)."""
    kw = metric_domain_kwargs
    if set(kw) <= _WHOLE_TABLE and kw.get("table") is None and kw.get("row_condition") is None:
        return kw.get("column")
    return None


def prefetch(batch, expectations: list[dict]) -> None:
    """Compute the quantiles a suite asks for before GX asks column by column,
    the columns sharing scans (`quantiles.exact_quantiles_of`). The quantile
    provider answers from this when its domain is the whole column."""
    import sqlalchemy as sa

    from datagov.quality.quantiles import exact_quantiles_of

    wanted = []
    for e in expectations:
        kw = e.get("kwargs", {})
        quantiles = (kw.get("quantile_ranges") or {}).get("quantiles")
        if e.get("type") == QUANTILE_EXPECTATION and kw.get("column") and quantiles and not kw.get("row_condition"):
            wanted.append((kw["column"], tuple(float(q) for q in quantiles)))
    wanted = list(dict.fromkeys(wanted))
    if not wanted:
        return
    engine, selectable = batch.data.execution_engine, batch.data.selectable
    cache = engine.__dict__.setdefault("_datagov_quantiles", {})
    asks: list[tuple[Any, list[float]]] = [(sa.column(column), list(qs)) for column, qs in wanted]
    for key, values in zip(wanted, exact_quantiles_of(engine.execute_query, selectable, asks), strict=True):
        cache[key] = values


def quantile_values(execution_engine, metric_domain_kwargs, metric_value_kwargs, **_) -> list:

    from datagov.quality.quantiles import exact_quantiles

    quantiles = [float(q) for q in metric_value_kwargs["quantiles"]]
    column_name = _whole_column(metric_domain_kwargs)
    cached = execution_engine.__dict__.get("_datagov_quantiles", {}).get((column_name, tuple(quantiles)))
    if column_name is not None and cached is not None:
        return list(cached)
    selectable, column = _column_domain(execution_engine, metric_domain_kwargs)
    return exact_quantiles(execution_engine.execute_query, selectable, column, quantiles)


GROUPS_FETCHED = 1000  # duplicated values fetched with the count: enough for any partial list


def _duplicates(execution_engine, metric_domain_kwargs: dict) -> tuple[int, list[tuple[Any, int]]]:
    """(rows whose value occurs more than once, every occurrence counted as GX
    counts them; the first duplicated values with their counts), shared by
    the count and the values metrics of one domain."""
    import json

    import sqlalchemy as sa

    cache = execution_engine.__dict__.setdefault("_datagov_duplicates", {})
    key = json.dumps(metric_domain_kwargs, sort_keys=True, default=str)
    if key in cache:
        return cache[key]
    selectable, column = _column_domain(execution_engine, metric_domain_kwargs)
    values, distinct = execution_engine.execute_query(
        sa.select(sa.func.count(column), sa.func.count(sa.distinct(column))).select_from(selectable)
    ).fetchone()
    if values == distinct:  # the usual case, and a cheaper aggregate (no counts kept per value)
        cache[key] = (0, [])
    else:
        duplicated = (
            sa.select(column.label("value"), sa.func.count().label("n"))
            .select_from(selectable)
            .where(column.isnot(None))
            .group_by(column)
            .having(sa.func.count() > 1)
            .subquery("duplicated")
        )
        total = sa.func.sum(duplicated.c.n).over().label("total")
        query = sa.select(duplicated.c.value, duplicated.c.n, total).limit(GROUPS_FETCHED)
        rows = execution_engine.execute_query(query).fetchall()
        cache[key] = (int(rows[0][2]) if rows else 0, [(r[0], int(r[1])) for r in rows])
    return cache[key]


def unique_unexpected_count(execution_engine, metric_domain_kwargs, **_) -> int:
    return _duplicates(execution_engine, metric_domain_kwargs)[0]


def unique_unexpected_values(execution_engine, metric_domain_kwargs, metric_value_kwargs, **_) -> list:
    """Up to `partial_unexpected_count` duplicated values, one per row as GX lists them."""
    limit = _partial_count(metric_value_kwargs)
    out: list = []
    for value, n in _duplicates(execution_engine, metric_domain_kwargs)[1]:
        out += [value] * min(n, limit - len(out))
        if len(out) >= limit:
            break
    return out


def _partial_count(metric_value_kwargs: dict) -> int:
    result_format = metric_value_kwargs.get("result_format") or {}
    if isinstance(result_format, dict):
        return int(result_format.get("partial_unexpected_count", 20))
    return 20


PROVIDERS = {
    "column.quantile_values": quantile_values,
    "column_values.unique.unexpected_count": unique_unexpected_count,
    "column_values.unique.unexpected_values": unique_unexpected_values,
}


def _dispatching(original, native):
    """A provider that runs `native` on DuckDB and GX's `original` elsewhere,
    carrying the attributes GX reads from a registered metric function."""

    def provider(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, metrics, runtime_configuration):
        if execution_engine.dialect_name == DUCKDB:
            return native(
                execution_engine=execution_engine,
                metric_domain_kwargs=metric_domain_kwargs,
                metric_value_kwargs=metric_value_kwargs,
                metrics=metrics,
            )
        return original(cls=cls, execution_engine=execution_engine, metric_domain_kwargs=metric_domain_kwargs,
                        metric_value_kwargs=metric_value_kwargs, metrics=metrics,
                        runtime_configuration=runtime_configuration)  # fmt: skip

    for attr in ("metric_engine", "metric_fn_type", "metric_definition_kwargs", "__name__", "__doc__"):
        if hasattr(original, attr):
            setattr(provider, attr, getattr(original, attr))
    provider.datagov_native = native
    provider.datagov_original = original
    return provider


def install() -> None:
    """Put the DuckDB-native providers in front of GX's (idempotent)."""
    from great_expectations.expectations.registry import _registered_metrics

    for name, native in PROVIDERS.items():
        providers = _registered_metrics.get(name, {}).get("providers", {})
        if SQL_ENGINE not in providers:
            raise DatagovError(
                f"this Great Expectations release has no SQL provider for {name!r}; datagov's DuckDB metric "
                "providers need updating (see datagov/quality/duckdb_metrics.py)"
            )
        cls, current = providers[SQL_ENGINE]
        if getattr(current, "datagov_native", None) is native:
            continue
        if getattr(current, "metric_fn_type", None) is None or str(current.metric_fn_type.value) != "value":
            raise DatagovError(f"GX's provider for {name!r} is no longer a value metric; see duckdb_metrics.py")
        providers[SQL_ENGINE] = (cls, _dispatching(current, native))


def uninstall() -> None:
    """Give GX its own providers back (the tests compare both)."""
    from great_expectations.expectations.registry import _registered_metrics

    for name in PROVIDERS:
        providers = _registered_metrics.get(name, {}).get("providers", {})
        if SQL_ENGINE in providers:
            cls, current = providers[SQL_ENGINE]
            original: Any = getattr(current, "datagov_original", None)
            if original is not None:
                providers[SQL_ENGINE] = (cls, original)
