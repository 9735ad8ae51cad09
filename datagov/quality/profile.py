"""Column statistics of a version, computed by DuckDB over its Parquet files.

One aggregate query for counts, ranges and moments; small GROUP BY queries
for the value sets of low-cardinality columns. Nothing is loaded whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import duckdb

from datagov.sql import sql_ident

INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
NUMERIC = INTEGER | {"FLOAT", "DOUBLE", "REAL"}
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
VALUE_SET_MAX = 20  # at most this many distinct values: treat as categorical


@dataclass
class ColumnProfile:
    name: str
    type: str
    nulls: int = 0
    distinct: int = 0  # exact count of distinct non-null values
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    stdev: float | None = None
    quantiles: list[float] = field(default_factory=list)
    values: list | None = None  # sorted distinct values when few
    counts: dict = field(default_factory=dict)  # value -> rows, when few
    lengths: tuple[int, int] | None = None  # (min, max) string length

    @property
    def numeric(self) -> bool:
        return self.type.upper() in NUMERIC or self.type.upper().startswith("DECIMAL")

    @property
    def integer(self) -> bool:
        return self.type.upper() in INTEGER

    @property
    def blob(self) -> bool:
        """Bytes, or nested values (STRUCT, LIST, MAP): nothing to suggest
        value sets or ranges from."""
        kind = self.type.upper()
        return kind == "BLOB" or "[" in kind or kind.startswith(("STRUCT", "MAP", "UNION"))


@dataclass
class Profile:
    rows: int
    columns: list[ColumnProfile]

    def column(self, name: str) -> ColumnProfile:
        return next(c for c in self.columns if c.name == name)


def profile_parquet(source: str, con: duckdb.DuckDBPyConnection | None = None) -> Profile:
    """Profile a DuckDB FROM clause (`store.scan_version`, or any read_parquet)."""
    own = con is None
    if con is None:
        from datagov.store import duckdb_connection, scan_memory

        con = duckdb_connection(memory_limit=scan_memory())  # distinct counts of 10M rows spill, not grow
    try:
        cols = [
            ColumnProfile(name, type_) for name, type_, *_ in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        ]
        parts = ["count(*)"]
        for c in cols:
            q = sql_ident(c.name)
            parts.append(f"count({q})")
            if c.blob:
                parts.append("NULL")
                continue
            parts.append(f"count(DISTINCT {q})")
            if c.numeric:
                qs = ", ".join(map(str, QUANTILES))
                parts += [
                    f"min({q})::DOUBLE",
                    f"max({q})::DOUBLE",
                    f"avg({q})::DOUBLE",
                    f"stddev_samp({q})::DOUBLE",
                    f"quantile_disc({q}::DOUBLE, [{qs}])",
                ]
            elif c.type.upper() == "VARCHAR":
                parts += [f"min(length({q}))", f"max(length({q}))"]
        row = list(con.execute(f"SELECT {', '.join(parts)} FROM {source}").fetchone() or ())
        rows = row.pop(0)
        for c in cols:
            c.nulls = rows - row.pop(0)
            distinct = row.pop(0)
            if c.blob:
                continue
            c.distinct = distinct
            if c.numeric:
                c.min, c.max, c.mean, c.stdev, quantiles = (row.pop(0) for _ in range(5))
                c.quantiles = list(quantiles or [])
            elif c.type.upper() == "VARCHAR":
                lo, hi = row.pop(0), row.pop(0)
                c.lengths = (lo, hi) if lo is not None else None
            if 0 < c.distinct <= VALUE_SET_MAX:
                pairs = con.execute(
                    f"SELECT {sql_ident(c.name)}, count(*) FROM {source} WHERE {sql_ident(c.name)} IS NOT NULL "
                    f"GROUP BY ALL ORDER BY 1"
                ).fetchall()
                c.values = [v for v, _ in pairs]
                c.counts = {v: n for v, n in pairs}
        return Profile(rows=rows, columns=cols)
    finally:
        if own:
            con.close()


def quantile_bands(quantiles: list[float], fixed: float, rows: int) -> list[float]:
    """Half-widths for the profiled QUANTILES: `fixed`, plus three standard errors
    of a sample quantile over `rows` rows, sqrt(p(1-p)/n) / f(x_p), with 1/f(x_p)
    (dx/dp) taken from the neighbouring profiled quantiles: in the tails the
    density is lower than in the middle, and a sample's 5 % and 95 % points
    move further (one slope from the interquartile range made the tails' bands
    too narrow for 50 rows)."""
    ps, qs, last = QUANTILES, quantiles, len(QUANTILES) - 1
    bands = []
    for i, p in enumerate(ps):
        lo, hi = max(i - 1, 0), min(i + 1, last)
        slope = (qs[hi] - qs[lo]) / (ps[hi] - ps[lo])
        bands.append(fixed + 3 * math.sqrt(p * (1 - p) / rows) * slope)
    return bands
