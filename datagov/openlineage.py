"""The catalog's lineage as OpenLineage run events (START, then COMPLETE or
FAIL) for ingest, split, validate, contamination checks, pretrain, transfer
and its nested baseline, built with the openlineage-python client's models
(a core dependency), and sent through the client's HTTP
transport.

Naming: jobs and dataset versions live in the workspace's namespace
(`[lineage] namespace`, default `datagov://<workspace folder>`), datasets
named by the dataset, with the content digest as their `version` facet,
their columns as `schema`, the owner as `ownership` and the license as a
`tags` entry. Sources keep OpenLineage's names (`file` + path, `s3://bucket`
+ key). Registered models are datasets `models/NAME/VERSION`, in
`mlflow://host:port` for a tracking server, else in the workspace's
namespace: never a local file path. Run ids are UUIDs derived from
datagov's own ids (uuid5), so exporting twice gives the same events.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from datagov.errors import DatagovError, InvalidInput, first_line
from datagov.redact import redact
from datagov.workspace import Workspace

PRODUCER = "https://github.com/datagov/datagov"
_IDS = uuid.UUID("6f1d9c1e-2f55-4d1b-9a0e-0d5f0a7c2b11")  # namespace for datagov's uuid5 run ids
_URL_SCHEMES = ("s3", "gs", "gcs", "az", "abfss", "hf", "http", "https")
SOURCE_EDGES = ("ingested", "registered in place")


def _client():
    try:
        from openlineage.client import event_v2
    except ImportError:  # a broken install: datagov depends on the client
        raise InvalidInput(
            "--format openlineage needs the openlineage-python client, which this install lacks",
            hint="pip install 'openlineage-python>=1.30' (datagov depends on it; reinstall datagov)",
        ) from None
    return event_v2


def _iso(at: datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


def _time(text: str | None, fallback: datetime) -> datetime:
    return datetime.fromisoformat(text) if text else fallback


def run_uuid(kind: str, ident: str) -> str:
    if kind == "mlflow" and len(ident) == 32:
        return str(uuid.UUID(hex=ident))  # MLflow run ids are UUIDs without dashes
    return str(uuid.uuid5(_IDS, f"{kind}:{ident}"))


def source_name(source_id: str) -> tuple[str, str]:
    """(namespace, name) of an ingest source by OpenLineage's naming conventions."""
    parts = urlsplit(source_id)
    if parts.scheme in _URL_SCHEMES and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/") or "/"
    if source_id.startswith("/"):
        return "file", source_id
    return "datagov-builtin", source_id  # sklearn-digits:digits, torchvision:MNIST


def registry_namespace(ws: Workspace) -> str:
    from datagov.tracking import tracking_uri

    parts = urlsplit(tracking_uri(ws))
    if parts.scheme in ("http", "https") and parts.hostname:
        port = f":{parts.port}" if parts.port else ""
        return f"mlflow://{parts.hostname}{port}"  # no credentials, no path
    if parts.scheme == "databricks":
        return "databricks"
    return ws.lineage_namespace  # the workspace's own store: its models are named in its namespace


@dataclass
class _Facts:
    """What the events describe, read from the catalog in one pass."""

    sources: list = field(default_factory=list)  # lineage edges source -> version
    splits: dict = field(default_factory=dict)  # (parent node, params) -> [(child node, edge params)]
    receipts: list = field(default_factory=list)
    references: dict = field(default_factory=dict)  # contamination receipt id -> reference version node
    runs: list = field(default_factory=list)
    run_inputs: list = field(default_factory=list)
    baselines: list = field(default_factory=list)
    versions: dict = field(default_factory=dict)  # node -> Version
    owners: dict = field(default_factory=dict)  # dataset -> (owner, license)
    waivers: dict = field(default_factory=dict)  # waiver id -> approvals.Request (who asked, who approved)
    erasures: list = field(default_factory=list)  # lineage edges old version -> version written without the items


def _gather(ws: Workspace, ref: str) -> _Facts:
    from datagov.catalog import approvals, lineage
    from datagov.catalog.db import open_catalog
    from datagov.catalog.receipts import receipts_of_versions
    from datagov.catalog.runs import runs_by_id
    from datagov.catalog.versions import find_version, list_datasets
    from datagov.lineage import graph_for  # the same graph `datagov lineage` draws

    facts = _Facts()
    with open_catalog(ws) as con:
        graph = graph_for(con, ref)
        nodes = {n[1] for n in graph.nodes if n[0] == "version"}
        facts.sources = [e for e in graph.edges if e.relation in SOURCE_EDGES]
        facts.splits = _splits(con, {e.src[1] for e in graph.edges if e.relation == "split"})
        siblings = {child for children in facts.splits.values() for child, _ in children}
        facts.receipts = receipts_of_versions(con, sorted(nodes))
        facts.references = lineage.contamination_references(con, [r.id for r in facts.receipts])
        run_ids = {n[1] for n in graph.nodes if n[0] == "run"}
        models_in = lineage.models_into_runs(con, sorted(run_ids))  # a transfer's encoder: its run too
        if models_in:
            run_ids |= lineage.runs_registering(con, models_in)
        facts.baselines = lineage.baselines_of(con, sorted(run_ids))
        run_ids -= {b[1] for b in facts.baselines}  # exported under their parent, not as runs of their own
        facts.runs = runs_by_id(con, sorted(run_ids))
        facts.run_inputs = lineage.inputs_of_runs(con, sorted(run_ids))
        facts.waivers = {r.waiver_id: approvals.request(con, r.waiver_id) for r in facts.runs if r.waiver_id}
        wanted = (
            nodes | siblings | set(facts.references.values()) | {i[1] for i in facts.run_inputs if i[0] == "version"}
        )
        facts.erasures = [e for e in graph.edges if e.relation == "erased"]
        wanted |= {n for e in facts.erasures for n in (e.src[1], e.dst[1])}
        # a version deleted since (an erasure's purge) is named in events by its digest only
        facts.versions = {node: v for node in wanted if (v := find_version(con, node)) is not None}
        facts.owners = {d.name: (d.owner, d.license) for d in list_datasets(con, include_retired=True)}
    return facts


def _splits(con, parents: set[str]) -> dict:
    """(parent, shared params) -> [(child, edge params)]: every child of each
    split that made a version in the graph, its siblings included (one split
    command is one run with all of them as outputs)."""
    from datagov.catalog.lineage import edges_at
    from datagov.lineage import HISTORY

    out: dict = {}
    for parent in sorted(parents):
        for _, _, _, child, relation, raw in edges_at(con, ("version", parent), "down", skip_relation=HISTORY):
            if relation == "split":
                params = json.loads(raw) if raw else {}
                shared = {k: v for k, v in params.items() if k not in ("split", "started")}
                out.setdefault((parent, json.dumps(shared, sort_keys=True)), []).append((child, params))
    return out


class _Builder:
    def __init__(self, ws: Workspace, facts: _Facts) -> None:
        from openlineage.client.generated import (
            data_quality_assertions_dataset,
            dataset_version_dataset,
            job_type_job,
            ownership_dataset,
            parent_run,
            schema_dataset,
            tags_dataset,
            tags_run,
        )

        self.ev = _client()
        self.dqa, self.dv, self.jt = data_quality_assertions_dataset, dataset_version_dataset, job_type_job
        self.own, self.parent, self.sch, self.tags, self.tags_run = (
            ownership_dataset, parent_run, schema_dataset, tags_dataset, tags_run,
        )  # fmt: skip
        self.facts, self.ns, self.registry = facts, ws.lineage_namespace, registry_namespace(ws)
        self.events: list = []

    def dataset(self, node: str, cls, *, assertions=None):
        v = self.facts.versions.get(node)
        if v is None:  # deleted since: its name and digest are all the catalog still has
            name, _, digest = node.rpartition("@")
            return cls(namespace=self.ns, name=name,
                       facets={"version": self.dv.DatasetVersionDatasetFacet(datasetVersion=digest)})  # fmt: skip
        owner, license_ = self.facts.owners.get(v.dataset, (None, None))
        facets = {
            "schema": self.sch.SchemaDatasetFacet(
                fields=[self.sch.SchemaDatasetFacetFields(name=c["name"], type=c["type"]) for c in v.schema]
            ),
            "version": self.dv.DatasetVersionDatasetFacet(datasetVersion=v.digest),
        }
        if owner:
            facets["ownership"] = self.own.OwnershipDatasetFacet(owners=[self.own.Owner(name=f"user:{owner}")])
        if license_:  # OpenLineage has no core license facet; a tag is what every backend shows
            facets["tags"] = self.tags.TagsDatasetFacet(
                tags=[self.tags.TagsDatasetFacetFields(key="license", value=license_, source="datagov")]
            )
        extra = {}
        if assertions is not None:
            extra = {"inputFacets": {"dataQualityAssertions": self.dqa.DataQualityAssertionsDatasetFacet(assertions)}}
        return cls(namespace=self.ns, name=v.dataset, facets=facets, **extra)

    def model(self, ident: str, cls):
        return cls(namespace=self.registry, name=f"models/{ident}")

    def job(self, kind: str, name: str):
        facet = self.jt.JobTypeJobFacet(processingType="BATCH", integration="DATAGOV", jobType=kind.upper())
        return self.ev.Job(namespace=self.ns, name=f"{kind}.{name}", facets={"jobType": facet})

    def pair(self, run, job, start: datetime, end: datetime | None, state: str, inputs, outputs) -> None:
        ev = self.ev
        self.events.append(ev.RunEvent(eventType=ev.RunState.START, eventTime=_iso(start), run=run, job=job,
                                       inputs=inputs, outputs=[], producer=PRODUCER))  # fmt: skip
        if end is not None:
            self.events.append(ev.RunEvent(eventType=getattr(ev.RunState, state), eventTime=_iso(end), run=run,
                                           job=job, inputs=inputs, outputs=outputs, producer=PRODUCER))  # fmt: skip

    def ingests(self) -> None:
        for e in self.facts.sources:
            node = e.dst[1]
            v = self.facts.versions.get(node)
            if v is None and not e.params.get("started"):
                continue  # deleted since, and when it was ingested is not on record
            namespace, name = source_name(e.src[1])
            ended = v.created if v is not None else _time(e.params["started"], datetime.now(UTC))
            started = min(_time(e.params.get("started"), ended), ended)
            run = self.ev.Run(runId=run_uuid("ingest", node))
            self.pair(run, self.job("ingest", node.rpartition("@")[0]), started, ended, "COMPLETE",
                      [self.ev.InputDataset(namespace=namespace, name=name)],
                      [self.dataset(node, self.ev.OutputDataset)])  # fmt: skip

    def splits(self) -> None:
        """One run per split command: the parent in, every child out."""
        for (parent, params), every in self.facts.splits.items():
            children = [(c, p) for c, p in every if c in self.facts.versions]  # deleted since: not shown
            if not children:
                continue
            created = [self.facts.versions[c].created for c, _ in children]
            started = min(_time(p.get("started"), min(created)) for _, p in children)
            run = self.ev.Run(runId=run_uuid("split", f"{parent}:{params}"))
            self.pair(run, self.job("split", parent.rpartition("@")[0]), min(started, min(created)),
                      max(created), "COMPLETE", [self.dataset(parent, self.ev.InputDataset)],
                      [self.dataset(c, self.ev.OutputDataset) for c, _ in sorted(children)])  # fmt: skip

    def erasures(self) -> None:
        """One run per version an erasure wrote: the old version in, the new out, the erasure's id as a tag."""
        for e in self.facts.erasures:
            new = self.facts.versions.get(e.dst[1])
            if new is None:
                continue
            erasure_id = str(e.params.get("erasure", ""))
            tags = self.tags_run.TagsRunFacet(
                tags=[self.tags_run.TagsRunFacetFields(key="datagov.erasure_id", value=erasure_id, source="datagov"),
                      self.tags_run.TagsRunFacetFields(key="datagov.rows_removed",
                                                       value=str(e.params.get("removed", "")), source="datagov")]
            )  # fmt: skip
            run = self.ev.Run(runId=run_uuid("erase", f"{e.src[1]}:{e.dst[1]}"), facets={"tags": tags})
            self.pair(run, self.job("erase", new.dataset), new.created, new.created, "COMPLETE",
                      [self.dataset(e.src[1], self.ev.InputDataset)],
                      [self.dataset(e.dst[1], self.ev.OutputDataset)])  # fmt: skip

    def receipts(self) -> None:
        for r in self.facts.receipts:
            assertions = [
                self.dqa.Assertion(assertion=row.get("type", r.kind), success=bool(row["success"]),
                                   column=row.get("column"))
                for row in r.results
            ]  # fmt: skip
            inputs = [self.dataset(f"{r.dataset}@{r.digest}", self.ev.InputDataset, assertions=assertions)]
            if r.kind == "selection":
                job = self.job("select", r.dataset)
            elif r.kind == "contamination":
                job = self.job("contamination", r.dataset)
                if r.id in self.facts.references:
                    inputs.append(self.dataset(self.facts.references[r.id], self.ev.InputDataset))
            else:
                job = self.job("validate", r.suite)
            end = r.started + timedelta(seconds=r.duration)
            self.pair(self.ev.Run(runId=run_uuid("receipt", r.id)), job, r.started, end,
                      "FAIL" if r.status == "error" else "COMPLETE", inputs, [])  # fmt: skip

    def trainings(self) -> None:
        for row in self.facts.runs:
            inputs = []
            for kind, ident, _, _relation in (i for i in self.facts.run_inputs if i[2] == row.run_id):
                if kind == "version":
                    inputs.append(self.dataset(ident, self.ev.InputDataset))
                elif kind == "model":
                    inputs.append(self.model(ident, self.ev.InputDataset))
            outputs = (
                [self.model(f"{row.model_name}/{row.model_version}", self.ev.OutputDataset)] if row.model_name else []
            )
            state = {"finished": "COMPLETE", "failed": "FAIL"}.get(row.status)
            run, job = self._mlflow_run(row.run_id, who=self._who(row)), self.job(row.stage, row.experiment)
            self.pair(run, job, row.started, row.ended if state else None, state or "COMPLETE", inputs, outputs)
            for parent_id, baseline_id, raw in self.facts.baselines:
                if parent_id == row.run_id:
                    self._baseline(row, run, job, inputs, baseline_id, json.loads(raw) if raw else {})

    def _who(self, row) -> dict[str, str]:
        """Who started the run and, under a waiver, who asked for it and who approved it."""
        from datagov.governance import NOT_APPROVED

        who = {"datagov.created_by": row.created_by} if row.created_by else {}
        if row.waiver_id and (request := self.facts.waivers.get(row.waiver_id)) is not None:
            approved = request.approval.decided_by if request.approval else NOT_APPROVED
            who |= {"datagov.waiver_id": request.id, "datagov.waiver_requested_by": request.requested_by,
                    "datagov.waiver_approved_by": approved}  # fmt: skip
        return who

    def _mlflow_run(self, run_id: str, facets: dict | None = None, who: dict[str, str] | None = None):
        tags = [self.tags_run.TagsRunFacetFields(key="mlflow.run_id", value=run_id, source="datagov")]
        tags += [self.tags_run.TagsRunFacetFields(key=k, value=v, source="datagov") for k, v in (who or {}).items()]
        return self.ev.Run(
            runId=run_uuid("mlflow", run_id), facets={"tags": self.tags_run.TagsRunFacet(tags=tags), **(facets or {})}
        )

    def _baseline(self, row, parent_run, parent_job, inputs, baseline_id: str, params: dict) -> None:
        """The scratch baseline: the same data in, nothing registered, under its parent run."""
        parent = self.parent.ParentRunFacet(
            run=self.parent.Run(runId=parent_run.runId),
            job=self.parent.Job(namespace=parent_job.namespace, name=parent_job.name),
        )
        run = self._mlflow_run(baseline_id, {"parent": parent})
        started = _time(params.get("started"), row.started)
        self.pair(run, self.job("transfer-baseline", row.experiment), started,
                  _time(params.get("ended"), started), "COMPLETE", inputs, [])  # fmt: skip


def run_events(ws: Workspace, ref: str) -> list:
    """Every OpenLineage RunEvent around a dataset version, model or run, oldest first."""
    builder = _Builder(ws, _gather(ws, ref))
    builder.ingests()
    builder.splits()
    builder.receipts()
    builder.erasures()
    builder.trainings()
    return sorted(builder.events, key=lambda e: (e.eventTime, e.eventType.value != "START"))


def events_for(ws: Workspace, ref: str) -> list[dict]:
    """The events as JSON-ready dicts."""
    from openlineage.client.serde import Serde

    return [Serde.to_dict(e) for e in run_events(ws, ref)]


def delivery_target(url: str | None) -> str | None:
    """Where events go: --url, else OPENLINEAGE_URL, else nowhere (print them).
    Nothing else decides: the client's openlineage.yml (in the working
    directory, $HOME or OPENLINEAGE_CONFIG) could send them elsewhere."""
    import os

    return url or os.environ.get("OPENLINEAGE_URL") or None


def send(events: list, url: str) -> int:
    """POST events to `url` through the openlineage-python HTTP transport
    itself, oldest first; returns how many were sent. The client object is
    not used: it reads transports, filters and facets from files datagov was
    not told about. The first failure stops the delivery with one error
    (events carry stable run ids, so sending again repeats rather than
    duplicates what arrived)."""
    import os

    from openlineage.client.transport.http import HttpConfig, HttpTransport

    shown = redact(url)
    config = {"url": url, "endpoint": os.environ.get("OPENLINEAGE_ENDPOINT", "api/v1/lineage"),
              "retry": {"total": 2, "connect": 2, "read": 2, "backoff_factor": 0.2}}  # fmt: skip
    if api_key := os.environ.get("OPENLINEAGE_API_KEY"):
        config["auth"] = {"type": "api_key", "apiKey": api_key}
    try:
        transport = HttpTransport(HttpConfig.from_dict(config))
    except (ValueError, KeyError, RuntimeError) as exc:
        raise InvalidInput(f"cannot send OpenLineage events to {shown}: {str(exc).replace(url, shown)}") from None
    for sent, event in enumerate(events):
        try:
            transport.emit(event)
        except Exception as exc:  # requests' connection, timeout and HTTP errors, urllib3's retry errors
            text = str(exc).replace(url, shown)
            first = first_line(text) if text.strip() else type(exc).__name__
            done = f"after {sent} of {len(events)} events" if sent else "no event was delivered"
            raise DatagovError(
                f"cannot deliver OpenLineage events to {shown}: {first} ({done})",
                hint="check the URL and that the receiver is up; sending again is safe (run ids are stable)",
            ) from None
    return len(events)
