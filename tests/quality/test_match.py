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
