"""The MLflow record, the OpenLineage events, the Croissant documents and the
model card each tell the same story as `datagov models review`: which
versions (by digest) a classifier and the encoder it was built on learnt
from and were evaluated on."""

import json

from mlflow import MlflowClient

from datagov import tracking
from datagov.catalog.db import open_catalog
from tests.audit.conftest import digits_ws, matched, pretrained, trained  # noqa: F401


def _review(cli):
    doc = json.loads(cli("models", "review", "digits-classifier", "--json").stdout)
    classifier = {(d["role"], d["node"]) for d in doc["data"]}
    encoder = {(d["role"], d["node"]) for d in doc["encoder"]["data"]}
    return classifier, encoder


def _mlflow_inputs(run) -> set[tuple[str, str]]:
    """(context, NAME@DIGEST) of a run's dataset inputs, from the tags datagov logs with them."""
    out = set()
    for i in run.inputs.dataset_inputs:
        tags = {t.key: t.value for t in i.tags}
        out.add((tags["mlflow.data.context"], f"{tags['datagov.dataset']}@{tags['datagov.digest']}"))
    return out


def test_every_record_agrees_with_the_review(trained, ws, tmp_path):  # noqa: F811
    classifier, encoder = _review(trained)
    assert {r for r, _ in classifier} == {"trained", "evaluated"} and {r for r, _ in encoder} == {"trained"}

    # MLflow: the transfer run's inputs, and through its model input, the pretraining run's.
    tracking.configure(ws)
    client = MlflowClient()
    mv = client.get_model_version("digits-classifier", "1")
    run = client.get_run(mv.run_id)
    contexts = {"training": "trained", "validation": "trained", "evaluation": "evaluated"}
    assert {(contexts[c], n) for c, n in _mlflow_inputs(run)} == classifier
    (model_input,) = run.inputs.model_inputs
    pretrain_run = client.get_run(client.get_logged_model(model_input.model_id).source_run_id)
    assert {(contexts[c], n) for c, n in _mlflow_inputs(pretrain_run)} == encoder

    # OpenLineage: the inputs of the transfer and pretraining runs, by name and version facet.
    printed = trained("lineage", "digits-classifier", "--format", "openlineage").stdout
    events = [json.loads(line) for line in printed.splitlines()]

    def inputs_of(job_kind):
        (done,) = [e for e in events if e["job"]["name"].startswith(job_kind + ".") and e["eventType"] == "COMPLETE"]
        return {f"{i['name']}@{i['facets']['version']['datasetVersion']}" for i in done["inputs"]
                if "version" in i["facets"]}  # fmt: skip

    assert inputs_of("transfer") == {n for _, n in classifier}
    assert inputs_of("pretrain") == {n for _, n in encoder}

    # The model card lists the same versions, with the same roles and the model that used each.
    card = json.loads(trained("models", "card", "digits-classifier", "--format", "json").stdout)
    listed = {(c["role"], f"{c['dataset']}@{c['digest']}", c["used_by"]) for c in card["content"]}
    assert listed == {(r, n, "models:/digits-classifier/1") for r, n in classifier} | {
        (r, n, "models:/digits-autoencoder/1") for r, n in encoder
    }

    # Croissant: each version's document names it and the bytes the catalog holds for it.
    with open_catalog(ws) as con:
        for _, node in classifier | encoder:
            out = tmp_path / f"{node.split('@')[0]}.json"
            assert trained("datasets", "croissant", node, "--out", out).exit_code == 0
            doc = json.loads(out.read_text())
            digest = node.split("@")[1]
            files = con.execute("SELECT path, sha256 FROM files WHERE digest = ? ORDER BY path", [digest]).fetchall()
            assert doc["identifier"] == node and doc["url"].endswith(node)
            assert sorted((f["@id"], f["sha256"]) for f in doc["distribution"]) == files
