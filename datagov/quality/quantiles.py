"""Exact column quantiles in bounded memory, with DuckDB's `quantile_disc`
answer (what GX's SQL path returns on DuckDB).

`quantile_disc` is a holistic aggregate: it holds every value of the column
and does not spill, so at 100M rows one column needs 800 MB and fails under
validation's memory limit. Past `IN_MEMORY_ROWS` non-null values this
finds the same order statistics in three scans that each hold little:

1. `approx_quantile` (a t-digest) at q ± δ brackets each answer;
2. one pass counts the values below and inside every bracket, which says
   whether the answer's rank falls inside it;
3. one pass fetches the values inside the brackets (2δ of the rows each),
   and sorting them gives the value at the answer's rank.

A bracket that misses its rank, or holds too many rows, is retried with
δ quartered or quadrupled; after `ATTEMPTS` the column falls back to
`quantile_disc`. The rank is DuckDB's: index ⌈n·q⌉ − 1 over the sorted
non-null values, with n·q snapped to an integer within 1e-9 (DuckDB computes
it without the last-bit error of floating point; `tests/quality/
test_quantiles.py` checks the formula against DuckDB on 58,000 (n, q) pairs
and the whole method against `quantile_disc`).
"""

from __future__ import annotations

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
    import sqlalchemy as sa

    if n == 0:
        return [None] * len(quantiles)
    if n <= IN_MEMORY_ROWS:
        return _in_memory(run, selectable, column, quantiles)
    found: dict[int, Any] = {}
    width = {i: BRACKET for i in range(len(quantiles))}
    for _ in range(ATTEMPTS):
        pending = [i for i in range(len(quantiles)) if i not in found]
        if not pending:
            break
        brackets = _brackets(run, selectable, column, {i: (quantiles[i], width[i]) for i in pending})
        counts = run(
            sa.select(*[
                expr for i in pending
                for expr in (sa.func.count().filter(column < brackets[i][0]),
                             sa.func.count().filter(sa.and_(column >= brackets[i][0], column <= brackets[i][1])))
            ]).select_from(selectable)
        ).fetchone()  # fmt: skip
        usable = {}
        for k, i in enumerate(pending):
            below, inside = counts[2 * k], counts[2 * k + 1]
            rank = quantile_index(quantiles[i], n)
            lo, hi = brackets[i]
            if not below <= rank < below + inside:
                width[i] *= 4  # the estimate was off by more than the bracket
            elif lo == hi:
                found[i] = lo  # every value in the bracket is this one
            elif inside > MAX_BRACKET_ROWS:
                width[i] /= 4  # ties or a dense region: narrow it
            else:
                usable[i] = (lo, hi, rank - below)
        found |= _pick(run, selectable, column, usable)
    missing = [i for i in range(len(quantiles)) if i not in found]
    if missing:
        found |= dict(zip(missing, _in_memory(run, selectable, column, [quantiles[i] for i in missing]), strict=True))
    return [found[i] for i in range(len(quantiles))]


def _in_memory(run, selectable, column, quantiles: list[float]) -> list:
    import sqlalchemy as sa

    query = sa.select(sa.func.quantile_disc(column, sa.literal(list(quantiles), sa.ARRAY(sa.Float))))
    value = run(query.select_from(selectable)).scalar()
    return list(value) if value is not None else [None] * len(quantiles)


def _brackets(run, selectable, column, wanted: dict[int, tuple[float, float]]) -> dict[int, tuple[Any, Any]]:
    """(low, high) values around each quantile, from one t-digest pass."""
    import sqlalchemy as sa

    probes = sorted({min(max(q + sign * w, 0.0), 1.0) for q, w in wanted.values() for sign in (-1, 1)})
    positions = sa.cast(sa.literal(probes, sa.ARRAY(sa.Float)), sa.ARRAY(sa.REAL))  # it takes FLOAT[]
    query = sa.select(sa.func.approx_quantile(column, positions))
    estimates = dict(zip(probes, run(query.select_from(selectable)).scalar(), strict=True))
    out = {}
    for i, (q, w) in wanted.items():
        lo, hi = estimates[min(max(q - w, 0.0), 1.0)], estimates[min(max(q + w, 0.0), 1.0)]
        out[i] = (min(lo, hi), max(lo, hi))
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
        position = _first_at_least(values, lo) + offset
        if position >= len(values) or not lo <= values[position] <= hi:
            raise DatagovError(f"the values of {column} changed between two reads of one validation")
        out[i] = values[position]
    return out


def _first_at_least(values: list, bound) -> int:
    import bisect

    return bisect.bisect_left(values, bound)
