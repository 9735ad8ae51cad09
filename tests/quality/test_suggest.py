import json

from datagov.catalog.db import open_catalog
from datagov.catalog.versions import resolve, scan_version
from datagov.quality.profile import profile_parquet
from datagov.quality.suggest import suggest_suite


def kinds(doc, column):
    return {e["type"] for e in doc["expectations"] if e["kwargs"].get("column") == column}


def test_profile_matches_numpy(table, ws, tmp_path):
    import pyarrow.csv as pacsv

    with open_catalog(ws) as con:
        v = resolve(con, "t")
    profile = profile_parquet(scan_version(ws, v))
    x = pacsv.read_csv(tmp_path / "t.csv").column("x").to_numpy()
    col = profile.column("x")
    assert profile.rows == 400 and col.nulls == 0
    assert abs(col.mean - x.mean()) < 1e-9 and abs(col.stdev - x.std(ddof=1)) < 1e-9
    assert (col.min, col.max) == (x.min(), x.max())
    assert profile.column("label").values == [0, 1, 2, 3] and profile.column("label").counts == {
        0: 100,
        1: 100,
        2: 100,
        3: 100,
    }


def test_suggest_rules(table, ws):
    result = table("expectations", "suggest", "t", "--suite", "t-suite")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Wrote expectations/t-suite.json: ")
    doc = json.loads((ws.expectations_dir / "t-suite.json").read_text())
    assert doc["meta"]["datagov"]["suggested_from"].startswith("t@")
    types = [e["type"] for e in doc["expectations"]]
    assert types[:2] == ["expect_table_row_count_to_be_between", "expect_table_columns_to_match_ordered_list"]
    rows = doc["expectations"][0]["kwargs"]
    assert (rows["min_value"], rows["max_value"]) == (360, 440)
    assert kinds(doc, "id") == {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_unique",
        "expect_column_value_lengths_to_be_between",
    }
    assert kinds(doc, "label") == {"expect_column_values_to_not_be_null", "expect_column_values_to_be_in_set"}
    assert kinds(doc, "kind") == {"expect_column_values_to_not_be_null", "expect_column_values_to_be_in_set"}
    assert kinds(doc, "x") == {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_mean_to_be_between",
        "expect_column_stdev_to_be_between",
        "expect_column_quantile_values_to_be_between",
    }
    again = table("expectations", "suggest", "t", "--suite", "t-suite")
    assert again.exit_code == 1
    assert again.stderr.splitlines()[0] == "Error: suite 't-suite' already exists (expectations/t-suite.json)"
    assert table("expectations", "suggest", "t", "--suite", "t-suite", "--force").exit_code == 0


def test_suggested_suite_is_deterministic(table, ws):
    with open_catalog(ws) as con:
        v = resolve(con, "t")
    one = suggest_suite("s", profile_parquet(scan_version(ws, v)), source=v.ref)
    two = suggest_suite("s", profile_parquet(scan_version(ws, v)), source=v.ref)
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)


def test_suggest_on_images_then_validate(cli, ws):
    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    assert cli("expectations", "suggest", "digits", "--suite", "digits").exit_code == 0
    doc = json.loads((ws.expectations_dir / "digits.json").read_text())
    assert kinds(doc, "height") == {"expect_column_values_to_not_be_null", "expect_column_values_to_be_in_set"}
    assert kinds(doc, "image") == {"expect_column_values_to_not_be_null"}
    assert "expect_column_values_to_be_unique" in kinds(doc, "path")
    assert "expect_column_values_to_be_unique" in kinds(doc, "pixel_hash")  # digits has no exact duplicates
    result = cli("validate", "digits", "--suite", "digits")
    assert result.exit_code == 0, result.output
    assert "PASSED digits@" in result.stdout


def test_repeated_values_are_not_declared_unique(cli, ws, tmp_path):
    src = tmp_path / "r.csv"
    src.write_text("name\n" + "".join(f"n{i % 30}\n" for i in range(90)))
    assert cli("ingest", src, "--name", "r").exit_code == 0
    assert cli("expectations", "suggest", "r", "--suite", "r").exit_code == 0
    doc = json.loads((ws.expectations_dir / "r.json").read_text())
    assert kinds(doc, "name") == {"expect_column_values_to_not_be_null"}


def test_a_suite_from_many_rows_admits_a_small_sample_of_the_same_data():
    """Bands follow the fewest rows the suite admits: a suite suggested from
    10,000 rows with --row-margin 0.99 accepts random 100-row samples of the
    same distribution (with bands for 10,000 rows, 11 of these 50 were refused)."""
    import numpy as np

    from datagov.quality.profile import QUANTILES, ColumnProfile, Profile

    rng = np.random.default_rng(0)
    x = rng.gamma(4.0, 0.05, 10_000)
    col = ColumnProfile(name="std", type="DOUBLE", nulls=0, distinct=len(set(x)), min=float(x.min()),
                        max=float(x.max()), mean=float(x.mean()), stdev=float(x.std(ddof=1)),
                        quantiles=[float(q) for q in np.quantile(x, QUANTILES)])  # fmt: skip
    suite = suggest_suite("s", Profile(rows=len(x), columns=[col]), source="t@0", row_margin=0.99)
    by_type = {e["type"]: e["kwargs"] for e in suite["expectations"] if e["kwargs"].get("column") == "std"}
    mean, stdev = by_type["expect_column_mean_to_be_between"], by_type["expect_column_stdev_to_be_between"]
    ranges = by_type["expect_column_quantile_values_to_be_between"]["quantile_ranges"]["value_ranges"]
    failed = 0
    for seed in range(50):
        s = np.random.default_rng(seed + 1).choice(x, 100, replace=False)
        ok = mean["min_value"] <= s.mean() <= mean["max_value"]
        ok &= stdev["min_value"] <= s.std(ddof=1) <= stdev["max_value"]
        ok &= all(lo <= q <= hi for q, (lo, hi) in zip(np.quantile(s, QUANTILES), ranges, strict=True))
        failed += not ok
    assert failed <= 2, f"{failed} of 50 samples of the same data refused"
    assert mean["max_value"] - mean["min_value"] > 2 * 3 * x.std() / np.sqrt(100) * 0.99
