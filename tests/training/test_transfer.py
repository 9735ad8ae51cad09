"""Gated transfer with real MLflow (under tmp_path): the encoder from the
registry, both strategies, the scratch baseline, and the bad-input contract."""

import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from datagov.catalog.db import open_catalog
from tests.conftest import make_image_folder
from tests.training.conftest import SPEC, TINY, TRANSFER, mlflow_runs

QUICK = ["train.epochs=4", "train.patience=2", "train.device=cpu"]


def eval_images(ws):
    """digits-eval decoded here with Pillow, independently of datagov's stream."""
    with open_catalog(ws) as con:
        digest = con.execute("SELECT digest FROM versions WHERE dataset = 'digits-eval'").fetchone()[0]
    table = pq.read_table(ws.store_dir / digest, columns=["image", "label"])
    x = np.stack([np.asarray(Image.open(io.BytesIO(b))) for b in table.column("image").to_pylist()])
    return x[:, None].astype(np.float32) / 255.0, table.column("label").to_numpy()


def test_features_with_baseline_logs_registers_and_links(pretrained, ws):
    result = pretrained("transfer", TRANSFER, *QUICK, "--strategy", "features", "--baseline", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "Registered models:/digits-classifier/1 (alias models:/digits-classifier@latest-validated)" in result.stdout
    assert "features: eval accuracy" in result.stdout and "pretraining gain" in result.stdout
    # The demo's line beside the value table: this run's figures, and the row for ~14 labels per class.
    from datagov.cli.demo_cmd import compare_with_table
    from datagov.value_table import nearest_row

    line = compare_with_table(ws, "features")
    row = nearest_row(175 / 10)
    assert f"row {row.name!r}" in line and f"features {100 * row.scores['features'][0]:.1f} ±" in line

    runs = {r.info.run_name: r for r in mlflow_runs(ws) if r.data.tags.get("datagov.stage", "").startswith("transfer")}
    parent, base = runs["features"], runs["baseline"]
    assert parent.info.status == base.info.status == "FINISHED"
    assert base.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert base.info.experiment_id == parent.info.experiment_id != "0"  # not MLflow's Default experiment
    import re

    printed = int(re.search(r"features: eval accuracy [0-9.]+ \(best epoch (\d+) of", result.stdout)[1])
    assert parent.data.metrics["best_epoch"] == printed  # the log and the terminal count epochs alike
    assert base.info.artifact_uri.startswith(ws.catalog_dir.resolve().as_uri())
    m = parent.data.metrics
    assert m["pretraining_gain"] == pytest.approx(m["eval_accuracy"] - m["baseline_eval_accuracy"])
    ours, scratch = 100 * m["eval_accuracy"], 100 * m["baseline_eval_accuracy"]
    assert f"this run   features {ours:.1f} %, scratch {scratch:.1f} %" in line
    assert {f"eval_accuracy.{c}" for c in range(10)} <= set(m)
    contexts = {
        (tags["mlflow.data.context"], i.dataset.name[: i.dataset.name.index("@")])
        for i in parent.inputs.dataset_inputs
        for tags in [{t.key: t.value for t in i.tags}]
    }
    assert contexts == {
        ("training", "digits-finetune"),
        ("validation", "digits-finetune"),
        ("evaluation", "digits-eval"),
    }
    assert parent.data.tags["datagov.encoder_version"] == "models:/digits-autoencoder/1"

    from mlflow import MlflowClient

    # The encoder is the run's model input: a LoggedModel made by the pretraining run that registered it.
    (model_input,) = MlflowClient().get_run(parent.info.run_id).inputs.model_inputs
    encoder = MlflowClient().get_model_version("digits-autoencoder", "1")
    logged = MlflowClient().get_logged_model(model_input.model_id)
    assert logged.source_run_id == encoder.run_id and logged.name == "digits-autoencoder"
    assert encoder.tags["datagov.logged_model_id"] == logged.model_id
    assert [o.model_id for o in MlflowClient().get_run(encoder.run_id).outputs.model_outputs] == [logged.model_id]

    mv = MlflowClient().get_model_version_by_alias("digits-classifier", "latest-validated")
    with open_catalog(ws) as con:
        train_digest, pre_digest = (
            con.execute(f"SELECT digest FROM versions WHERE dataset = '{n}'").fetchone()[0]
            for n in ("digits-finetune", "digits-pretrain")
        )
        stages = con.execute("SELECT stage, status FROM runs ORDER BY started").fetchall()
    assert mv.tags["datagov.digest"] == train_digest and mv.tags["datagov.encoder_pretrain_digest"] == pre_digest
    # every receipt the gate used names its suite: the quality, match and contamination checks
    assert mv.tags["datagov.suites"].split(",") == ["digits-labelled", "digits-pretrain-match", "near-image"]
    assert len(mv.tags["datagov.receipts"].split(",")) == 5  # finetune, eval, match, two contamination
    assert stages == [("pretrain", "finished"), ("transfer", "finished")]

    # The logged accuracy is what the registered model really scores.
    import torch

    from datagov.training.weights import load_model

    model = load_model(ws, "digits-classifier", mv.version)
    x, y = eval_images(ws)
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    assert m["eval_accuracy"] == pytest.approx((pred == y).mean())
    assert m["eval_accuracy.3"] == pytest.approx((pred[y == 3] == 3).mean())

    tree = pretrained("lineage", "digits").stdout
    assert "model digits-autoencoder/1 (registered)" in tree and "(initialized)" in tree
    assert "model digits-classifier/1 (registered)" in tree and "(evaluated)" in tree


def test_finetune_moves_the_encoder_and_registers_a_new_version(pretrained, ws):
    result = pretrained("transfer", TRANSFER, *QUICK, "--no-progress")  # the spec's strategy: finetune
    assert result.exit_code == 0, result.output
    assert "finetune: eval accuracy" in result.stdout and "models:/digits-classifier/1" in result.stdout
    import torch

    from datagov.training.weights import load_model

    clf = load_model(ws, "digits-classifier", "1")
    ae = load_model(ws, "digits-autoencoder", "1")
    first = next(m for m in ae.encoder if isinstance(m, torch.nn.Linear))
    tuned = next(m for m in clf.encoder if isinstance(m, torch.nn.Linear))
    assert not torch.equal(first.weight, tuned.weight)


def test_unvalidated_target_is_refused_with_the_fix(digits_ws, ws):
    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    assert digits_ws("validate", "digits-eval", "--suite", "digits-labelled").exit_code == 0
    assert digits_ws("pretrain", SPEC, *TINY, "--no-progress").exit_code == 0
    result = digits_ws("transfer", TRANSFER, *QUICK)
    assert result.exit_code == 4
    assert result.stderr.startswith("Error: gate refused transfer on digits-finetune@")
    assert "fix: datagov validate digits-finetune@" in result.stderr
    with open_catalog(ws) as con:
        assert con.execute("SELECT count(*) FROM runs WHERE stage = 'transfer'").fetchone()[0] == 0

    waived = digits_ws("transfer", TRANSFER, *QUICK, "--waive", "labels audited by hand", "--no-progress")
    assert waived.exit_code == 0, waived.output
    with open_catalog(ws) as con:
        assert con.execute("SELECT stage, reason FROM waivers").fetchall() == [("transfer", "labels audited by hand")]


def test_fine_tuning_data_must_match_the_pretraining_data(digits_ws, ws):
    for name, suite in (("digits-pretrain", "digits-pretrain"), ("digits-finetune", "digits-labelled"),
                        ("digits-eval", "digits-labelled")):  # fmt: skip
        assert digits_ws("validate", name, "--suite", suite).exit_code == 0
    assert digits_ws("pretrain", SPEC, *TINY, "--no-progress").exit_code == 0
    pre, fine = _ref(ws, "digits-pretrain"), _ref(ws, "digits-finetune")

    refused = digits_ws("transfer", TRANSFER, *QUICK)
    assert refused.exit_code == 4
    assert f"{fine} was never checked against the encoder's pretraining data {pre}" in refused.stderr
    fix = (
        f"fix: datagov expectations match {pre} --suite digits-pretrain-match && "
        f"datagov validate {fine} --suite digits-pretrain-match"
    )
    assert fix in refused.stderr

    # The fix, as printed, opens the gate; the receipt is a match receipt bound to both digests.
    assert digits_ws("expectations", "match", pre, "--suite", "digits-pretrain-match").exit_code == 0
    assert digits_ws("validate", fine, "--suite", "digits-pretrain-match").exit_code == 0
    with open_catalog(ws) as con:
        kind, ref_digest = con.execute(
            "SELECT kind, reference_digest FROM receipts WHERE suite = 'digits-pretrain-match'"
        ).fetchone()
        pre_digest = con.execute("SELECT digest FROM versions WHERE dataset = 'digits-pretrain'").fetchone()[0]
    assert (kind, ref_digest) == ("match", pre_digest)
    listed = json.loads(digits_ws("validations", "list", "--json").stdout)
    assert [(r["kind"], r["reference_digest"]) for r in listed if r["suite"] == "digits-pretrain-match"] == [
        ("match", pre_digest)
    ]
    for reference in ("digits-finetune", "digits-pretrain"):  # the spec's other requirement (tests/near/test_gate.py)
        assert digits_ws("contamination", reference, "digits-eval").exit_code == 0
    assert digits_ws("transfer", TRANSFER, *QUICK, "--no-progress").exit_code == 0

    # A target that fails its match suite is refused again, naming the failing receipt.
    path = ws.expectations_dir / "digits-pretrain-match.json"
    suite = json.loads(path.read_text())
    for exp in suite["expectations"]:
        if exp["type"] == "expect_column_kl_divergence_to_be_less_than":
            exp["kwargs"]["threshold"] = 1e-6
    path.write_text(json.dumps(suite))
    assert digits_ws("validate", fine, "--suite", "digits-pretrain-match").exit_code == 3
    again = digits_ws("transfer", TRANSFER, *QUICK)
    assert again.exit_code == 4 and f"{fine} does not match the encoder's pretraining data {pre}" in again.stderr


def no_running_runs(ws) -> bool:
    return all(r.info.status != "RUNNING" for r in mlflow_runs(ws))


BAD_INPUT = [  # (override, what the one error line says); one workspace for all: each is refused up front
    ("encoder=models:/no-such-model@latest", "Error: no encoder at models:/no-such-model@latest: "),
    ("encoder=models:/digits-autoencoder/7", "Error: no encoder at models:/digits-autoencoder/7: "),
    ("encoder=s3://bucket/model", "Error: encoder 's3://bucket/model' is not a model URI"),
    ("data.train=digits-pretrain", "has no label column 'label'"),  # labels dropped by the split
    ("data.eval=nope", "Error: unknown dataset 'nope'"),
    ("data.label_column=digit", "has no label column 'digit'"),
    ("train.epochs=none", "train.epochs: expected int, got str ('none')"),
]


def test_bad_input_is_one_clear_error(pretrained, ws):
    for override, message in BAD_INPUT:
        result = pretrained("transfer", TRANSFER, *QUICK, override)
        assert result.exit_code == 1, (override, result.output)
        assert result.stderr.startswith("Error: ") and message in result.stderr, (override, result.stderr)
        assert "Traceback" not in result.stderr
    assert no_running_runs(ws)
    with open_catalog(ws) as con:
        assert con.execute("SELECT count(*) FROM runs WHERE stage = 'transfer'").fetchone()[0] == 0


def test_encoder_input_shape_must_match_the_data(pretrained, ws, tmp_path):
    folder = make_image_folder(tmp_path / "pets", per_class=6)
    assert pretrained("ingest", folder, "--name", "pets").exit_code == 0
    result = pretrained("transfer", TRANSFER, *QUICK, "data.train=pets", "data.eval=pets")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "Error: the encoder models:/digits-autoencoder@latest-validated takes 1x8x8 images; "
        f"{_ref(ws, 'pets')} has 3x12x10"  # CxHxW
    )
    assert no_running_runs(ws)


def _ref(ws, name):
    with open_catalog(ws) as con:
        return f"{name}@" + con.execute("SELECT digest FROM versions WHERE dataset = ?", [name]).fetchone()[0][:12]


def test_an_encoder_tag_that_contradicts_the_lineage_is_refused(pretrained, ws):
    from mlflow import MlflowClient

    MlflowClient().set_model_version_tag("digits-autoencoder", "1", "datagov.digest", "0" * 64)
    result = pretrained("transfer", TRANSFER, *QUICK)
    assert result.exit_code == 3  # an integrity problem, like a changed file
    assert "is tagged datagov.digest=000000000000 but the catalog's lineage says it was pretrained on" in result.stderr
    assert no_running_runs(ws)
