"""The transfer gate requires clean contamination receipts: eval against the
fine-tuning data and against the encoder's pretraining data."""

import json

from PIL import Image

from datagov.catalog.db import open_catalog
from datagov.pixels.codec import decode
from tests.near.planted import version_rows
from tests.training.conftest import TRANSFER

QUICK = ["train.epochs=2", "train.patience=2", "train.device=cpu", "register.promote_min.eval_accuracy=0"]


def _ref(ws, name):
    with open_catalog(ws) as con:
        digest = con.execute("SELECT digest FROM versions WHERE dataset = ?", [name]).fetchone()[0]
    return f"{name}@{digest[:12]}"


def test_transfer_is_refused_until_eval_is_checked_and_the_printed_fix_opens_it(matched, ws):
    fine, pre, ev = _ref(ws, "digits-finetune"), _ref(ws, "digits-pretrain"), _ref(ws, "digits-eval")
    refused = matched("transfer", TRANSFER, *QUICK)
    assert refused.exit_code == 4
    assert f"{ev} was never checked for near-copies of the fine-tuning data {fine}" in refused.stderr
    assert f"pretraining data of models:/digits-autoencoder/1 {pre}" in refused.stderr
    assert f"fix: datagov contamination {fine} {ev}" in refused.stderr
    assert f"fix: datagov contamination {pre} {ev}" in refused.stderr

    # A receipt made with looser thresholds does not stand in for the defaults.
    assert matched("contamination", fine, ev, "--radius", "2").exit_code == 0
    assert matched("contamination", pre, ev, "--max-share", "0.5").exit_code == 0
    loose = matched("transfer", TRANSFER, *QUICK)
    assert loose.exit_code == 4 and "used other thresholds" in loose.stderr

    assert matched("contamination", fine, ev).exit_code == 0
    assert matched("contamination", pre, ev).exit_code == 0
    opened = matched("transfer", TRANSFER, *QUICK, "--no-progress")
    assert opened.exit_code == 0, opened.output
    review = json.loads(matched("models", "review", "digits-classifier", "--json").stdout)
    kinds = [r["kind"] for d in review["data"] for r in d["receipts"]]
    assert kinds.count("contamination") == 2


def _leaky_eval(ws, folder, copies: int):
    """digits-eval plus `copies` images of digits-finetune, as an image folder."""
    for source, prefix, limit in (("digits-eval", "e", None), ("digits-finetune", "leak", copies)):
        rows = version_rows(ws, source)
        wanted = list(range(rows.rows if limit is None else limit))
        for row, blob in rows.image_bytes(wanted).items():
            label = str(rows.labels[row])
            (folder / label).mkdir(parents=True, exist_ok=True)
            Image.fromarray(decode(blob)[0]).save(folder / label / f"{prefix}-{row}.png")
    return folder


def test_contaminated_eval_is_refused_and_a_waiver_records_why(matched, ws, tmp_path):
    assert matched("ingest", _leaky_eval(ws, tmp_path / "leaky", 20), "--name", "leaky-eval").exit_code == 0
    fine, leaky = _ref(ws, "digits-finetune"), _ref(ws, "leaky-eval")
    checked = matched("contamination", fine, leaky, "--json")
    assert checked.exit_code == 3
    doc = json.loads(checked.stdout)
    assert doc["flagged"] >= 20 and doc["exact"] >= 20  # the copies are identical pixels
    spec = ["data.eval=leaky-eval", "data.contamination=[train]", *QUICK]
    assert matched("validate", "leaky-eval", "--suite", "digits-labelled").exit_code in (0, 3)
    refused = matched("transfer", TRANSFER, *spec)
    assert refused.exit_code == 4
    assert f"rows of {leaky} have near-copies in the fine-tuning data {fine}" in refused.stderr
    waived = matched("transfer", TRANSFER, *spec, "--waive", "leak known, scored separately", "--no-progress")
    assert waived.exit_code == 0, waived.output
    with open_catalog(ws) as con:
        reason, refused_json = con.execute("SELECT reason, refused FROM waivers").fetchone()
    assert reason == "leak known, scored separately"
    assert "contaminated" in [r["code"] for r in json.loads(refused_json)]


def test_the_spec_names_only_known_references(matched):
    result = matched("transfer", TRANSFER, "data.contamination=[train, test]", *QUICK)
    assert result.exit_code == 1
    assert "data.contamination[1]: 'test' is not one of train, encoder" in result.stderr
