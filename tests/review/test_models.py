"""Review and promotion against a real MLflow registry and catalog: what a
model was trained on, whether that still holds, and the promotion gate."""

import json

from datagov.catalog.db import open_catalog
from tests.audit.conftest import QUICK, TRANSFER
from tests.conftest import run_datagov
from tests.training.conftest import SPEC, TINY


def test_review_answers_what_it_was_trained_on_and_whether_that_holds(trained, ws, tmp_path):
    listed = json.loads(trained("models", "list", "--json").stdout)
    assert [(m["model"], m["version"], m["aliases"]) for m in listed] == [
        ("digits-autoencoder", "1", ["latest-validated"]),
        ("digits-classifier", "1", ["latest-validated"]),
    ]
    result = trained("models", "review", "digits-classifier", "--json", "--html", tmp_path / "review.html")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["uri"] == "models:/digits-classifier/1"
    assert doc["promotable"] is True, doc["promotion_refusals"]
    roles = {d["role"]: d for d in doc["data"]}
    assert set(roles) == {"trained", "evaluated"}
    trained_on = roles["trained"]
    assert trained_on["ref"].startswith("digits-finetune@") and trained_on["digest"] == doc["tags"]["datagov.digest"]
    assert (trained_on["owner"], trained_on["license"]) == (None, None)  # ingested without them in the fixture
    suites = {r["suite"]: r["valid_now"] for r in trained_on["receipts"]}
    assert suites == {"digits-labelled": True, "digits-pretrain-match": True}
    assert "eval_accuracy" in doc["metrics"]
    # The review follows the encoder to the data it was pretrained on, and that data's receipts.
    encoder = doc["encoder"]
    assert encoder["uri"] == "models:/digits-autoencoder/1" and encoder["encoder"] is None
    (pretrained_on,) = encoder["data"]
    assert pretrained_on["role"] == "trained" and pretrained_on["ref"].startswith("digits-pretrain@")
    assert pretrained_on["receipts"] and all(r["valid_now"] for r in pretrained_on["receipts"])
    page = (tmp_path / "review.html").read_text()
    assert "PROMOTABLE" in page and "digits-finetune@" in page and "http" not in page
    assert "trained by encoder models:/digits-autoencoder/1" in page and "digits-pretrain@" in page
    text = trained("models", "review", "digits-classifier").stdout
    assert "Encoder: models:/digits-autoencoder/1, pretrained on digits-pretrain@" in text

    # A suite the encoder's pretraining receipts were made with changes: the classifier is refused too.
    suite = pretrained_on["receipts"][0]["suite"]
    path = ws.expectations_dir / f"{suite}.json"
    path.write_text(path.read_text().replace('"notes"', '"description": "tightened", "notes"', 1))
    refusals = json.loads(trained("models", "review", "digits-classifier", "--json").stdout)["promotion_refusals"]
    assert refusals and all(m.startswith("encoder models:/digits-autoencoder/1: digits-pretrain@") for m in refusals)
    path.write_text(path.read_text().replace('"description": "tightened", ', "", 1))

    # Editing a suite the model's receipts were made with invalidates them for review and promotion.
    path = ws.expectations_dir / "digits-labelled.json"
    path.write_text(path.read_text().replace('"notes"', '"description": "tightened", "notes"'))
    again = json.loads(trained("models", "review", "digits-classifier", "1", "--json").stdout)
    assert again["promotable"] is False
    assert any("no longer holds: suite 'digits-labelled' changed since" in m for m in again["promotion_refusals"])
    refused = trained("models", "promote", "digits-classifier", "1", "--alias", "production")
    assert refused.exit_code == 4 and "fix: datagov validate digits-finetune@" in refused.stderr


def test_promotion_moves_the_alias_records_it_and_enforces_spec_bounds_and_waivers(trained, ws):
    ok = trained("models", "promote", "digits-classifier", "1", "--alias", "production")
    assert ok.exit_code == 0, ok.output
    assert "models:/digits-classifier@production -> version 1" in ok.stdout

    # A version below the spec's bound is refused; --waive promotes it, recorded.
    low = trained("transfer", TRANSFER, *QUICK, "--strategy", "features", "register.promote_min.eval_accuracy=0.999",
                  "--no-progress")  # fmt: skip
    assert low.exit_code == 0, low.output
    refused = trained("models", "promote", "digits-classifier", "2", "--alias", "production")
    assert refused.exit_code == 4
    assert "eval_accuracy is 0." in refused.stderr and "the pipeline spec wants at least 0.999" in refused.stderr
    waived = trained("models", "promote", "digits-classifier", "2", "--alias", "production", "--waive", "demo only")
    assert waived.exit_code == 0 and "(was version 1)" in waived.stdout

    from mlflow import MlflowClient

    mv = MlflowClient().get_model_version_by_alias("digits-classifier", "production")
    assert str(mv.version) == "2" and mv.tags["datagov.promotion_waiver"] == "demo only"
    with open_catalog(ws) as con:
        rows = con.execute("SELECT model_version, alias, previous_version, waiver_id IS NOT NULL FROM promotions "
                           "ORDER BY created").fetchall()  # fmt: skip
        assert rows == [("1", "production", None, False), ("2", "production", "1", True)]
        assert con.execute("SELECT stage, reason FROM waivers").fetchall() == [("promote", "demo only")]

    # A model trained under a waiver cannot be promoted once the waiver expires.
    assert trained("pretrain", SPEC, *TINY, "data.suites=[never-written]", "register.promote_max.val_loss=9",
                   "--waive", "exploring",
                   "--no-progress").exit_code == 0  # fmt: skip
    assert trained("models", "promote", "digits-autoencoder", "2", "--alias", "candidate").exit_code == 0
    with open_catalog(ws, write=True) as con:
        con.execute("UPDATE waivers SET expires = created - INTERVAL 1 DAY WHERE reason = 'exploring'")
    expired = trained("models", "promote", "digits-autoencoder", "2", "--alias", "candidate")
    assert expired.exit_code == 4 and "('exploring') expired on" in expired.stderr


def test_bad_input_is_one_clear_error(trained, ws):
    for args, message in (
        (("models", "review", "nope"), "Error: unknown model 'nope'"),
        (("models", "promote", "digits-autoencoder", "9", "--alias", "x"), "has no version 9 (versions: 1)"),
        (("models", "promote", "digits-autoencoder", "1", "--alias", "a/b"), "Error: "),
    ):
        result = trained(*args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.startswith(message) or message in result.stderr, (args, result.stderr)
    down = run_datagov("--workspace", ws.root, "models", "list",
                       env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"},
                       timeout=120)  # fmt: skip
    assert down.returncode == 1
    assert down.stderr.startswith("Error: cannot reach the MLflow store at http://127.0.0.1:9")


def test_diff_names_what_changed_between_two_versions(trained, ws, tmp_path):
    """Version 2 is trained on other fine-tuning data, with a waiver and other params."""
    assert (
        trained("split", "digits", "--into", "finetune=0.2,rest=0.8", "--prefix", "other", "--seed", "5").exit_code == 0
    )
    second = trained(
        "transfer", TRANSFER, *QUICK, "data.train=other-finetune", "train.lr=0.01", "--strategy", "features",
        "--waive", "trying a larger split", "--no-progress",
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    result = trained("models", "diff", "digits-classifier", "1", "2", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    changes = {(c["section"], c["key"]): (c["old"], c["new"]) for c in doc["changes"]}
    assert (doc["old"], doc["new"]) == ("1", "2")
    assert changes[("data", "trained digits-finetune")][1] is None
    assert changes[("data", "trained other-finetune")][0] is None
    assert changes[("params", "train.lr")] == ("0.003", "0.01")
    assert any(s == "waivers" and "trying a larger split" in k and new for (s, k), (_, new) in changes.items())
    assert ("metrics", "eval_accuracy") in changes or ("metrics", "val_loss") in changes
    assert ("data", "evaluated digits-eval") not in changes  # the same eval version both times
    table = trained("models", "diff", "digits-classifier", "1", "2")
    assert table.exit_code == 0 and "train.lr" in table.stdout and "other-finetune" in table.stdout


def test_diff_bad_input_is_one_clear_error(trained):
    for args, message in (
        (["digits-classifier", "1", "1"], "Error: digits-classifier 1 and 1 are the same version"),
        (["digits-classifier", "1", "9"], "Error: model 'digits-classifier' has no version 9"),
        (["nope", "1", "2"], "Error: unknown model 'nope'"),
        (["digits-classifier", "1", "digits-autoencoder/1"], "is not a version number: `models diff` compares"),
    ):
        result = trained("models", "diff", *args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr and result.stderr.startswith("Error: "), (args, result.stderr)
