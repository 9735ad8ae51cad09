"""The documents `--json` prints and the web desk's API serves: one builder
each, so the terminal and the browser cannot disagree about what the
catalog says. Each is plain JSON-ready data (dates as ISO strings)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from datagov.catalog.db import Connection, open_catalog
from datagov.workspace import Workspace


def plain(value: Any) -> Any:
    """Dates as ISO 8601 text, containers walked: what `json.dumps` accepts."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    return value


def datasets_document(ws: Workspace, *, include_retired: bool = False) -> list[dict]:
    """`datasets list --json`: each dataset, its newest version and that version's health."""
    from datagov.catalog.versions import list_datasets

    with open_catalog(ws) as con:
        found = list_datasets(con, include_retired=include_retired)
        latest = [f"{d.name}@{d.latest}" for d in found if d.latest]
        health = _health(con, latest)
    return [plain({**asdict(d), "health": health.get(f"{d.name}@{d.latest}", _no_health())}) for d in found]


def _no_health() -> dict[str, Any]:
    return {"status": None, "receipts": [], "audit": None}


def _health(con: Connection, nodes: list[str]) -> dict[str, dict]:
    """Per version node: its status, the newest receipt of each suite, the newest finished audit's verdict."""
    if not nodes:
        return {}
    marks = ", ".join("?" * len(nodes))
    out = {n: _no_health() for n in nodes}
    for node, status in con.execute(
        f"SELECT dataset || '@' || digest, status FROM versions WHERE dataset || '@' || digest IN ({marks})", nodes
    ).fetchall():
        out[node]["status"] = status
    receipts = con.execute(
        f"""SELECT node, suite, kind, status, id FROM (
              SELECT dataset || '@' || digest AS node, suite, kind, status, id,
                     row_number() OVER (PARTITION BY dataset, digest, suite ORDER BY started DESC, id) AS newest
              FROM receipts WHERE dataset || '@' || digest IN ({marks})
                AND id NOT IN (SELECT target FROM retirements WHERE kind = 'receipt')
            ) AS ranked WHERE newest = 1 ORDER BY node, suite""",
        nodes,
    ).fetchall()
    for node, suite, kind, status, receipt_id in receipts:
        out[node]["receipts"].append({"suite": suite, "kind": kind, "status": status, "id": receipt_id})
    audits = con.execute(
        f"""SELECT node, status, audit_id FROM (
              SELECT r.version AS node, r.status, r.audit_id,
                     row_number() OVER (PARTITION BY r.version ORDER BY a.started DESC) AS newest
              FROM audit_results r JOIN audits a ON a.id = r.audit_id
              WHERE r.version IN ({marks}) AND a.status IN ('passed', 'failed')
            ) AS ranked WHERE newest = 1""",
        nodes,
    ).fetchall()
    for node, status, audit_id in audits:
        out[node]["audit"] = {"status": status, "id": audit_id}
    return out


def version_document(ws: Workspace, ref: str) -> dict:
    """`datasets show --json`: a version with its files, rejects, receipts,
    drift reports, lineage, the versions derived from it and the models it fed."""
    from datagov.catalog.drift_reports import reports_on_target
    from datagov.catalog.lifecycle import retired_targets, retirements
    from datagov.catalog.lineage import child_versions, models_fed_by
    from datagov.catalog.locations import file_entries
    from datagov.catalog.receipts import list_receipts
    from datagov.catalog.versions import dataset_of, rejects_of, resolve
    from datagov.lineage import graph_around, label

    with open_catalog(ws) as con:
        v = resolve(con, ref)
        graph = graph_around(con, ("version", v.node_id))
        retired_receipts = retired_targets(con, "receipt")
        receipts = list_receipts(con, dataset=v.dataset, digest=v.digest, include_retired=True)
        doc = {
            "dataset": asdict(dataset_of(con, v)),
            "version": asdict(v),
            "files": [asdict(f) for f in file_entries(con, v.digest)],
            "rejects": [asdict(r) for r in rejects_of(con, v.dataset, v.digest)],
            "upstream": [{"relation": e.relation, "node": label(e.src)} for e in graph.parents(graph.focus)],
            "receipts": [_receipt_line(r, r.id in retired_receipts) for r in receipts],
            "drift_reports": [_drift_line(d) for d in reports_on_target(con, v.digest)],
            "children": child_versions(con, v.node_id),
            "models": sorted(models_fed_by(con, [v.node_id])),
            "lineage": [{"from": list(e.src), "to": list(e.dst), "relation": e.relation} for e in graph.edges],
            "retirements": [asdict(r) for r in retirements(con, "version", v.node_id)],
        }
    return plain(doc)


def _receipt_line(r, retired: bool) -> dict:
    return {
        "id": r.id, "suite": r.suite, "kind": r.kind, "status": r.status, "evaluated": r.evaluated,
        "successful": r.successful, "started": r.started, "created_by": r.created_by,
        "reference_digest": r.reference_digest, "retired": retired,
    }  # fmt: skip


def _drift_line(d) -> dict:
    return {
        "id": d.id, "reference": d.reference, "drift": d.drift, "share": d.share, "mode": d.mode,
        "embedding_drift": d.embedding_drift, "recommendation": d.recommendation, "created": d.created,
    }  # fmt: skip


def receipt_document(ws: Workspace, receipt_id: str) -> dict:
    """One receipt whole: every expectation's result, as GX returned it; for
    a contamination check, the version it compared against (`reference`)."""
    from datagov.catalog.lifecycle import retired_targets
    from datagov.catalog.lineage import contamination_references
    from datagov.catalog.receipts import receipt_by_id
    from datagov.errors import NotFound

    with open_catalog(ws) as con:
        found = receipt_by_id(con, receipt_id)
        if found is None:
            raise NotFound(f"no receipt {receipt_id!r}", hint="see `datagov validations list`")
        retired = found.id in retired_targets(con, "receipt")
        reference = contamination_references(con, [found.id]).get(found.id)
    return plain({**asdict(found), "retired": retired, "reference": reference})


def approvals_document(ws: Workspace, *, show_all: bool = False) -> list[dict]:
    """`approvals list --json`: requests, newest first, with their status."""
    from datagov.approvals import requests

    return plain([{**asdict(r), "status": r.status} for r in requests(ws, pending_only=not show_all)])


def models_document(ws: Workspace, name: str | None = None) -> list[dict]:
    """`models list --json`: every registered version, newest first per model."""
    from datagov import tags
    from datagov.errors import NotFound
    from datagov.tracking import registry_client, require_registry_matches, store_exists

    if not store_exists(ws):  # nothing was ever registered here (or the store was lost, which the check names)
        require_registry_matches(ws)
        if name:
            raise NotFound(f"unknown model {name!r}", hint="see `datagov models list`")
        return []
    c = registry_client(ws)
    registered = {m.name: m for m in c.search_registered_models() if name is None or m.name == name}
    if name and not registered:
        raise NotFound(f"unknown model {name!r}", hint="see `datagov models list`")
    rows = []
    for model in sorted(registered):
        aliases = registered[model].aliases or {}  # search results leave ModelVersion.aliases empty
        for mv in sorted(c.search_model_versions(f"name = '{model}'"), key=lambda v: -int(v.version)):
            found = dict(mv.tags)
            rows.append({
                "model": model, "version": str(mv.version),
                "aliases": sorted(a for a, v in aliases.items() if str(v) == str(mv.version)),
                "stage": found.get(tags.STAGE, "-"), "dataset": found.get(tags.DATASET, "-"),
                "audit": found.get(tags.AUDIT, "-"), "run_id": mv.run_id,
            })  # fmt: skip
    return rows


def review_document(ws: Workspace, name: str, version: str | None = None) -> dict:
    """`models review --json`: everything the review shows, and whether promotion would pass."""
    from datagov.review.facts import gather
    from datagov.review.promote import promotion_reasons

    facts = gather(ws, name, version)
    return review_of(facts, promotion_reasons(facts))


def review_of(facts, reasons: list) -> dict:
    from datagov.review.facts import facts_document

    refusals = [r.message for r in reasons]
    return plain({**facts_document(facts), "promotable": not reasons, "promotion_refusals": refusals})


def erasures_document(ws: Workspace) -> list[dict]:
    """`erasures list --json`: newest first."""
    from datagov.catalog.lifecycle import erasures

    with open_catalog(ws) as con:
        return plain([{**asdict(e), "status": e.status} for e in erasures(con)])


def erasure_document(ws: Workspace, erasure_id: str) -> dict:
    """`erasures show ID --json`: the request, the versions rewritten, the models flagged, the purge's proof."""
    from datagov.catalog.lifecycle import erasure
    from datagov.errors import NotFound

    with open_catalog(ws) as con:
        e = erasure(con, erasure_id)
    if e is None:
        raise NotFound(f"no erasure {erasure_id!r}", hint="see `datagov erasures list`")
    return plain({**asdict(e), "status": e.status})


def audit_document(ws: Workspace, audit_id: str) -> dict:
    """One audit with its verdict and findings on each version it covered."""
    from datagov.catalog.audits import audit_by_id, results_of
    from datagov.errors import NotFound

    with open_catalog(ws) as con:
        found = audit_by_id(con, audit_id)
        if found is None:
            raise NotFound(f"no audit {audit_id!r}", hint="see `datagov audit history`")
        results = [{k: v for k, v in asdict(r).items() if k != "profile"} for r in results_of(con, audit_id)]
    return plain({**asdict(found), "results": results})


def drift_document(ws: Workspace, report_id: str) -> dict:
    """One `datagov shift` report's verdict and summary, as the catalog recorded it."""
    from datagov.catalog.drift_reports import report_by_id
    from datagov.errors import NotFound

    with open_catalog(ws) as con:
        found = report_by_id(con, report_id)
    if found is None:
        raise NotFound(f"no drift report {report_id!r}", hint="see the version's page for its reports")
    return plain(asdict(found))


def audits_document(ws: Workspace, limit: int = 20) -> list[dict]:
    """`audit history --json`: past audits, newest first."""
    from datagov.audit.run import history

    return plain(history(ws, limit))
