"""Governance records beside the gate: how a refusal reads, the gate
decision as stored and logged, and waivers (the only way past a refusal).
Training stages and promotion both use these, so promotion never imports
training."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from datetime import timedelta

from datagov.catalog import approvals, runs, team
from datagov.catalog.db import open_catalog
from datagov.catalog.runs import WaiverRow
from datagov.catalog.versions import now
from datagov.errors import GateRefused, IntegrityError
from datagov.gate import GateDecision
from datagov.workspace import Workspace


def refuse(decision: GateDecision, *, requests: bool = False) -> GateRefused:
    """The refusal as one `Error:` line and its fixes; `requests`: on a team
    catalog, where --waive asks a steward instead of running at once."""
    lines = [f"{r.message}" + (f"\n      fix: {r.fix}" if r.fix else "") for r in decision.reasons]
    way_past = (
        "or pass --waive REASON to request a waiver (a steward other than you approves it)"
        if requests
        else "or pass --waive REASON to run anyway (recorded)"
    )
    return GateRefused(
        f"gate refused {decision.stage} on {decision.version_ref}: {len(decision.reasons)} problem(s)",
        hint="\n    ".join(["", *lines]) + "\n  " + way_past,
    )


# Reasons no waiver can excuse: a waiver stands in for a missing or failed
# check, never for bytes that are not the bytes the digest names.
UNWAIVABLE = ("data-changed", "weights-changed")


def enforce(decision: GateDecision, waive: str | None) -> None:
    """Raise unless the decision allows the stage or a waiver excuses every reason."""
    refuse_unwaivable(decision)
    if not decision.allowed and not waive:
        raise refuse(decision)


# Retired things are out of use by decision, not by a failed check: no waiver brings them back.
RETIRED = ("retired", "suite-retired", "model-retired")


def refuse_unwaivable(decision: GateDecision) -> None:
    retired = [r for r in decision.reasons if r.code in RETIRED]
    if retired:
        raise GateRefused(
            f"{decision.stage} refused on {decision.version_ref}: " + "; ".join(r.message for r in retired),
            hint="a waiver does not bring back what was retired; "
            + "; ".join(f"fix: {r.fix}" for r in retired if r.fix),
        )
    changed = [r for r in decision.reasons if r.code in UNWAIVABLE]
    if changed:
        raise IntegrityError(
            f"{decision.stage} refused on {decision.version_ref}: " + "; ".join(r.message for r in changed),
            hint="a waiver never makes changed bytes count; " + "; ".join(f"fix: {r.fix}" for r in changed if r.fix),
        )


def alias_for(decision: GateDecision, spec) -> str | None:
    """The alias a new model version may take: `latest-validated` (or the
    spec's) only when the gate opened without a waiver."""
    return spec.register.alias if decision.allowed else None


def gate_document(decision: GateDecision, waiver_id: str | None, waive: str | None) -> dict:
    """The gate decision as logged (MLflow artifact) and stored (runs.gate)."""
    return {
        "allowed": decision.allowed,
        "reasons": [dataclasses.asdict(r) for r in decision.reasons],
        "receipts": decision.receipt_ids,
        "waiver": waiver_id,
        "waiver_reason": waive,
    }


def record_waiver(ws: Workspace, target: str, stage: str, reason: str, decision: GateDecision) -> str:
    waiver_id = f"w-{secrets.token_hex(6)}"
    at = now()
    refused = [dataclasses.asdict(r) for r in decision.reasons]
    with open_catalog(ws, write=True) as con:
        waiver = WaiverRow(
            waiver_id, target, stage, reason, team.who(con), refused, at, at + timedelta(days=ws.waiver_days), None
        )
        runs.insert_waiver(con, waiver)
    return waiver_id


# --- four eyes: on a team catalog a waiver is a request a steward approves

NOT_APPROVED = "not approved by a second person"


def four_eyes(ws: Workspace) -> bool:
    """Whether waivers and protected promotions wait for a second person:
    on PostgreSQL, where the database knows who is who."""
    return bool(ws.catalog_url)


def approved_waiver(ws: Workspace, decision: GateDecision, target: str, waive: str | None) -> approvals.Request | None:
    """On a team catalog, the approved waiver a refused stage runs under;
    otherwise refuses, recording `--waive` as a request.
    On the DuckDB file: None (the waiver is recorded when the run starts)."""
    if decision.allowed or not four_eyes(ws):
        return None
    refuse_unwaivable(decision)
    with open_catalog(ws) as con:
        found = approvals.waiver_requests(con, target, decision.stage)

    def ask() -> approvals.Request | None:
        waiver_id = record_waiver(ws, target, decision.stage, str(waive), decision)
        with open_catalog(ws) as con:
            return approvals.request(con, waiver_id)

    return approved_or_refused(found, decision, f"{decision.stage} on {decision.version_ref}",
                               ask if waive is not None else None)  # fmt: skip


def approved_or_refused(
    found: list[approvals.Request],
    decision: GateDecision,
    what: str,
    ask: Callable[[], approvals.Request | None] | None,
) -> approvals.Request:
    """The approved request among `found`; else refuses (exit 4), naming the
    request that waits for a steward: one of `found`, or the one `ask` records."""
    for r in found:
        if r.approval is not None and r.approval.decision == approvals.APPROVED:
            return r
    waiting = next((r for r in found if r.approval is None), None)
    if waiting is None and ask is not None:
        waiting = ask()
    if waiting is None:
        refused = refuse(decision, requests=True)
        if denied := next((r for r in found if r.approval and r.approval.decision == approvals.DENIED), None):
            a = denied.approval
            assert a is not None
            refused.hint = f"{refused.hint}\n  the last request, {denied.id}, was denied by {a.decided_by}: {a.reason}"
        raise refused
    raise GateRefused(
        f"{what} waits for a steward: {waiting.kind} {waiting.id} requested by {waiting.requested_by} "
        f"({waiting.reason})",
        hint=f"a datagov_steward other than {waiting.requested_by} runs: datagov approvals approve {waiting.id} "
        "--reason WHY; then run this command again",
    )
