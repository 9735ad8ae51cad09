"""Two-sample statistics on aggregated data.

Every function takes weighted distributions: sorted distinct values (or bin
centres) with their counts, which is what DuckDB's GROUP BY and histogram
aggregates return, so a million rows cost one small array. On raw samples
(counts of 1) each agrees with scipy; the tests hold them to 1e-6.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EPS = 1e-6  # PSI: floor for empty bins, so one empty bin does not make it infinite


@dataclass(frozen=True)
class Weighted:
    """An empirical distribution: sorted distinct `values` and their `counts`."""

    values: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, values, counts=None) -> Weighted:
        v = np.asarray(values, dtype=float)
        c = np.ones(len(v)) if counts is None else np.asarray(counts, dtype=float)
        order = np.argsort(v, kind="stable")
        v, c = v[order], c[order]
        uniq, starts = np.unique(v, return_index=True)  # merge repeated values
        return cls(uniq, np.add.reduceat(c, starts) if len(v) else c)

    @property
    def n(self) -> float:
        return float(self.counts.sum())

    def cdf(self, at: np.ndarray) -> np.ndarray:
        """P(X <= at) for each point."""
        cum = np.concatenate([[0.0], np.cumsum(self.counts)])
        return cum[np.searchsorted(self.values, at, side="right")] / self.n


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float | None = None  # None for distances


def ks_2samp(a: Weighted, b: Weighted) -> TestResult:
    """Two-sided two-sample Kolmogorov-Smirnov; the p-value from the
    asymptotic Kolmogorov distribution, as scipy's ks_2samp(method="asymp")."""
    from scipy.stats import kstwo

    support = np.union1d(a.values, b.values)
    d = float(np.max(np.abs(a.cdf(support) - b.cdf(support)))) if len(support) else 0.0
    m, n = sorted((a.n, b.n), reverse=True)
    en = m * n / (m + n)
    return TestResult(d, float(kstwo.sf(d, np.round(en))))


def chi_square(a: dict, b: dict) -> TestResult:
    """Pearson's chi-square test of homogeneity on category counts (the 2xK
    contingency table, no continuity correction, as scipy's
    chi2_contingency(correction=False)). One category in all: statistic 0, p 1."""
    from scipy.stats import chi2

    cats = sorted(set(a) | set(b), key=str)
    table = np.array([[a.get(c, 0) for c in cats], [b.get(c, 0) for c in cats]], dtype=float)
    if len(cats) < 2:
        return TestResult(0.0, 1.0)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    stat = float(((table - expected) ** 2 / expected).sum())
    dof = len(cats) - 1
    return TestResult(stat, float(chi2.sf(stat, dof)))


def wasserstein(a: Weighted, b: Weighted) -> float:
    """First Wasserstein distance: the area between the two CDFs."""
    support = np.union1d(a.values, b.values)
    if len(support) < 2:
        return 0.0
    gaps = np.diff(support)
    return float(np.sum(np.abs(a.cdf(support[:-1]) - b.cdf(support[:-1])) * gaps))


def normalized_wasserstein(a: Weighted, b: Weighted, scale: float) -> float:
    """Wasserstein distance in units of the reference's standard deviation,
    so one threshold serves columns of any scale (0 when the reference is constant
    and the target equals it)."""
    w = wasserstein(a, b)
    if scale > 0:
        return w / scale
    return 0.0 if w == 0 else math.inf


def _probabilities(a: dict, b: dict) -> tuple[np.ndarray, np.ndarray]:
    cats = sorted(set(a) | set(b), key=str)
    p = np.array([a.get(c, 0) for c in cats], dtype=float)
    q = np.array([b.get(c, 0) for c in cats], dtype=float)
    return p / p.sum(), q / q.sum()


# The natural-log JS distance of two distributions is √ln 2 times the base-2 one.
JS_NATURAL_PER_BASE2 = math.sqrt(math.log(2))


def jensen_shannon(a: dict, b: dict) -> float:
    """Jensen-Shannon distance with base-2 logarithms (0 = same, 1 = disjoint),
    as scipy.spatial.distance.jensenshannon(p, q, base=2)."""
    p, q = _probabilities(a, b)
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        nz = x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


def psi(expected: dict, actual: dict) -> float:
    """Population stability index over shared bins or categories:
    sum((a - e) * ln(a / e)), empty bins floored at EPS."""
    e, a = _probabilities(expected, actual)
    e, a = np.maximum(e, EPS), np.maximum(a, EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_band(value: float) -> str:
    """The usual reading: < 0.1 stable, 0.1-0.25 moderate, >= 0.25 major shift."""
    return "stable" if value < 0.1 else ("moderate" if value < 0.25 else "major")


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Adjusted p-values (q-values) controlling the false discovery rate, as
    scipy.stats.false_discovery_control(method="bh")."""
    p = np.asarray(p_values, dtype=float)
    if not len(p):
        return []
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.minimum(q, 1.0)
    return out.tolist()
