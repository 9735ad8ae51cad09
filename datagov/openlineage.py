"""The catalog's lineage as OpenLineage run events (START, then COMPLETE or
FAIL) for ingest, validate, pretrain and transfer, built with the
openlineage-python client's models (`pip install 'datagov[openlineage]'`).

Naming: jobs live in the namespace `datagov://<workspace>`; dataset versions
are datasets in the same namespace named by the dataset, with the content
digest as their `version` facet and their columns as the `schema` facet;
sources keep the path or name they were ingested from (namespace `file`);
registered models are datasets in the MLflow registry's namespace. Run ids
are UUIDs derived from datagov's own ids (uuid5), so exporting twice gives
the same events.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from datagov.catalog import lineage
from datagov.catalog.db import open_catalog
from datagov.catalog.receipts import receipts_of_versions
from datagov.catalog.runs import runs_by_id
from datagov.catalog.versions import list_datasets, resolve
from datagov.errors import InvalidInput
from datagov.workspace import Workspace

PRODUCER = "https://github.com/datagov/datagov"
_IDS = uuid.UUID("6f1d9c1e-2f55-4d1b-9a0e-0d5f0a7c2b11")  # namespace for datagov's uuid5 run ids


def _client():
    try:
        from openlineage.client import event_v2 as ev
        from openlineage.client.generated import (
            data_quality_assertions_dataset as dqa,
        )
        from openlineage.client.generated import (
            dataset_version_dataset as dv,
        )
        from openlineage.client.generated import (
            ownership_dataset as own,
        )
        from openlineage.client.generated import (
            schema_dataset as sch,
        )
    except ImportError:
        raise InvalidInput(
            "--format openlineage needs the openlineage-python client", hint="pip install 'datagov[openlineage]'"
        ) from None
    return ev, dqa, dv, own, sch


def _iso(at: datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


def _run_id(kind: str, ident: str) -> str:
    if kind == "mlflow" and len(ident) == 32:
        return str(uuid.UUID(hex=ident))  # MLflow run ids are UUIDs without dashes
    return str(uuid.uuid5(_IDS, f"{kind}:{ident}"))


def events_for(ws: Workspace, ref: str) -> list[dict]:
    """Every event touching the version's lineage neighbourhood, oldest first."""
    from datagov.lineage import graph_for  # the same graph `datagov lineage` draws

    ev, dqa, dv, own, sch = _client()
    ns = f"datagov://{ws.root}"
    with open_catalog(ws) as con:
        graph = graph_for(con, ref)
        versions = {n[1] for n in graph.nodes if n[0] == "version"}
        meta = {v: resolve(con, v) for v in versions}
        owners = {d.name: (d.owner, d.license) for d in list_datasets(con)}
        ingests = [e for e in graph.edges if e.relation == "ingested"]
        receipts = [
            (r.id, r.dataset, r.digest, r.suite, r.status, r.results, r.started, r.duration)
            for r in receipts_of_versions(con, sorted(versions))
        ]
        run_ids = {n[1] for n in graph.nodes if n[0] == "run"}
        # The runs that made the models these runs started from (a transfer's pretraining).
        models_in = lineage.models_into_runs(con, sorted(run_ids))
        if models_in:
            run_ids |= lineage.runs_registering(con, models_in)
        runs = [
            (r.run_id, r.stage, r.experiment, r.status, r.model_name, r.model_version, r.started, r.ended)
            for r in runs_by_id(con, list(run_ids))
        ]
        run_inputs = lineage.inputs_of_runs(con, sorted(run_ids))

    def version_of(node: str):
        """Versions outside the graph (an encoder's pretraining data) are looked up once."""
        if node not in meta:
            with open_catalog(ws) as con:
                meta[node] = resolve(con, node)
        return meta[node]

    def dataset(node: str, cls, *, assertions=None):
        v = version_of(node)
        owner, _license = owners.get(v.dataset, (None, None))  # OpenLineage has no core license facet
        facets = {
            "schema": sch.SchemaDatasetFacet(
                fields=[sch.SchemaDatasetFacetFields(name=c["name"], type=c["type"]) for c in v.schema]
            ),
            "version": dv.DatasetVersionDatasetFacet(datasetVersion=v.digest),
        }
        if owner:
            facets["ownership"] = own.OwnershipDatasetFacet(owners=[own.Owner(name=f"user:{owner}")])
        extra = {}
        if assertions is not None:
            extra = {"inputFacets": {"dataQualityAssertions": dqa.DataQualityAssertionsDatasetFacet(assertions)}}
        return cls(namespace=ns, name=v.dataset, facets=facets, **extra)

    def pair(run_id: str, job: str, start: datetime, end: datetime | None, state: str, inputs, outputs) -> list:
        run, j = ev.Run(runId=run_id), ev.Job(namespace=ns, name=job)
        out = [ev.RunEvent(eventType=ev.RunState.START, eventTime=_iso(start), run=run, job=j, inputs=inputs,
                           outputs=[], producer=PRODUCER)]  # fmt: skip
        if end is not None:
            out.append(ev.RunEvent(eventType=getattr(ev.RunState, state), eventTime=_iso(end), run=run, job=j,
                                   inputs=inputs, outputs=outputs, producer=PRODUCER))  # fmt: skip
        return out

    events = []
    for e in ingests:
        node = e.dst[1]
        v = version_of(node)
        source = ev.InputDataset(namespace="file", name=e.src[1])
        started = datetime.fromisoformat(e.params["started"]) if e.params.get("started") else v.created
        events += pair(_run_id("ingest", node), f"ingest.{v.dataset}", min(started, v.created), v.created, "COMPLETE",
                       [source], [dataset(node, ev.OutputDataset)])  # fmt: skip
    for rid, name, digest, suite, status, rows, started, duration in receipts:
        assertions = [
            dqa.Assertion(assertion=r["type"], success=bool(r["success"]), column=r.get("column")) for r in rows
        ]
        node = f"{name}@{digest}"
        end = started + timedelta(seconds=duration)
        events += pair(_run_id("receipt", rid), f"validate.{suite}", started, end,
                       "FAIL" if status == "error" else "COMPLETE",
                       [dataset(node, ev.InputDataset, assertions=assertions)], [])  # fmt: skip
    registry = f"mlflow://{_tracking(ws)}"
    for run_id, stage, experiment, status, model_name, model_version, started, ended in runs:
        inputs = []
        for kind, ident, _, _relation in (r for r in run_inputs if r[2] == run_id):
            if kind == "version":
                inputs.append(dataset(ident, ev.InputDataset))
            elif kind == "model":
                inputs.append(ev.InputDataset(namespace=registry, name=f"models/{ident}"))
        outputs = (
            [ev.OutputDataset(namespace=registry, name=f"models/{model_name}/{model_version}")] if model_name else []
        )
        state = {"finished": "COMPLETE", "failed": "FAIL"}.get(status)
        events += pair(_run_id("mlflow", run_id), f"{stage}.{experiment}", started, ended if state else None,
                       state or "COMPLETE", inputs, outputs)  # fmt: skip
    from openlineage.client.serde import Serde

    docs = [Serde.to_dict(e) for e in events]
    return sorted(docs, key=lambda d: (d["eventTime"], d["eventType"] != "START"))


def _tracking(ws: Workspace) -> str:
    from datagov.tracking import tracking_uri

    return tracking_uri(ws)
