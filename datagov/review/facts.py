"""Everything a reviewer asks of one registered model version, gathered from
the MLflow registry and the catalog: its metrics and aliases, the data it
was trained and evaluated on (owners, licenses, digests), the receipts the
gate relied on at training time and whether they still hold, match receipts
and drift reports for that data, waivers, and the latest audit."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from datagov import tags as tag_keys
from datagov.catalog.db import open_catalog
from datagov.catalog.drift_reports import reports_on_target
from datagov.catalog.lifecycle import Retirement
from datagov.catalog.lineage import encoders_of, versions_into_run
from datagov.catalog.runs import promotions_of, waivers_of_run
from datagov.catalog.versions import check_name, dataset_row, find_version, now
from datagov.errors import InvalidInput
from datagov.lineage import short_version
from datagov.workspace import Workspace


@dataclass
class ReceiptFacts:
    id: str
    digest: str  # of the version it was made for
    suite: str
    kind: str
    status: str
    started: datetime
    valid_now: bool
    why: str  # why not, or "current"


@dataclass
class DataFacts:
    role: str  # trained | evaluated
    ref: str
    node: str
    digest: str
    owner: str | None
    license: str | None
    receipts: list[ReceiptFacts] = field(default_factory=list)  # those the gate used at training time
    drift_reports: list[dict] = field(default_factory=list)
    audit: tuple[str, str] | None = None  # (status, audit id) of the latest audit covering it
    status: str = "ready"  # ready | retired | deleted (gone from the catalog since training)


@dataclass
class Waiver:
    id: str
    stage: str
    reason: str
    who: str
    created: datetime
    expires: datetime | None
    approved_by: str | None = None  # the steward, on a team catalog; None: not approved by a second person
    approval_reason: str | None = None

    @property
    def approval(self) -> str:
        if self.approved_by:
            return f"approved by {self.approved_by}: {self.approval_reason}"
        from datagov.governance import NOT_APPROVED

        return NOT_APPROVED

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires < now()


@dataclass
class ModelFacts:
    name: str
    version: str
    run_id: str
    stage: str
    aliases: list[str]
    tags: dict[str, str]
    metrics: dict[str, float]
    params: dict[str, str]
    created: datetime
    data: list[DataFacts]
    waivers: list[Waiver]
    promotions: list[dict]
    weights: str = "verified"  # or why the weights cannot be vouched for
    encoder: ModelFacts | None = None  # the model it was transferred from, gathered the same way
    declared: dict | None = None  # imported weights: their training data as declared, not verified
    flags: list[dict] = field(default_factory=list)  # why promotion waits: its training content changed since
    retired: Retirement | None = None  # `models retire`: who, why, when

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def chain(self) -> list[ModelFacts]:
        """This model, then the encoder it was built on, then that one's, ..."""
        out: list[ModelFacts] = []
        current: ModelFacts | None = self
        while current is not None:
            out.append(current)
            current = current.encoder
        return out

    def all_data(self) -> list[tuple[str, DataFacts]]:
        """(role as shown, data) for this model's data and its encoders' pretraining data."""
        return [(d.role if m is self else f"{d.role} by encoder {m.uri}", d) for m in self.chain() for d in m.data]


def check_model_ref(name: str, version: str | None) -> None:
    check_name(name, "model")  # it goes into an MLflow search filter
    if version is not None and not version.isdigit():
        raise InvalidInput(f"invalid model version {version!r}: expected a number", hint="see `datagov models list`")


def _receipt_facts(con, ws: Workspace, ids: list[str]) -> list[ReceiptFacts]:
    from datagov.catalog.locations import locate
    from datagov.catalog.receipts import bound_to_settings, list_receipts, receipt_by_id
    from datagov.errors import DatagovError
    from datagov.quality.suites import load_suite
    from datagov.verify import check_for_use

    out, changed_files = [], {}
    for rid in ids:
        found = receipt_by_id(con, rid)
        if found is None:
            continue
        dataset, digest, suite = found.dataset, found.digest, found.suite
        same_suite = list_receipts(
            con, dataset=dataset, digest=digest, suite=suite, include_retired=True
        )  # newest first
        same_suite = [r for r in same_suite if r.reference_digest == found.reference_digest]
        mine, newest = next(r for r in same_suite if r.id == rid), same_suite[0]
        if bound_to_settings(mine):  # bound to its method's settings, not to a suite file
            current_suite = mine.suite_digest
        else:
            try:
                current_suite = load_suite(ws, suite).digest
            except DatagovError:  # gone or unreadable: the receipt no longer vouches for anything
                current_suite = None
        if (dataset, digest) not in changed_files:  # one version's receipts share its files: check them once
            changed_files[dataset, digest] = check_for_use(ws, locate(ws, con, digest, dataset))[0]
        changed = changed_files[dataset, digest]
        if current_suite != mine.suite_digest:
            why = f"suite {suite!r} changed since" if current_suite else f"suite {suite!r} is gone"
        elif changed:
            why = "the stored files changed: " + ", ".join(p.path for p in changed)
        elif not newest.success:
            why = f"a later validation failed ({newest.id})"
        else:
            why = "current"
        out.append(ReceiptFacts(rid, digest, suite, mine.kind, mine.status, mine.started, why == "current", why))
    return out


def gather(ws: Workspace, name: str, version: str | None = None) -> ModelFacts:
    from datagov import tracking
    from datagov.catalog.audits import latest_audit_status

    check_model_ref(name, version)
    c = tracking.registry_client(ws)
    mv = tracking.find_model_version(c, name, version)
    run = c.get_run(mv.run_id)
    tags = dict(mv.tags)
    receipt_ids = [r for r in tags.get(tag_keys.RECEIPTS, "").split(",") if r]
    data: list[DataFacts] = []
    with open_catalog(ws) as con:
        edges = versions_into_run(con, mv.run_id)
        receipts = _receipt_facts(con, ws, receipt_ids)
        for node, relation in edges:
            facts = _data_facts(con, node, relation)
            facts.receipts = [r for r in receipts if r.digest == facts.digest]
            facts.drift_reports = [
                {"id": r.id, "reference": short_version(r.reference), "drift": r.drift,
                 "embedding_drift": r.embedding_drift, "recommendation": r.recommendation, "report": r.report,
                 "created": r.created}
                for r in reports_on_target(con, facts.digest)
            ]  # fmt: skip
            facts.audit = latest_audit_status(con, facts.digest)
            data.append(facts)
        waivers = [_waiver(con, w) for w in waivers_of_run(con, mv.run_id)]
        encoders = encoders_of(con, f"{mv.name}/{mv.version}")
        flags, retired = _lifecycle(con, mv.name, str(mv.version))
        promotions = [
            {"id": p.id, "alias": p.alias, "previous": p.previous_version, "who": p.who, "created": p.created,
             "waiver_id": p.waiver_id, **({"request": p.decision["request"]} if "request" in p.decision else {})}
            for p in promotions_of(con, mv.name, str(mv.version))
        ]  # fmt: skip
    return ModelFacts(
        name=mv.name,
        version=str(mv.version),
        run_id=mv.run_id,
        stage=tags.get(tag_keys.STAGE, run.data.tags.get(tag_keys.STAGE, "?")),
        aliases=list(mv.aliases),
        tags=tags,
        metrics=dict(run.data.metrics),
        params=dict(run.data.params),
        created=datetime.fromtimestamp(mv.creation_timestamp / 1000),
        data=data,
        waivers=waivers,
        promotions=promotions,
        weights=weights_status(ws, mv.name, str(mv.version)),
        encoder=_encoder_facts(ws, encoders),
        declared=_declared(ws, mv.name, str(mv.version)),
        flags=flags,
        retired=retired,
    )


def _data_facts(con, node: str, relation: str) -> DataFacts:
    """A version the model used, as the catalog holds it now: possibly retired,
    or deleted since (an erasure's purge, a forced delete), when only its node is left."""
    name, _, digest = node.rpartition("@")
    meta = dataset_row(con, name)
    owner, license_ = (meta.owner, meta.license) if meta else (None, None)
    version_ = find_version(con, node)
    if version_ is None:
        return DataFacts(relation, short_version(node), node, digest, owner, license_, status="deleted")
    return DataFacts(relation, version_.ref, node, version_.digest, owner, license_, status=version_.status)


def _lifecycle(con, name: str, version: str) -> tuple[list[dict], Retirement | None]:
    """The model version's flags (as documents), and its retirement."""
    from dataclasses import asdict

    from datagov.catalog.lifecycle import flags_of, retirements

    flags = [asdict(f) for f in flags_of(con, name, version)]
    return flags, next(reversed(retirements(con, "model", f"{name}/{version}")), None)


def _declared(ws: Workspace, name: str, version: str) -> dict | None:
    """The declaration an imported model was registered with, from the catalog's record of its weights."""
    from datagov.artifacts import find_artifact
    from datagov.errors import DatagovError

    try:
        return find_artifact(ws, "model", f"{name}/{version}").arch.get("declared")
    except DatagovError:
        return None


def _encoder_facts(ws: Workspace, encoders: list[str]) -> ModelFacts | None:
    """The encoder's own record: its pretraining data, receipts, audits and
    waivers are part of what the model was trained on."""
    if not encoders:
        return None
    name, version = encoders[0].rsplit("/", 1)  # a transfer starts from one encoder
    return gather(ws, name, version)


def weights_status(ws: Workspace, name: str, version: str) -> str:
    """ "verified" when the weight file still has the sha256 recorded at registration."""
    from datagov.artifacts import check_artifact, find_artifact
    from datagov.errors import DatagovError

    try:
        check_artifact(find_artifact(ws, "model", f"{name}/{version}"))
    except DatagovError as exc:
        return exc.message
    return "verified"


def facts_document(facts: ModelFacts) -> dict:
    from dataclasses import asdict

    doc = asdict(facts)
    doc["uri"] = facts.uri
    for w, raw in zip(facts.waivers, doc["waivers"], strict=True):
        raw["expired"] = w.expired
    if facts.encoder is not None:
        doc["encoder"] = facts_document(facts.encoder)
    return json.loads(json.dumps(doc, default=str))


def _waiver(con, w) -> Waiver:
    """A waiver as review shows it: with the steward's approval, where a team catalog has one."""
    from datagov.catalog.approvals import APPROVED, WAIVER, approval_of

    a = approval_of(con, WAIVER, w.id)
    approved = a is not None and a.decision == APPROVED
    return Waiver(w.id, w.stage, w.reason, w.who, w.created, w.expires,
                  a.decided_by if approved and a else None, a.reason if approved and a else None)  # fmt: skip
