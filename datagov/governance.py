"""Governance records beside the gate: how a refusal reads, the gate
decision as stored and logged, and waivers (the only way past a refusal).
Training stages and promotion both use these, so promotion never imports
training."""

from __future__ import annotations

import dataclasses
import getpass
import secrets
from datetime import timedelta

from datagov.catalog import runs
from datagov.catalog.db import open_catalog
from datagov.catalog.runs import WaiverRow
from datagov.catalog.versions import now
from datagov.errors import GateRefused, IntegrityError
from datagov.gate import GateDecision
from datagov.workspace import Workspace


def refuse(decision: GateDecision) -> GateRefused:
    lines = [f"{r.message}" + (f"\n      fix: {r.fix}" if r.fix else "") for r in decision.reasons]
    return GateRefused(
        f"gate refused {decision.stage} on {decision.version_ref}: {len(decision.reasons)} problem(s)",
        hint="\n    ".join(["", *lines]) + "\n  or pass --waive REASON to run anyway (recorded)",
    )


# Reasons no waiver can excuse: a waiver stands in for a missing or failed
# check, never for bytes that are not the bytes the digest names.
UNWAIVABLE = ("data-changed", "weights-changed")


def enforce(decision: GateDecision, waive: str | None) -> None:
    """Raise unless the decision allows the stage or a waiver excuses every reason."""
    changed = [r for r in decision.reasons if r.code in UNWAIVABLE]
    if changed:
        raise IntegrityError(
            f"{decision.stage} refused on {decision.version_ref}: " + "; ".join(r.message for r in changed),
            hint="a waiver never makes changed bytes count; " + "; ".join(f"fix: {r.fix}" for r in changed if r.fix),
        )
    if not decision.allowed and not waive:
        raise refuse(decision)


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
    waiver = WaiverRow(
        waiver_id, target, stage, reason, getpass.getuser(), refused, at, at + timedelta(days=ws.waiver_days), None
    )
    with open_catalog(ws, write=True) as con:
        runs.insert_waiver(con, waiver)
    return waiver_id
