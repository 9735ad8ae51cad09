"""A starter suite from a version's profile (GX 1.x has no profilers).

Rules (each expectation records its rule in `meta.datagov.rule`):
- rows within ±row_margin of the profiled count (at least 1);
- the exact ordered column list;
- not-null for every column without nulls;
- a value set for columns with at most 20 distinct values (labels, sizes);
- otherwise, numeric columns: min/max widened by `margin` × range, mean
  within margin·σ + 3σ/√n, stdev within ±(margin + 3/√(2n)), and the
  5/25/50/75/95 % quantiles within ± margin × range;
- uniqueness for string columns whose values are all distinct (hashes,
  paths, ids), and their length range; an integer column with a different
  value on every row is a key: uniqueness only, no mean, stdev or quantiles.
"""

from __future__ import annotations

import math

from datagov.quality.profile import QUANTILES, Profile, quantile_bands


def _exp(type_: str, rule: str, **kwargs) -> dict:
    return {"type": type_, "kwargs": kwargs, "meta": {"datagov": {"rule": rule}}}


def _plain(value):
    """JSON-friendly scalars (DuckDB hands back numpy-free Python values; bytes become text)."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


def suggest_suite(name: str, profile: Profile, *, source: str, margin: float = 0.1, row_margin: float = 0.1) -> dict:
    n = profile.rows
    # The smallest table the suite admits: its means and quantiles vary by sampling as a
    # table that size's do, not as the profiled one's (a suite from 10,000 eval rows also
    # checks 50 fine-tuning rows).
    fewest = max(1, math.floor(round(n * (1 - row_margin), 6)))  # 400 * 1.1 is 440.00000000000006
    exps = [
        _exp(
            "expect_table_row_count_to_be_between",
            f"rows within ±{row_margin:g} of {n}",
            min_value=fewest,
            max_value=math.ceil(round(n * (1 + row_margin), 6)),
        ),
        _exp(
            "expect_table_columns_to_match_ordered_list",
            "columns as profiled",
            column_list=[c.name for c in profile.columns],
        ),
    ]
    for c in profile.columns:
        if c.nulls == 0:
            exps.append(_exp("expect_column_values_to_not_be_null", "no nulls when profiled", column=c.name))
        if c.blob:
            continue
        if c.values is not None:
            exps.append(
                _exp(
                    "expect_column_values_to_be_in_set",
                    f"{len(c.values)} distinct values",
                    column=c.name,
                    value_set=[_plain(v) for v in c.values],
                )
            )
            continue
        if c.numeric and c.integer and n > 1 and c.distinct == n - c.nulls:
            # a different integer on every row is a key (order_id): its mean and quantiles say nothing
            exps.append(_exp("expect_column_values_to_be_unique", "all values distinct (an id or key)", column=c.name))
            continue
        if c.numeric and c.min is not None and c.max is not None:
            spread = (c.max - c.min) or abs(c.max) or 1.0
            lo, hi = c.min - margin * spread, c.max + margin * spread
            if c.integer:
                lo, hi = math.floor(lo), math.ceil(hi)
            exps.append(
                _exp(
                    "expect_column_values_to_be_between",
                    f"range widened by {margin:g} x range",
                    column=c.name,
                    min_value=lo,
                    max_value=hi,
                )
            )
            if c.stdev is not None and c.mean is not None and n > 1:
                band = margin * c.stdev + 3 * c.stdev / math.sqrt(fewest)
                exps.append(
                    _exp(
                        "expect_column_mean_to_be_between",
                        "mean within margin·σ + 3σ/√n, n the fewest rows admitted",
                        column=c.name,
                        min_value=c.mean - band,
                        max_value=c.mean + band,
                    )
                )
                rel = margin + 3 / math.sqrt(2 * fewest)
                exps.append(
                    _exp(
                        "expect_column_stdev_to_be_between",
                        "stdev within ±(margin + 3/√(2n)), n the fewest rows admitted",
                        column=c.name,
                        min_value=max(0.0, c.stdev * (1 - rel)),
                        max_value=c.stdev * (1 + rel),
                    )
                )
            if len(c.quantiles) == 5:
                bands = quantile_bands(c.quantiles, margin * spread, fewest)
                exps.append(
                    _exp(
                        "expect_column_quantile_values_to_be_between",
                        "quantiles ± (margin x range + 3 standard errors at the fewest rows admitted)",
                        column=c.name,
                        quantile_ranges={
                            "quantiles": list(QUANTILES),
                            "value_ranges": [[q - b, q + b] for q, b in zip(c.quantiles, bands, strict=True)],
                        },
                    )
                )
        elif c.type.upper() == "VARCHAR" and c.distinct == n - c.nulls and n > 1:
            exps.append(_exp("expect_column_values_to_be_unique", "all values distinct (an id or hash)", column=c.name))
            if c.lengths:
                exps.append(
                    _exp(
                        "expect_column_value_lengths_to_be_between",
                        "lengths as profiled",
                        column=c.name,
                        min_value=c.lengths[0],
                        max_value=c.lengths[1],
                    )
                )
    return {
        "name": name,
        "expectations": exps,
        "meta": {"datagov": {"suggested_from": source, "margin": margin, "row_margin": row_margin}},
        "notes": f"Starter suite suggested by datagov from {source}. Edit freely: any edit invalidates old receipts.",
    }
