"""The statistics agree with scipy on the same samples, both called directly
and through the DuckDB aggregates `datagov shift` really uses."""

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import scipy.stats as ss
from scipy.spatial.distance import jensenshannon

from datagov.shift import stats
from datagov.shift.columns import ShiftSettings, Side, compare_columns, verdict
from datagov.shift.mmd import mmd_test


def _samples(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=700), rng.normal(0.1, 1.2, size=900)


def test_ks_and_wasserstein_agree_with_scipy():
    a, b = _samples()
    ours = stats.ks_2samp(stats.Weighted.of(a), stats.Weighted.of(b))
    ref = ss.ks_2samp(a, b, method="asymp")
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-6)
    assert ours.p_value == pytest.approx(ref.pvalue, abs=1e-6)
    assert stats.wasserstein(stats.Weighted.of(a), stats.Weighted.of(b)) == pytest.approx(
        ss.wasserstein_distance(a, b), abs=1e-6
    )
    # Grouped values (what GROUP BY returns) give the same answer as the raw rows.
    ints = np.random.default_rng(3).integers(0, 20, size=500)
    values, counts = np.unique(ints, return_counts=True)
    grouped = stats.ks_2samp(stats.Weighted.of(values, counts), stats.Weighted.of(b))
    assert grouped.statistic == pytest.approx(ss.ks_2samp(ints, b, method="asymp").statistic, abs=1e-6)


def test_chi_square_jensen_shannon_psi_and_bh_agree_with_scipy():
    a = {"x": 30, "y": 50, "z": 20}
    b = {"x": 40, "y": 40, "z": 25, "w": 3}
    cats = sorted(set(a) | set(b))
    table = [[a.get(c, 0) for c in cats], [b.get(c, 0) for c in cats]]
    chi2, p, *_ = ss.chi2_contingency(table, correction=False)
    ours = stats.chi_square(a, b)
    assert ours.statistic == pytest.approx(chi2, abs=1e-6) and ours.p_value == pytest.approx(p, abs=1e-6)
    assert stats.jensen_shannon(a, b) == pytest.approx(jensenshannon(table[0], table[1], base=2), abs=1e-6)
    # What the report tells Evidently users: the natural-log distance is √ln 2 times ours.
    natural = jensenshannon(table[0], table[1])
    assert natural == pytest.approx(stats.jensen_shannon(a, b) * stats.JS_NATURAL_PER_BASE2, abs=1e-9)
    assert stats.chi_square({"k": 5}, {"k": 9}).p_value == 1.0  # one category: nothing to test
    e, o = np.array(table[0]) / 100, np.maximum(np.array(table[1]) / 108, stats.EPS)
    assert stats.psi(a, b) == pytest.approx(
        float(np.sum((o - np.maximum(e, stats.EPS)) * np.log(o / np.maximum(e, stats.EPS))))
    )
    p_values = np.random.default_rng(1).uniform(size=25)
    assert stats.benjamini_hochberg(p_values.tolist()) == pytest.approx(
        ss.false_discovery_control(p_values).tolist(), abs=1e-12
    )


def _side(con, name: str, table: pa.Table) -> Side:
    con.register(name, table)
    types = {row[0]: row[1] for row in con.execute(f"DESCRIBE {name}").fetchall()}
    return Side(name, name, table.num_rows, types)


def test_through_duckdb_aggregates_small_and_large():
    con = duckdb.connect()
    a, b = _samples()
    ref = _side(con, "r", pa.table({"x": a, "k": np.arange(len(a)) % 3}))
    tgt = _side(con, "t", pa.table({"x": b, "k": np.arange(len(b)) % 4}))
    cols, _, _ = compare_columns(con, ref, tgt, ShiftSettings())  # 700 rows: tests
    x, k = cols
    assert (x.test, k.test) == ("ks", "chi-square")
    assert x.statistic == pytest.approx(ss.ks_2samp(a, b).statistic, abs=1e-6)
    assert x.p_value == pytest.approx(ss.ks_2samp(a, b, method="asymp").pvalue, abs=1e-6)
    ka, kb = np.bincount(np.arange(len(a)) % 3, minlength=4), np.bincount(np.arange(len(b)) % 4)
    assert k.statistic == pytest.approx(ss.chi2_contingency([ka, kb], correction=False)[0], abs=1e-6)
    assert k.drift  # a fourth category appears in the target

    cols, _, _ = compare_columns(con, ref, tgt, ShiftSettings(small_rows=10))  # distances
    x, k = cols
    assert (x.test, k.test) == ("wasserstein", "jensen-shannon")
    # 256 shared bins: within a fraction of a bin of the exact distance.
    assert x.statistic == pytest.approx(ss.wasserstein_distance(a, b) / np.std(a, ddof=1), rel=0.02)
    assert k.statistic == pytest.approx(jensenshannon(ka, kb, base=2), abs=1e-6)


def _verdict(con, seed: int, n: int, shift: float, small_rows: int) -> tuple[bool, list]:
    rng = np.random.default_rng(seed)
    cols = ("a", "b", "c", "d")
    ref = _side(con, "r", pa.table({c: rng.normal(size=n) for c in cols}))
    tgt = _side(con, "t", pa.table({c: rng.normal(shift if c == "a" else 0.0, size=n) for c in cols}))
    results, _, _ = compare_columns(con, ref, tgt, ShiftSettings(small_rows=small_rows, keys=("a",)))
    return verdict(results, ShiftSettings(small_rows=small_rows, keys=("a",)))[0], results


def test_a_fifth_of_a_sigma_is_caught_and_identical_data_is_left_alone():
    con = duckdb.connect()
    drift, results = _verdict(con, 0, 10_000, 0.2, small_rows=1000)
    assert drift and [r.column for r in results if r.drift] == ["a"]
    assert results[0].statistic == pytest.approx(0.2, abs=0.03)  # in σ
    drift, results = _verdict(con, 0, 1000, 0.2, small_rows=1000)  # tests also see it at n = 1,000
    assert results[0].test == "ks" and results[0].q_value < 0.05

    for small_rows, n in ((1000, 10_000), (1000, 400)):  # distances, then tests
        flagged = sum(_verdict(con, seed, n, 0.0, small_rows)[0] for seed in range(100))
        assert flagged <= 5, (n, flagged)


def test_mmd_p_value_is_roughly_uniform_under_the_null_and_small_under_a_shift():
    rng = np.random.default_rng(0)
    ps = [mmd_test(rng.normal(size=(80, 4)), rng.normal(size=(80, 4)), permutations=100, seed=s).p_value
          for s in range(40)]  # fmt: skip
    assert 0.3 < np.mean(ps) < 0.7
    assert sum(p < 0.05 for p in ps) <= 6  # about 2 expected
    assert sum(p < 0.5 for p in ps) in range(10, 31)
    shifted = mmd_test(rng.normal(size=(200, 4)), rng.normal(0.5, size=(200, 4)), permutations=200)
    assert shifted.p_value < 0.01 and shifted.mmd2 > 0
    with pytest.raises(ValueError, match="same width"):
        mmd_test(np.zeros((5, 3)), np.zeros((5, 4)))
