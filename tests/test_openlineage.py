"""`datagov lineage --format openlineage`: run events for ingest, validate,
pretrain and transfer, checked against the OpenLineage run-event schema and
against the catalog they came from."""

import json
import uuid
from datetime import datetime

import jsonschema

from datagov.catalog.db import open_catalog
from tests.audit.conftest import digits_ws, matched, pretrained, trained  # noqa: F401

# The parts of OpenLineage 2-0-2's RunEvent that every consumer relies on
# (https://openlineage.io/spec/2-0-2/OpenLineage.json), written out here
# because the spec file is not shipped with the client package.
FACET = {"type": "object", "required": ["_producer", "_schemaURL"],
         "properties": {"_producer": {"type": "string", "format": "uri"},
                        "_schemaURL": {"type": "string", "format": "uri"}}}  # fmt: skip
DATASET = {
    "type": "object",
    "required": ["namespace", "name"],
    "properties": {
        "namespace": {"type": "string"},
        "name": {"type": "string"},
        "facets": {"type": "object", "additionalProperties": FACET},
        "inputFacets": {"type": "object", "additionalProperties": FACET},
    },
}
RUN_EVENT = {
    "type": "object",
    "required": ["eventTime", "producer", "schemaURL", "run", "job", "eventType"],
    "properties": {
        "eventTime": {"type": "string", "format": "date-time"},
        "producer": {"type": "string", "format": "uri"},
        "schemaURL": {"type": "string", "format": "uri", "pattern": "^https://openlineage.io/spec/2-0-2/"},
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "run": {"type": "object", "required": ["runId"], "properties": {"runId": {"type": "string", "format": "uuid"}}},
        "job": {"type": "object", "required": ["namespace", "name"]},
        "inputs": {"type": "array", "items": DATASET},
        "outputs": {"type": "array", "items": DATASET},
    },
}


def _events(cli, ref):
    result = cli("lineage", ref, "--format", "openlineage")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_events_follow_the_schema_and_the_catalog(trained, ws):  # noqa: F811
    events = _events(trained, "digits-finetune")
    checker = jsonschema.Draft202012Validator(RUN_EVENT, format_checker=jsonschema.FormatChecker())
    for event in events:
        checker.validate(event)
        uuid.UUID(event["run"]["runId"])
    jobs = {e["job"]["name"].split(".")[0] for e in events}
    assert jobs == {"ingest", "validate", "pretrain", "transfer"}
    by_run = {}
    for e in events:
        by_run.setdefault(e["run"]["runId"], []).append(e["eventType"])
    assert all(types == ["START", "COMPLETE"] for types in by_run.values()), by_run
    ingest = [datetime.fromisoformat(e["eventTime"]) for e in events if e["job"]["name"] == "ingest.digits"]
    assert len(ingest) == 2 and ingest[0] < ingest[1]  # the ingest's own start, not its end twice

    with open_catalog(ws) as con:
        digest = con.execute("SELECT digest FROM versions WHERE dataset = 'digits-finetune'").fetchone()[0]
        columns = [c["name"] for c in json.loads(
            con.execute("SELECT schema FROM versions WHERE dataset = 'digits-finetune'").fetchone()[0])]  # fmt: skip
        receipts = con.execute("SELECT count(*) FROM receipts WHERE dataset = 'digits-finetune'").fetchone()[0]
        mlflow_run = con.execute("SELECT run_id FROM runs WHERE stage = 'transfer'").fetchone()[0]
    validations = [e for e in events if e["job"]["name"].startswith("validate.") and e["eventType"] == "COMPLETE"
                   and e["inputs"][0]["name"] == "digits-finetune"]  # fmt: skip
    assert len(validations) == receipts == 2  # digits-labelled and the match suite
    dataset = validations[0]["inputs"][0]
    assert dataset["facets"]["version"]["datasetVersion"] == digest
    assert [f["name"] for f in dataset["facets"]["schema"]["fields"]] == columns
    assertions = dataset["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert assertions and all(a["success"] for a in assertions)
    assert "DataQualityAssertionsDatasetFacet" in dataset["inputFacets"]["dataQualityAssertions"]["_schemaURL"]

    (transfer,) = [e for e in events if e["job"]["name"].startswith("transfer.") and e["eventType"] == "COMPLETE"]
    assert transfer["run"]["runId"] == str(uuid.UUID(hex=mlflow_run))  # the MLflow run, as a UUID
    assert {(i["namespace"].split(":")[0], i["name"]) for i in transfer["inputs"]} == {
        ("datagov", "digits-finetune"), ("datagov", "digits-eval"), ("mlflow", "models/digits-autoencoder/1")
    }  # fmt: skip
    assert [o["name"] for o in transfer["outputs"]] == ["models/digits-classifier/1"]
    assert _events(trained, "digits-finetune") == events  # stable: the same ids every export


def test_a_failed_run_ends_with_fail(trained, ws):  # noqa: F811
    with open_catalog(ws, write=True) as con:
        con.execute("UPDATE runs SET status = 'failed' WHERE stage = 'transfer'")
    events = [e for e in _events(trained, "digits-eval") if e["job"]["name"].startswith("transfer.")]
    assert [e["eventType"] for e in events] == ["START", "FAIL"]


def test_a_model_or_run_is_a_lineage_target_too(trained, ws):  # noqa: F811
    tree = trained("lineage", "digits-classifier")  # the newest version
    assert tree.exit_code == 0, tree.output
    assert tree.stdout.startswith("model digits-classifier/1") and "version digits-pretrain@" in tree.stdout
    events = _events(trained, "models:/digits-classifier/1")
    jobs = {e["job"]["name"].split(".")[0] for e in events}
    assert {"ingest", "pretrain", "transfer"} <= jobs
    with open_catalog(ws) as con:
        run_id = con.execute("SELECT run_id FROM runs WHERE stage = 'transfer'").fetchone()[0]
    assert trained("lineage", run_id).stdout.startswith(f"run {run_id}")
    for target, message in (
        ("digits-classifier@7", "Error: model 'digits-classifier' has no version 7 in the lineage (versions: 1)"),
        ("no-such-thing", "Error: no dataset, registered model or run named 'no-such-thing'"),
    ):
        result = trained("lineage", target)
        assert result.exit_code == 1 and result.stderr.startswith(message), result.stderr
