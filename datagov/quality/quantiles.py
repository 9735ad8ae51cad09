"""Exact column quantiles in bounded memory, with DuckDB's `quantile_disc`
answer (what GX's SQL path returns on DuckDB).

`quantile_disc` is a holistic aggregate: it holds every value of the column
and does not spill, so at 100M rows one column needs 800 MB and fails under
validation's memory limit. Past `IN_MEMORY_ROWS` rows this finds the same
order statistics in three scans that each hold little:

1. a Bernoulli sample of about `SAMPLE_VALUES` values (`random() < p` in
   the aggregate's FILTER, so the pass also counts the column and finds its
   exact min and max) brackets each answer between the sample's quantiles
   at q ± δ, δ being `SIGMAS` standard errors of a sample quantile;
2. one pass counts the values below each bracket and up to its top, which
   says whether the answer's rank falls inside;
3. one pass sorts the values inside the brackets in DuckDB (a list per
   column, its brackets merged where they overlap) and extracts the value
   at each answer's rank, so only the answers come back to Python.

Several columns share every pass (`exact_quantiles_of`). Sampling makes the
passes cheap, never the answer approximate: a bracket that misses its rank
is retried with δ quadrupled; one holding more than `MAX_BRACKET_ROWS`
values is first split at its ends (heavy ties make the answer the end
itself), else retried on a sample 16 times larger (up to `MAX_SAMPLE`,
which resolves every rank to `MAX_BRACKET_ROWS` up to about 10^10 values).
After `ATTEMPTS` the column falls back to `quantile_disc`. The rank is DuckDB's: index ⌈n·q⌉ − 1
over the sorted non-null values, with n·q snapped to an integer within 1e-9
(DuckDB computes it without the last-bit error of floating point;
`tests/quality/test_quantiles.py` checks the formula against DuckDB on
58,000 (n, q) pairs and the whole method against `quantile_disc`). Values
are compared and sorted by DuckDB throughout, so NaN orders as DuckDB
orders it (above every number).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from datagov.errors import DatagovError

IN_MEMORY_ROWS = 10_000_000  # quantile_disc holds 80 MB of doubles per column at this size
SAMPLE_VALUES = 2_000_000  # sampled values per pass, shared by its columns (16 MB)
MIN_SAMPLE = 100_000  # per column, however many columns share the pass
MAX_SAMPLE = 8_000_000  # per column, after growing (64 MB)
SIGMAS = 4.0  # a bracket's half-width in standard errors of the sample quantile
MAX_BRACKET_ROWS = 2_000_000  # values inside one bracket at most (16 MB)
PICK_VALUES = 4_000_000  # values one pick pass sorts at most, over all its brackets
ATTEMPTS = 4

Run = Callable[[Any], Any]


def quantile_index(q: float, n: int) -> int:
    """The 0-based rank DuckDB's quantile_disc returns for q among n sorted values."""
    x = n * q
    nearest = round(x)
    if abs(x - nearest) <= 1e-9 * max(1.0, abs(x)):
        x = nearest
    return min(max(math.ceil(x) - 1, 0), n - 1)


def exact_quantiles(run: Run, selectable, column, quantiles: list[float]) -> list:
    """The values at DuckDB's quantile_disc ranks among the column's non-null
    values, `run(query)` executing a SQLAlchemy query and returning its result."""
    return exact_quantiles_of(run, selectable, [(column, quantiles)])[0]


def exact_quantiles_of(run: Run, selectable, asks: list[tuple[Any, list[float]]]) -> list[list]:
    """`exact_quantiles` for several (column, quantiles) at once: the columns share each pass."""
    import sqlalchemy as sa

    rows = run(sa.select(sa.func.count()).select_from(selectable)).scalar() or 0
    if rows * len(asks) <= IN_MEMORY_ROWS:  # together they fit: one quantile_disc scan
        return _in_memory_many(run, selectable, asks)
    if rows <= IN_MEMORY_ROWS:
        return [_in_memory(run, selectable, column, qs) for column, qs in asks]
    return _Brackets(run, selectable, asks, rows).solve()


def _in_memory(run, selectable, column, quantiles: list[float]) -> list:
    return _in_memory_many(run, selectable, [(column, quantiles)])[0]


def _in_memory_many(run, selectable, columns: list[tuple[Any, list[float]]]) -> list[list]:
    """quantile_disc of each (column, quantiles) in one scan; NULLs for an empty column."""
    import sqlalchemy as sa

    selects = [sa.func.quantile_disc(c, sa.literal(list(qs), sa.ARRAY(sa.Float))) for c, qs in columns]
    row = run(sa.select(*selects).select_from(selectable)).fetchone()
    return [list(v) if v is not None else [None] * len(qs) for v, (_, qs) in zip(row, columns, strict=True)]


def _same(a: Any, b: Any) -> bool:
    return a == b or (a != a and b != b)  # NaN is one value to DuckDB


@dataclass
class _Bracket:
    """Where one answer is looked for: values in [lo, hi] (or strictly
    between them, `open`), `below` of the column's values before it."""

    lo: Any
    hi: Any
    below: int = 0
    inside: int = 0
    rank: int = 0
    open: bool = False


class _Brackets:
    """The bracket method's state: per (column index, quantile index) key its
    rank, width and answer; per column its non-null count and sample size."""

    def __init__(self, run: Run, selectable, asks: list[tuple[Any, list[float]]], rows: int):
        self.run, self.selectable, self.asks, self.rows = run, selectable, asks, rows
        per_column = max(SAMPLE_VALUES // len(asks), MIN_SAMPLE)
        self.sample = dict.fromkeys(range(len(asks)), per_column)
        self.spread = {(c, i): 1.0 for c, (_, qs) in enumerate(asks) for i in range(len(qs))}
        self.found: dict[tuple[int, int], Any] = {}
        self.n: dict[int, int] = {}

    def solve(self) -> list[list]:
        for _ in range(ATTEMPTS):
            pending = [key for key in self.spread if key not in self.found]
            if not pending:
                break
            usable, crowded = self._count(self._sample_brackets(pending))
            self._pick(usable | self._split_ties(crowded))
        for c, (column, quantiles) in enumerate(self.asks):
            missing = [i for i in range(len(quantiles)) if (c, i) not in self.found]
            if missing:  # brackets kept missing: fall back to holding the column
                values = _in_memory(self.run, self.selectable, column, [quantiles[i] for i in missing])
                self.found |= {(c, i): v for i, v in zip(missing, values, strict=True)}
        return [[self.found[(c, i)] for i in range(len(qs))] for c, (_, qs) in enumerate(self.asks)]

    def rank(self, key: tuple[int, int]) -> int:
        c, i = key
        return quantile_index(self.asks[c][1][i], self.n[c])

    def _probes(self, key: tuple[int, int]) -> tuple[float, float]:
        c, i = key
        q, m = self.asks[c][1][i], self.sample[c]
        delta = SIGMAS * math.sqrt(max(q * (1 - q), 1 / m) / m) * self.spread[key] + 1 / m
        return max(q - delta, 0.0), min(q + delta, 1.0)

    def _sample_brackets(self, pending: list[tuple[int, int]]) -> dict[tuple[int, int], _Bracket]:
        """Pass 1: each column's count, min and max, and its sample's
        quantiles at q ± δ, in one scan; a column with no values has only NULL answers."""
        import sqlalchemy as sa

        probes: dict[int, list[float]] = {}
        for key in pending:
            probes.setdefault(key[0], []).extend(self._probes(key))
        columns = sorted(probes)
        selects = []
        for c in columns:
            column, probes[c] = self.asks[c][0], sorted(set(probes[c]))
            rate = min(1.0, self.sample[c] / (self.n.get(c) or self.rows))  # the column's own count once known
            sampled = sa.func.quantile_disc(column, sa.literal(probes[c], sa.ARRAY(sa.Float)))
            selects += [
                sa.func.count(column),
                sa.func.min(column),
                sa.func.max(column),
                sampled.filter(sa.func.random() < rate),
            ]
        row = self.run(sa.select(*selects).select_from(self.selectable)).fetchone()
        estimates = {}
        for k, c in enumerate(columns):
            self.n[c], low, high, values = row[4 * k : 4 * k + 4]
            estimates[c] = dict(zip(probes[c], values, strict=True)) if values else {}  # none sampled: min to max
            estimates[c] |= {0.0: low, 1.0: high}  # the ends exactly
        out = {}
        for key in pending:
            c = key[0]
            if self.n[c] == 0:
                self.found[key] = None
                continue
            low, high = self._probes(key)
            out[key] = _Bracket(estimates[c].get(low, estimates[c][0.0]), estimates[c].get(high, estimates[c][1.0]))
        return out

    def _count(self, brackets: dict[tuple[int, int], _Bracket]) -> tuple[dict, dict]:
        """Pass 2: the values below and up to each bracket. Returns the
        brackets whose answer is inside and few enough to sort, and those
        holding too many (for `_split_ties`); a miss widens its bracket."""
        import sqlalchemy as sa

        if not brackets:
            return {}, {}
        tests = []
        for (c, _), b in brackets.items():
            column = self.asks[c][0]
            tests += [_count_if(column < b.lo), _count_if(column <= b.hi)]
        counts = self.run(sa.select(*tests).select_from(self.selectable)).fetchone()
        usable: dict = {}
        crowded: dict = {}
        for k, (key, b) in enumerate(brackets.items()):
            b.below, upto, b.rank = counts[2 * k], counts[2 * k + 1], self.rank(key)
            b.inside = upto - b.below
            if not b.below <= b.rank < upto:
                self.spread[key] *= 4  # the sample was off by more than the bracket
            elif _same(b.lo, b.hi):
                self.found[key] = b.lo  # every value in the bracket is this one
            else:
                (usable if b.inside <= MAX_BRACKET_ROWS else crowded)[key] = b
        return usable, crowded

    def _split_ties(self, crowded: dict[tuple[int, int], _Bracket]) -> dict[tuple[int, int], _Bracket]:
        """A bracket holding too many values: its answer is its low end, its
        high end, or strictly between them; only the last needs sorting."""
        import sqlalchemy as sa

        if not crowded:
            return {}
        tests = []
        for (c, _), b in crowded.items():
            column = self.asks[c][0]
            tests += [_count_if(column <= b.lo), _count_if(column < b.hi)]
        counts = self.run(sa.select(*tests).select_from(self.selectable)).fetchone()
        usable, unresolved = {}, set()
        for k, (key, b) in enumerate(crowded.items()):
            through_lo, before_hi = counts[2 * k], counts[2 * k + 1]
            if b.rank < through_lo:
                self.found[key] = b.lo
            elif b.rank >= before_hi:
                self.found[key] = b.hi
            elif before_hi - through_lo <= MAX_BRACKET_ROWS:
                usable[key] = _Bracket(b.lo, b.hi, through_lo, before_hi - through_lo, b.rank, open=True)
            else:
                unresolved.add(key[0])
        for c in unresolved:  # the sample cannot resolve these ranks finely enough: a larger one can
            self.sample[c] = min(self.sample[c] * 16, MAX_SAMPLE)
        return usable

    def _pick(self, usable: dict[tuple[int, int], _Bracket]) -> None:
        """Pass 3: the answers from the values inside the brackets, sorted by
        DuckDB, in as few scans as `PICK_VALUES` allows. A bracket split at
        its ends may overlap another of its column, so it is sorted alone."""
        for key, b in usable.items():
            if b.open:
                self._pick_batch({key: b})
        batch: dict[tuple[int, int], _Bracket] = {}
        for key, b in sorted((kb for kb in usable.items() if not kb[1].open), key=lambda kb: kb[0]):
            if batch and sum(x.inside for x in batch.values()) + b.inside > PICK_VALUES:
                self._pick_batch(batch)
                batch = {}
            batch[key] = b
        if batch:
            self._pick_batch(batch)

    def _pick_batch(self, usable: dict[tuple[int, int], _Bracket]) -> None:
        import sqlalchemy as sa

        inner, outer, expected = [], [], []
        for c in sorted({c for c, _ in usable}):
            column = self.asks[c][0]
            spans = _merge(column, [(key, b) for key, b in usable.items() if key[0] == c])
            where = sa.or_(*[cond for cond, _, _ in spans])
            inner.append(sa.func.list_sort(sa.func.list(column).filter(where)).label(f"v{c}"))
            expected.append(sum(count for _, count, _ in spans))
            before = 0
            for _, count, members in spans:
                for key, offset in members:
                    outer.append((key, c, before + offset + 1))
                before += count
        sub = sa.select(*inner).select_from(self.selectable).subquery("brackets")
        columns = {c: sub.c[f"v{c}"] for c in {c for c, _ in usable}}
        lengths = [sa.func.len(columns[c]) for c in sorted(columns)]
        picks = [sa.func.list_extract(columns[c], position) for _, c, position in outer]
        row = self.run(sa.select(*lengths, *picks).select_from(sub)).fetchone()
        if list(row[: len(lengths)]) != expected:
            raise DatagovError("the values of a column changed between two reads of one validation")
        for (key, _, _), value in zip(outer, row[len(lengths) :], strict=True):
            self.found[key] = value


def _count_if(condition):
    """DuckDB's count_if: three times faster than count(*) FILTER (WHERE ...) at 20 conditions a row."""
    import sqlalchemy as sa

    return sa.func.count_if(condition)


def _merge(column, members: list[tuple[tuple[int, int], _Bracket]]) -> list[tuple[Any, int, list]]:
    """One column's brackets as disjoint spans: (condition, values inside,
    [(key, offset of its answer in the span)]). Overlapping closed brackets
    merge into one span whose count the pass-2 counts already give."""
    import sqlalchemy as sa

    spans: list[tuple[Any, int, list]] = []
    closed = sorted((kb for kb in members if not kb[1].open), key=lambda kb: kb[1].below)
    group: list[tuple[tuple[int, int], _Bracket]] = []

    def close() -> None:
        lo = group[0][1]
        end = max((b for _, b in group), key=lambda b: b.below + b.inside)
        count = end.below + end.inside - lo.below
        offsets = [(key, b.rank - lo.below) for key, b in group]
        spans.append((sa.and_(column >= lo.lo, column <= end.hi), count, offsets))

    for key, b in closed:
        if group and b.below > max(x.below + x.inside for _, x in group):
            close()
            group = []
        group.append((key, b))
    if group:
        close()
    for key, b in members:
        if b.open:  # ties split off: strictly between the ends, never merged
            spans.append((sa.and_(column > b.lo, column < b.hi), b.inside, [(key, b.rank - b.below)]))
    return spans
