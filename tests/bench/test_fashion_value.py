"""`bench/fashion_value.py --readme` replaces the value tables of the encoder
kinds it measured and keeps the others, so a ResNet-18 row measured on its
own leaves the MLP and conv tables `shift` cites in place."""

import json

from bench import fashion_value
from datagov import value_table


def _table(kind: str, mean: float) -> dict:
    score = {"mean": mean, "std": 0.01}
    row = {"labels_per_class": 5, "all": False} | {s: score for s in value_table.STRATEGIES}
    return {"dataset": "fashion-mnist", "encoder_kind": kind, "data": "d", "encoder": "e", "rows": [row]}


def test_a_run_replaces_only_the_kinds_it_measured(tmp_path, monkeypatch):
    stored = tmp_path / "fashion_results.json"
    stored.write_text(json.dumps({"tables": [_table("mlp", 0.6), _table("resnet18", 0.4)]}))
    monkeypatch.setattr(fashion_value, "FASHION_FILE", stored)
    doc = fashion_value.merged({"tables": [_table("resnet18", 0.5)]})
    kinds = {t["encoder_kind"]: t["rows"][0]["scratch"]["mean"] for t in doc["tables"]}
    assert kinds == {"mlp": 0.6, "resnet18": 0.5}


def test_the_first_run_writes_its_own_tables(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_value, "FASHION_FILE", tmp_path / "absent.json")
    doc = {"tables": [_table("conv", 0.7)]}
    assert fashion_value.merged(doc) == doc
