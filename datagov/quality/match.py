"""Distribution-match suites: a GX suite that encodes a reference version's
distribution, so validating a target against it asks "is this data like the
data the model was pretrained on?".

Per numeric column: KL divergence against the reference's partition (its
deciles as bin edges, with small tail weights for values beyond its range)
and the 5/25/50/75/95 % quantiles within ± margin × the reference's
5–95 % spread. Per categorical column (at most 20 values): the value set and
KL divergence against the reference's category proportions. The suite's
`meta.datagov.match` names the reference digest; validating with it writes
a receipt of kind `match` bound to both digests.

`for_rows` sizes the suite for targets that small: a KL divergence measured
from n rows over k bins is about chi-square(k-1) / 2n by chance alone (0.09
for 50 rows over 10 bins), so each threshold becomes the allowed shift plus
the chance KL's 99th percentile at n rows, and each quantile range widens by
three standard errors of that quantile at n rows (as `suggest` does for the
fewest rows its suite admits). Without it, thresholds are as given (sized
for about 200 rows).
"""

from __future__ import annotations

from datagov.quality.profile import QUANTILES, Profile, quantile_bands
from datagov.sql import sql_ident
from datagov.store import duckdb_connection, scan_memory

TAIL = 0.01  # weight kept for values below/above the reference's range (total 2 %)
KL_THRESHOLD = 0.15  # KL over 10 bins from ~200 target rows is ~0.03-0.08 by chance alone
CHANCE_QUANTILE = 0.99  # of the chance KL, when the suite is sized for a target's rows
SKIP_IMAGE_COLUMNS = ("label", "label_name")  # label shift is the shift report's business, not a gate


def _exp(type_: str, rule: str, **kwargs) -> dict:
    return {"type": type_, "kwargs": kwargs, "meta": {"datagov": {"rule": rule}}}


def match_info(doc: dict) -> dict | None:
    """{"reference": NAME@DIGEST, "reference_digest": ...} for a match suite, else None."""
    info = doc.get("meta", {}).get("datagov", {}).get("match")
    return info if isinstance(info, dict) and info.get("reference_digest") else None


def match_suite(
    name: str,
    profile: Profile,
    partitions: dict[str, tuple[list[float], list[int]]],
    *,
    reference: str,
    reference_digest: str,
    threshold: float = KL_THRESHOLD,
    margin: float = 0.1,
    images: bool = False,
    for_rows: int | None = None,
) -> dict:
    """`partitions`: per numeric column, (bin edges, counts per bin) from the reference."""

    def kl_limit(bins: int) -> float:
        return round(threshold + chance_kl(bins, for_rows), 4) if for_rows else threshold

    sized = f" + the chance KL's {CHANCE_QUANTILE:.0%} point at {for_rows:,} rows" if for_rows else ""
    exps = []
    for c in profile.columns:
        if c.blob or (images and c.name in SKIP_IMAGE_COLUMNS) or c.nulls == profile.rows:
            continue
        if c.values is not None and len(c.values) > 1:
            total = sum(c.counts.values())
            exps.append(
                _exp(
                    "expect_column_distinct_values_to_be_in_set",
                    "the reference's categories",
                    column=c.name,
                    value_set=list(c.values),
                )
            )
            exps.append(
                _exp(
                    "expect_column_kl_divergence_to_be_less_than",
                    f"category proportions within KL {kl_limit(len(c.values)):g} of the reference" + sized,
                    column=c.name,
                    threshold=kl_limit(len(c.values)),
                    partition_object={
                        "values": list(c.values),
                        "weights": [c.counts[v] / total for v in c.values],
                    },
                )
            )
        elif c.values is not None:  # one constant value
            exps.append(
                _exp("expect_column_distinct_values_to_be_in_set", "the reference's constant", column=c.name,
                     value_set=list(c.values))
            )  # fmt: skip
        elif c.name in partitions and len(c.quantiles) == 5:
            edges, counts = partitions[c.name]
            total = sum(counts)
            span = c.max - c.min if c.max is not None and c.min is not None else 0.0
            spread = (c.quantiles[-1] - c.quantiles[0]) or span or 1.0
            exps.append(
                _exp(
                    "expect_column_kl_divergence_to_be_less_than",
                    f"KL {kl_limit(len(counts) + 2):g} against the reference's decile partition" + sized,
                    column=c.name,
                    threshold=kl_limit(len(counts) + 2),
                    partition_object={
                        "bins": edges,
                        "weights": [(1 - 2 * TAIL) * n / total for n in counts],
                        "tail_weights": [TAIL, TAIL],
                    },
                )
            )
            bands = quantile_bands(c.quantiles, margin * spread, for_rows) if for_rows else [margin * spread] * 5
            exps.append(
                _exp(
                    "expect_column_quantile_values_to_be_between",
                    f"quantiles within ±{margin:g} x the reference's 5-95 % spread"
                    + (f" + 3 standard errors at {for_rows:,} rows" if for_rows else ""),
                    column=c.name,
                    quantile_ranges={
                        "quantiles": list(QUANTILES),
                        "value_ranges": [[q - b, q + b] for q, b in zip(c.quantiles, bands, strict=True)],
                    },
                )
            )
    return {
        "name": name,
        "expectations": exps,
        "meta": {
            "datagov": {
                "match": {"reference": reference, "reference_digest": reference_digest},
                "kl_threshold": threshold,
                "margin": margin,
                **({"for_rows": for_rows} if for_rows else {}),
            }
        },
        "notes": (
            f"Distribution-match suite for {reference}, written by `datagov expectations match`. Validating a "
            f"target with it writes a 'match' receipt that the transfer gate requires."
        ),
    }


def chance_kl(bins: int, rows: int) -> float:
    """The CHANCE_QUANTILE point of the KL divergence between `rows` draws
    from a `bins`-bin distribution and that distribution: chi-square(bins - 1) / 2n."""
    from scipy.stats import chi2

    return float(chi2.ppf(CHANCE_QUANTILE, max(bins - 1, 1)) / (2 * rows))


def reference_partitions(source: str, profile: Profile) -> dict[str, tuple[list[float], list[int]]]:
    """Per continuous numeric column: bin edges at the reference's min, deciles
    and max, and the rows in each bin (two DuckDB scans for all columns)."""
    cols = [c for c in profile.columns if c.numeric and c.values is None and c.min is not None]
    if not cols:
        return {}
    qs = ", ".join(str(i / 10) for i in range(1, 10))
    con = duckdb_connection(memory_limit=scan_memory())  # quantiles of every column at once: spill, not grow
    try:
        row = con.execute(
            f"SELECT {', '.join(f'quantile_cont({sql_ident(c.name)}, [{qs}])' for c in cols)} FROM {source}"
        ).fetchall()[0]
        edges = {c.name: sorted({c.min, *row[i], c.max}) for i, c in enumerate(cols)}
        # Bin i holds edges[i] <= x < edges[i + 1]; the last bin includes the maximum.
        exprs = [
            f"histogram(least({' + '.join(f'({sql_ident(c.name)} >= {e!r})::INTEGER' for e in edges[c.name][1:])}, "
            f"{len(edges[c.name]) - 2}))"
            for c in cols
        ]
        hist = con.execute(f"SELECT {', '.join(exprs)} FROM {source}").fetchall()[0]
    finally:
        con.close()
    out = {}
    for c, h in zip(cols, hist, strict=True):
        e = edges[c.name]
        out[c.name] = (e, [int((h or {}).get(i, 0)) for i in range(len(e) - 1)])
    return out
