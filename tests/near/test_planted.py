"""Planted near-duplicates of digits pretraining images in an eval set: the
default method finds them (recall) and little else (precision)."""

import json

import numpy as np
import pytest

from datagov.near.check import run_check
from tests.near.planted import MODIFICATIONS, plant, score


@pytest.fixture
def planted(cli, ws, tmp_path):
    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    # a plain split: the eval images keep whatever look-alikes digits has
    assert cli("split", "digits", "--into", "pretrain=0.7,finetune=0.1,eval=0.2", "--seed", "0").exit_code == 0
    out = plant(ws, tmp_path / "planted", reference="digits-pretrain", distinct_from="digits-eval", per_modification=50)
    assert cli("ingest", out.folder, "--name", "planted-eval").exit_code == 0
    return out


def test_defaults_find_planted_copies_with_recall_and_precision_of_095(planted, ws):
    report, _, target, pairing = run_check(ws, "digits-pretrain", "planted-eval")
    result = score(planted, target.names, pairing.ref, pairing.target)
    print("planted test (datagov defaults):", result)
    assert result["planted"] == 250 and result["distinct"] > 300
    assert result["recall"] >= 0.95, result
    assert result["precision"] >= 0.95, result
    for how in MODIFICATIONS:  # no modification is missed wholesale
        mine = [n for n in planted.source_of if f"/p-{how}-" in n]
        found = {target.names[b] for b in pairing.target.tolist()}
        assert sum(n in found for n in mine) >= 0.85 * len(mine), how
    assert report.flagged == result["flagged"] and report.kind == "contamination"


def test_the_cli_exits_3_and_the_receipt_and_report_name_the_pairs(planted, cli, ws):
    result = cli("contamination", "digits-pretrain", "planted-eval", "--json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert doc["flagged"] >= 0.95 * 250 and not doc["passed"]
    assert sum(c["flagged"] for c in doc["per_class"]) == doc["flagged"]
    worst = doc["pairs"][0]
    assert worst["score"] >= 0.975 and worst["target_name"].split("/")[1].startswith("p-")
    page = (ws.root / doc["report_path"]).read_text()
    assert page.count('src="data:image/png;base64,') == 2 * len(doc["pairs"])  # side by side, each pair
    assert "Error: " in result.stderr and "have near-copies in digits-pretrain" in result.stderr


def test_a_stricter_encoder_check_keeps_only_pairs_it_confirms(planted, ws):
    """Encoder confirmation can only remove pairs (checked here without a
    trained encoder: the cosine filter applied to thumbnails' embeddings is
    tested in test_cli with a real one)."""
    loose = run_check(ws, "digits-pretrain", "planted-eval")[3]
    from datagov.near.images import ImageMethod

    strict = run_check(ws, "digits-pretrain", "planted-eval", image=ImageMethod(min_similarity=0.995))[3]
    pairs = set(zip(loose.ref.tolist(), loose.target.tolist(), strict=True))
    assert set(zip(strict.ref.tolist(), strict.target.tolist(), strict=True)) < pairs
    assert np.all(strict.score >= 0.995)
