"""`datagov lineage --format openlineage`: run events for ingest, split,
validate, contamination, pretrain, transfer and its baseline, checked against
the OpenLineage 2-0-2 spec files (tests/openlineage_spec) and against the
catalog they came from, printed and delivered over HTTP to a receiver on
127.0.0.1."""

import json
import socket
import uuid
from datetime import datetime

import pytest

from datagov.catalog.db import open_catalog
from tests.audit.conftest import QUICK, digits_ws, matched, pretrained, trained  # noqa: F401
from tests.openlineage_receiver import EventValidator, start_receiver
from tests.training.conftest import TRANSFER


@pytest.fixture
def receiver():
    server, thread = start_receiver()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _events(cli, ref):
    result = cli("lineage", ref, "--format", "openlineage")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_events_follow_the_schema_and_the_catalog(trained, ws):  # noqa: F811
    events = _events(trained, "digits-finetune")
    validator = EventValidator()
    for event in events:
        assert validator.errors(event) == [], event
    jobs = {e["job"]["name"].split(".")[0] for e in events}
    assert jobs == {"ingest", "split", "validate", "pretrain", "transfer"}
    assert all(e["job"]["facets"]["jobType"]["jobType"] == e["job"]["name"].split(".")[0].upper() for e in events)
    # Nothing names a path on this machine: the namespace is the workspace's, not its folder.
    assert not any(str(ws.root) in e["job"]["namespace"] or str(ws.root) in d["namespace"]
                   for e in events for d in e["inputs"] + e["outputs"])  # fmt: skip
    assert {e["job"]["namespace"] for e in events} == {f"datagov://{ws.root.name}"}
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
    assert transfer["run"]["facets"]["tags"]["tags"][0] == {"key": "mlflow.run_id", "value": mlflow_run,
                                                            "source": "datagov"}  # fmt: skip
    assert {i["name"] for i in transfer["inputs"]} == {"digits-finetune", "digits-eval", "models/digits-autoencoder/1"}
    assert [o["name"] for o in transfer["outputs"]] == ["models/digits-classifier/1"]
    # The split that made the fine-tuning data is one run: the parent in, every split out.
    (split,) = [e for e in events if e["job"]["name"] == "split.digits" and e["eventType"] == "COMPLETE"]
    assert [i["name"] for i in split["inputs"]] == ["digits"]
    assert sorted(o["name"] for o in split["outputs"]) == ["digits-eval", "digits-finetune", "digits-pretrain"]
    ingest_out = next(e for e in events if e["job"]["name"] == "ingest.digits" and e["eventType"] == "COMPLETE")
    assert ingest_out["outputs"][0]["facets"]["version"] == split["inputs"][0]["facets"]["version"]

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


def test_the_baseline_is_a_child_run_of_its_transfer(pretrained):  # noqa: F811
    result = pretrained("transfer", TRANSFER, *QUICK, "--strategy", "features", "--baseline", "--no-progress")
    assert result.exit_code == 0, result.output
    events = _events(pretrained, "digits-classifier")
    validator = EventValidator()
    assert all(validator.errors(e) == [] for e in events)
    (parent,) = [e for e in events if e["job"]["name"].startswith("transfer.") and e["eventType"] == "COMPLETE"]
    baseline = [e for e in events if e["job"]["name"].startswith("transfer-baseline.")]
    assert [e["eventType"] for e in baseline] == ["START", "COMPLETE"]
    facet = baseline[1]["run"]["facets"]["parent"]
    assert facet["run"]["runId"] == parent["run"]["runId"] and facet["job"]["name"] == parent["job"]["name"]
    assert parent["eventTime"] >= baseline[1]["eventTime"] >= baseline[0]["eventTime"] >= parent_start(events)
    assert {i["name"] for i in baseline[1]["inputs"]} == {i["name"] for i in parent["inputs"]}
    assert baseline[1]["outputs"] == []  # the baseline registers nothing


def parent_start(events):
    return next(
        e["eventTime"] for e in events if e["job"]["name"].startswith("transfer.") and e["eventType"] == "START"
    )


def test_events_are_delivered_over_http_and_each_passes_the_spec(trained, receiver, monkeypatch, tmp_path):  # noqa: F811
    printed = _events(trained, "digits-classifier")
    sent = trained("lineage", "digits-classifier", "--format", "openlineage", "--url", receiver.url)
    assert sent.exit_code == 0, sent.output
    assert sent.stdout.strip() == f"Sent {len(printed)} OpenLineage events to {receiver.url}"
    assert receiver.rejected == [] and receiver.events == printed  # what is printed is exactly what is sent
    assert set(receiver.paths) == {"/api/v1/lineage"}
    # A model's events reach its evaluation data's checks: contamination names both versions compared.
    checks = [e for e in printed if e["job"]["name"] == "contamination.digits-eval" and e["eventType"] == "COMPLETE"]
    assert {tuple(sorted(i["name"] for i in e["inputs"])) for e in checks} == {
        ("digits-eval", "digits-finetune"), ("digits-eval", "digits-pretrain")
    }  # fmt: skip

    # OPENLINEAGE_URL, as the openlineage-python client defines it, does the same, and an
    # openlineage.yml where the command runs (which the client would prefer) redirects nothing.
    receiver.events.clear()
    monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "openlineage.yml").write_text(
        f"transport:\n  type: file\n  log_file_path: {tmp_path / 'stolen.jsonl'}\n"
        "filters:\n  - type: regex\n    match: '.*'\n"
    )
    again = trained("lineage", "digits-classifier", "--format", "openlineage")
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == f"Sent {len(printed)} OpenLineage events to {receiver.url}"
    assert receiver.rejected == [] and receiver.events == printed
    assert not list(tmp_path.glob("stolen*"))


def test_credentials_in_the_url_are_never_echoed(trained):  # noqa: F811
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = trained(
        "lineage", "digits-eval", "--format", "openlineage", "--url", f"http://admin:s3cret@127.0.0.1:{port}"
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot deliver OpenLineage events to http://***@127.0.0.1:{port}:")
    assert "s3cret" not in result.output and "admin" not in result.output


def test_a_receiver_that_refuses_or_cannot_be_reached_is_one_error(trained, receiver, monkeypatch):  # noqa: F811
    monkeypatch.setenv("OPENLINEAGE_ENDPOINT", "api/v2/nowhere")  # the receiver answers 400 there
    refused = trained("lineage", "digits-eval", "--format", "openlineage", "--url", receiver.url)
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"Error: cannot deliver OpenLineage events to {receiver.url}: 400")
    assert "no event was delivered" in refused.stderr and "Traceback" not in refused.stderr
    monkeypatch.delenv("OPENLINEAGE_ENDPOINT")

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    result = trained("lineage", "digits-eval", "--format", "openlineage", "--url", closed)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(f"Error: cannot deliver OpenLineage events to {closed}:")
    assert "no event was delivered" in result.stderr
    for args, message in (
        (["--url", "not a url"], "Error: cannot send OpenLineage events to not a url"),
        (["--format", "tree", "--url", receiver.url], "Error: --url sends OpenLineage events"),
    ):
        bad = trained("lineage", "digits-eval", *(["--format", "openlineage"] if "--format" not in args else []), *args)
        assert bad.exit_code == 1 and bad.stderr.startswith(message), bad.stderr


def test_the_validator_rejects_what_breaks_the_spec():
    """The receiver's checks are not vacuous: a missing required field, a bad
    UUID and a facet whose schema is unknown are each caught."""
    schema_url = "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
    custom = {"_producer": "https://x", "_schemaURL": "https://example.com/X.json"}
    facet = {"_producer": "https://x", "_schemaURL": schema_url,
             "fields": [{"type": "INT"}]}  # fmt: skip
    event = {"eventTime": "2026-01-01T00:00:00+00:00", "producer": "https://x", "eventType": "START",
             "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
             "run": {"runId": "not-a-uuid"}, "job": {"namespace": "n", "name": "j"},
             "inputs": [{"namespace": "n", "name": "d", "facets": {
                 "schema": facet, "custom": custom}}]}  # fmt: skip
    errors = EventValidator().errors(event)
    assert any("runId" in e and "uuid" in e for e in errors), errors
    assert any(e.startswith("inputs/0/facets/schema/") and "'name' is a required property" in e for e in errors)
    assert any(e.startswith("inputs/0/facets/custom: no schema") for e in errors)


def test_names_follow_openlineage_conventions_without_local_paths(ws, monkeypatch):
    from datagov import openlineage, tracking

    assert openlineage.source_name("s3://bucket/shards/train") == ("s3://bucket", "shards/train")
    assert openlineage.source_name("/data/images") == ("file", "/data/images")
    assert openlineage.source_name("sklearn:digits") == ("datagov-builtin", "sklearn:digits")
    assert openlineage.registry_namespace(ws) == f"datagov://{ws.root.name}"  # the workspace's own SQLite store
    monkeypatch.setattr(tracking, "_USER_TRACKING_URI", "https://user:secret@mlflow.example.com:8443/base")
    assert openlineage.registry_namespace(ws) == "mlflow://mlflow.example.com:8443"  # no credentials, no path
    (ws.root / "datagov.toml").write_text('[lineage]\nnamespace = "datagov://ml-platform/pretraining"\n')
    from datagov.workspace import load_workspace

    assert load_workspace(ws.root).lineage_namespace == "datagov://ml-platform/pretraining"
