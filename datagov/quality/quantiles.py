"""Exact column quantiles in bounded memory, with DuckDB's `quantile_disc`
answer (what GX's SQL path returns on DuckDB).

`quantile_disc` is a holistic aggregate: it holds every value of the column
and does not spill, so at 100M rows one column needs 800 MB and fails under
validation's memory limit. Past `IN_MEMORY_ROWS` non-null values this
finds the same order statistics in three scans that each hold little:

1. `approx_quantile` (a t-digest) at q ± δ brackets each answer;
2. one pass counts the values below and inside every bracket, which says
   whether the answer's rank falls inside it;
3. one pass per column fetches the values inside its brackets (2δ of the
   rows each), and sorting them gives the value at the answer's rank.

Several columns share passes 1 and 2 (`exact_quantiles_of`).

A bracket that misses its rank, or holds too many rows, is retried with
δ quartered or quadrupled; after `ATTEMPTS` the column falls back to
`quantile_disc`. The rank is DuckDB's: index ⌈n·q⌉ − 1 over the sorted
non-null values, with n·q snapped to an integer within 1e-9 (DuckDB computes
it without the last-bit error of floating point; `tests/quality/
test_quantiles.py` checks the formula against DuckDB on 58,000 (n, q) pairs
and the whole method against `quantile_disc`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from typing import Any

from datagov.errors import DatagovError

IN_MEMORY_ROWS = 10_000_000  # quantile_disc holds 80 MB of doubles per column at this size
BRACKET = 0.001  # the first bracket's half-width in q: 0.2 % of the rows fetched per quantile
MAX_BRACKET_ROWS = 500_000  # values fetched per bracket at most (about 16 MB as Python floats)
ATTEMPTS = 4


def quantile_index(q: float, n: int) -> int:
    """The 0-based rank DuckDB's quantile_disc returns for q among n sorted values."""
    x = n * q
    nearest = round(x)
    if abs(x - nearest) <= 1e-9 * max(1.0, abs(x)):
        x = nearest
    return min(max(math.ceil(x) - 1, 0), n - 1)


def exact_quantiles(run: Callable[[Any], Any], selectable, column, quantiles: list[float], *, n: int) -> list:
    """The values at DuckDB's quantile_disc ranks, `run(query)` executing a
    SQLAlchemy query and returning its result."""
    return exact_quantiles_of(run, selectable, [(column, quantiles, n)])[0]


def exact_quantiles_of(run: Callable[[Any], Any], selectable, asks: list[tuple[Any, list[float], int]]) -> list[list]:
    """`exact_quantiles` for several (column, quantiles, non-null count) at
    once: the columns share each pass (one t-digest scan, one count scan)."""
    import sqlalchemy as sa

    found: dict[tuple[int, int], Any] = {}
    small = [c for c, (_, _, n) in enumerate(asks) if n <= IN_MEMORY_ROWS]
    # Columns that fit in memory together share one quantile_disc scan; else one each.
    groups = [small] if sum(asks[c][2] for c in small) <= IN_MEMORY_ROWS else [[c] for c in small]
    for group in (g for g in groups if g):
        values = _in_memory_many(run, selectable, [(asks[c][0], asks[c][1]) for c in group])
        found |= {(c, i): v for c, vs in zip(group, values, strict=True) for i, v in enumerate(vs)}
    width = {(c, i): BRACKET for c, (_, qs, _) in enumerate(asks) if c not in small for i in range(len(qs))}
    for _ in range(ATTEMPTS):
        pending = [key for key in width if key not in found]
        if not pending:
            break
        brackets = _brackets(run, selectable, asks, {key: width[key] for key in pending})
        tests = []
        for c, i in pending:
            column, (lo, hi) = asks[c][0], brackets[(c, i)]
            tests += [sa.func.count().filter(column < lo), sa.func.count().filter(sa.and_(column >= lo, column <= hi))]
        counts = run(sa.select(*tests).select_from(selectable)).fetchone()
        usable: dict[tuple[int, int], tuple[Any, Any, int]] = {}
        for k, (c, i) in enumerate(pending):
            below, inside = counts[2 * k], counts[2 * k + 1]
            rank = quantile_index(asks[c][1][i], asks[c][2])
            lo, hi = brackets[(c, i)]
            if not below <= rank < below + inside:
                width[(c, i)] *= 4  # the estimate was off by more than the bracket
            elif lo == hi:
                found[(c, i)] = lo  # every value in the bracket is this one
            elif inside > MAX_BRACKET_ROWS:
                width[(c, i)] /= 4  # ties or a dense region: narrow it
            else:
                usable[(c, i)] = (lo, hi, rank - below)
        for c in sorted({c for c, _ in usable}):
            mine = {i: v for (cc, i), v in usable.items() if cc == c}
            found |= {(c, i): v for i, v in _pick(run, selectable, asks[c][0], mine).items()}
    for c, (column, quantiles, _) in enumerate(asks):
        missing = [i for i in range(len(quantiles)) if (c, i) not in found]
        if missing:  # brackets kept missing: fall back to holding the column
            values = _in_memory(run, selectable, column, [quantiles[i] for i in missing])
            found |= {(c, i): v for i, v in zip(missing, values, strict=True)}
    return [[found[(c, i)] for i in range(len(qs))] for c, (_, qs, _) in enumerate(asks)]


def _in_memory(run, selectable, column, quantiles: list[float]) -> list:
    return _in_memory_many(run, selectable, [(column, quantiles)])[0]


def _in_memory_many(run, selectable, columns: list[tuple[Any, list[float]]]) -> list[list]:
    """quantile_disc of each (column, quantiles) in one scan; NULLs for an empty column."""
    import sqlalchemy as sa

    selects = [sa.func.quantile_disc(c, sa.literal(list(qs), sa.ARRAY(sa.Float))) for c, qs in columns]
    row = run(sa.select(*selects).select_from(selectable)).fetchone()
    return [list(v) if v is not None else [None] * len(qs) for v, (_, qs) in zip(row, columns, strict=True)]


def _brackets(run, selectable, asks, widths: dict[tuple[int, int], float]) -> dict[tuple[int, int], tuple]:
    """(low, high) values around each pending quantile, from one t-digest
    pass over every column that has one."""
    import sqlalchemy as sa

    def clamp(x: float) -> float:
        return min(max(x, 0.0), 1.0)

    probes: dict[int, list[float]] = {}
    for (c, i), w in widths.items():
        q = asks[c][1][i]
        probes.setdefault(c, [])
        probes[c] += [clamp(q - w), clamp(q + w)]
    columns = sorted(probes)
    selects = []
    for c in columns:
        probes[c] = sorted(set(probes[c]))
        positions = sa.cast(sa.literal(probes[c], sa.ARRAY(sa.Float)), sa.ARRAY(sa.REAL))  # it takes FLOAT[]
        column = asks[c][0]
        selects += [sa.func.approx_quantile(column, positions), sa.func.min(column), sa.func.max(column)]
    row = run(sa.select(*selects).select_from(selectable)).fetchone()
    estimates = {}
    for k, c in enumerate(columns):
        found, low, high = row[3 * k], row[3 * k + 1], row[3 * k + 2]
        estimates[c] = dict(zip(probes[c], found, strict=True))
        estimates[c] |= {0.0: low, 1.0: high}  # the ends exactly: a t-digest's estimate of them may be inside
    out = {}
    for (c, i), w in widths.items():
        q = asks[c][1][i]
        lo, hi = estimates[c][clamp(q - w)], estimates[c][clamp(q + w)]
        out[(c, i)] = (min(lo, hi), max(lo, hi))
    return out


def _pick(run, selectable, column, usable: dict[int, tuple[Any, Any, int]]) -> dict[int, Any]:
    """The value at each offset inside its bracket, from one pass fetching the brackets' values."""
    import sqlalchemy as sa

    if not usable:
        return {}
    inside = sa.or_(*[sa.and_(column >= lo, column <= hi) for lo, hi, _ in usable.values()])
    values = sorted(row[0] for row in run(sa.select(column).select_from(selectable).where(inside)).fetchall())
    out = {}
    for i, (lo, hi, offset) in usable.items():
        position = bisect.bisect_left(values, lo) + offset
        if position >= len(values) or not lo <= values[position] <= hi:
            raise DatagovError(f"the values of {column} changed between two reads of one validation")
        out[i] = values[position]
    return out
