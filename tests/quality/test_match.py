"""`datagov expectations match`: a GX suite encoding a reference distribution;
validating with it writes `match` receipts bound to both digests."""

import json

import great_expectations as gx
import numpy as np

from datagov.catalog.db import open_catalog
from tests.training.conftest import digits_ws  # noqa: F401


def test_match_suite_is_gx_json_and_tells_like_from_unlike(digits_ws, ws, tmp_path):  # noqa: F811
    result = digits_ws("expectations", "match", "digits-pretrain", "--suite", "pre-match")
    assert result.exit_code == 0, result.output
    doc = json.loads((ws.expectations_dir / "pre-match.json").read_text())
    assert len(gx.ExpectationSuite(**doc).expectations) == len(doc["expectations"])
    kl = {e["kwargs"]["column"]: e["kwargs"] for e in doc["expectations"]
          if e["type"] == "expect_column_kl_divergence_to_be_less_than"}  # fmt: skip
    assert set(kl) == {"mean", "std"}  # continuous columns; the constant ones get value sets
    part = kl["mean"]["partition_object"]
    assert len(part["bins"]) == 11
    assert abs(sum(part["weights"]) + sum(part["tail_weights"]) - 1) < 1e-9
    again = digits_ws("expectations", "match", "digits-pretrain", "--suite", "pre-match")
    assert again.exit_code == 1 and "already exists" in again.stderr

    assert digits_ws("validate", "digits-eval", "--suite", "pre-match").exit_code == 0
    from sklearn.datasets import load_digits

    d = load_digits()
    np.savez(tmp_path / "inv.npz", images=255 - np.round(d.images * 255 / 16).astype(np.uint8), y=d.target)
    assert digits_ws("ingest", tmp_path / "inv.npz", "--name", "inverted").exit_code == 0
    failed = digits_ws("validate", "inverted", "--suite", "pre-match")
    assert failed.exit_code == 3
    with open_catalog(ws) as con:
        rows = con.execute(
            "SELECT dataset, kind, status, reference_digest, results FROM receipts ORDER BY started"
        ).fetchall()
        pre = con.execute("SELECT digest FROM versions WHERE dataset = 'digits-pretrain'").fetchone()[0]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("digits-eval", "match", "passed", pre),
        ("inverted", "match", "failed", pre),
    ]
    failing = {(e["type"], e["column"]) for e in json.loads(rows[1][4]) if not e["success"]}
    assert ("expect_column_kl_divergence_to_be_less_than", "mean") in failing


def _gamma_reference():
    from datagov.quality.profile import QUANTILES, ColumnProfile, Profile

    x = np.random.default_rng(0).gamma(4.0, 0.05, 10_000)
    col = ColumnProfile(name="mean", type="DOUBLE", nulls=0, distinct=len(set(x)), min=float(x.min()),
                        max=float(x.max()), mean=float(x.mean()), stdev=float(x.std(ddof=1)),
                        quantiles=[float(q) for q in np.quantile(x, QUANTILES)])  # fmt: skip
    edges = sorted({float(x.min()), *np.quantile(x, np.arange(1, 10) / 10).tolist(), float(x.max())})
    counts = np.histogram(x, bins=edges)[0].tolist()
    return x, Profile(rows=len(x), columns=[col]), {"mean": (edges, counts)}


def _by_type(suite: dict) -> dict:
    return {e["type"]: e["kwargs"] for e in suite["expectations"]}


def test_a_suite_for_few_rows_admits_small_samples_of_the_reference_and_says_so():
    """50 rows of the very same data: their 5 % and 95 % points and their KL
    against the deciles move by chance far more than 200 rows' do."""
    from datagov.quality.match import KL_THRESHOLD, chance_kl, match_suite
    from datagov.quality.profile import QUANTILES

    x, profile, parts = _gamma_reference()
    kw = dict(reference="r@0", reference_digest="0" * 64)
    plain = _by_type(match_suite("m", profile, parts, **kw))
    sized = match_suite("m", profile, parts, for_rows=50, **kw)
    assert plain["expect_column_kl_divergence_to_be_less_than"]["threshold"] == KL_THRESHOLD
    kl = _by_type(sized)["expect_column_kl_divergence_to_be_less_than"]
    assert kl["threshold"] == round(KL_THRESHOLD + chance_kl(12, 50), 4) and sized["meta"]["datagov"]["for_rows"] == 50
    ranges = _by_type(sized)["expect_column_quantile_values_to_be_between"]["quantile_ranges"]["value_ranges"]
    narrow = plain["expect_column_quantile_values_to_be_between"]["quantile_ranges"]["value_ranges"]
    refused = {"plain": 0, "sized": 0}
    for seed in range(50):
        q = np.quantile(np.random.default_rng(seed + 1).choice(x, 50, replace=False), QUANTILES)
        for name, bands in (("plain", narrow), ("sized", ranges)):
            refused[name] += not all(lo <= v <= hi for v, (lo, hi) in zip(q, bands, strict=True))
    assert refused["sized"] <= 2 < refused["plain"], refused


def test_the_chance_kl_is_what_50_draws_show():
    """chance_kl's 99th percentile against KL measured on 4,000 samples of 50 draws over 12 equal bins."""
    from datagov.quality.match import chance_kl

    rng = np.random.default_rng(3)
    p = np.full(12, 1 / 12)
    counts = rng.multinomial(50, p, size=4000) / 50
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.nansum(np.where(counts > 0, counts * np.log(counts / p), 0.0), axis=1)
    measured = float(np.quantile(kl, 0.99))
    assert 0.7 < chance_kl(12, 50) / measured < 1.3, (chance_kl(12, 50), measured)
