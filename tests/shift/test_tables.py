"""Shift on tables a user has: orders over two months, with an id column,
timestamps and a price that moved. Every line the report prints is true."""

import datetime as dt
import json

import numpy as np
import pytest


def write_orders(path, first_id: int, start: dt.datetime, mean: float, n: int = 3000, seed: int = 0):
    rng = np.random.default_rng(seed)
    lines = ["order_id,ts,price,region"]
    for i in range(n):
        ts = start + dt.timedelta(minutes=int(rng.integers(0, 43_000)))
        lines.append(f"{first_id + i},{ts:%Y-%m-%d %H:%M:%S},{rng.normal(mean, 15):.2f},{rng.choice(['eu', 'us'])}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def orders(cli, tmp_path):
    oct_ = write_orders(tmp_path / "oct.csv", 0, dt.datetime(2026, 10, 1), 40)
    nov = write_orders(tmp_path / "nov.csv", 100_000, dt.datetime(2026, 10, 1), 55, seed=1)
    assert cli("ingest", oct_, "--name", "oct").exit_code == 0
    assert cli("ingest", nov, "--name", "nov").exit_code == 0
    return cli


def test_ids_are_named_timestamps_compared_and_an_explicit_threshold_decides(orders):
    result = orders("shift", "oct", "nov", "--threshold", "price=0.2", "--columns", "order_id,ts,price,region")
    assert result.exit_code == 3, result.output  # price moved past the threshold the user set
    assert "column 'price' is past the threshold set for it" in result.output
    assert "order_id (its own value on (nearly) every row, an id, key or hash" in result.output
    assert "TIMESTAMP and TIMESTAMP" not in result.output
    doc = json.loads(orders("shift", "oct", "nov", "--json").stdout)
    tested = {c["column"] for c in doc["columns"]}
    assert "ts" in tested and "order_id" not in tested  # the same month's timestamps: compared, not skipped


def test_suggest_gives_an_id_column_uniqueness_not_a_distribution(orders, ws):
    assert orders("expectations", "suggest", "oct", "--suite", "orders").exit_code == 0
    doc = json.loads((ws.expectations_dir / "orders.json").read_text())
    on_id = {e["type"] for e in doc["expectations"] if e["kwargs"].get("column") == "order_id"}
    assert on_id == {"expect_column_values_to_not_be_null", "expect_column_values_to_be_unique"}


def test_a_recommendation_says_which_table_it_rests_on_and_never_predicts_for_other_data():
    from datagov.shift.report import recommend

    same = recommend(False, 50, 10, shape="1x8x8").why
    assert "scikit-learn digits (8x8 grayscale" in same and "not a prediction" not in same
    fashion = recommend(False, 50, 10, shape="1x28x28").why
    assert "the value table fashion-mnist/" in fashion and "not a prediction" not in fashion  # measured on 28x28
    other = recommend(False, 50, 10, shape="3x32x32").why
    assert "measured on 1x8x8 images and these are 3x32x32, so it is a guide, not a prediction" in other
