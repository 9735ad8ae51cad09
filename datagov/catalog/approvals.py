"""The `promotion_requests` and `approvals` tables, and the waivers read as
requests: what waits for a steward, and what a steward decided.

On PostgreSQL the triggers in `catalog/team.py` set who requested and who
decided, and refuse an approval by the requester or by a non-steward; this
module only reads and appends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from datagov.catalog import rows
from datagov.catalog.chain import seal
from datagov.catalog.db import transaction
from datagov.catalog.runs import WAIVER_COLUMNS, WaiverRow
from datagov.catalog.versions import now

if TYPE_CHECKING:
    from datagov.catalog.db import Connection

WAIVER, PROMOTION = "waiver", "promotion"
APPROVED, DENIED = "approved", "denied"


@dataclass(frozen=True)
class PromotionRequest:
    id: str
    model_name: str
    model_version: str
    alias: str
    reason: str
    decision: dict  # what promotion's checks said when it was requested
    requested_by: str
    created: datetime


@dataclass(frozen=True)
class Approval:
    id: str
    request_kind: str  # waiver | promotion
    request_id: str
    decision: str  # approved | denied
    reason: str
    decided_by: str
    created: datetime


@dataclass(frozen=True)
class Request:
    """A waiver or a promotion request, as the approvals queue shows it."""

    kind: str
    id: str
    target: str  # name@digest for a waiver, MODEL/VERSION for a promotion
    stage: str  # the gated stage, or `promote to ALIAS`
    reason: str
    requested_by: str
    created: datetime
    details: list | dict  # the gate's refusal, or promotion's checks
    approval: Approval | None = None

    @property
    def status(self) -> str:
        return self.approval.decision if self.approval else "pending"


REQUEST_COLUMNS = rows.column_list(PromotionRequest)
APPROVAL_COLUMNS = rows.column_list(Approval)


def insert_request(con: Connection, r: PromotionRequest) -> None:
    with transaction(con):
        rows.insert(con, "promotion_requests", r, json_columns=["decision"])
        seal(con, "request", r.id)


def insert_approval(con: Connection, a: Approval) -> None:
    with transaction(con):
        rows.insert(con, "approvals", a)
        seal(con, "approval", a.id)


def approval_of(con: Connection, kind: str, request_id: str) -> Approval | None:
    found = con.execute(
        f"SELECT {APPROVAL_COLUMNS} FROM approvals WHERE request_kind = ? AND request_id = ?", [kind, request_id]
    )
    return rows.read_one(found, Approval)


def request(con: Connection, request_id: str) -> Request | None:
    """The waiver or promotion request with this id, and its decision if any."""
    found = con.execute(f"SELECT {WAIVER_COLUMNS} FROM waivers WHERE id = ?", [request_id])
    if (w := rows.read_one(found, WaiverRow, json_columns=["refused"])) is not None:
        return _waiver_request(con, w)
    found = con.execute(f"SELECT {REQUEST_COLUMNS} FROM promotion_requests WHERE id = ?", [request_id])
    if (p := rows.read_one(found, PromotionRequest, json_columns=["decision"])) is not None:
        return _promotion_request(con, p)
    return None


def requests(con: Connection, *, pending_only: bool = True, limit: int = 100) -> list[Request]:
    """Requests with their decisions, newest first: `pending_only`, those
    waiting for a steward (waivers unused and unexpired); else every one."""
    waiting = "WHERE run_id IS NULL AND (expires IS NULL OR expires > ?)" if pending_only else "WHERE ? IS NOT NULL"
    found = con.execute(f"SELECT {WAIVER_COLUMNS} FROM waivers {waiting} ORDER BY created DESC LIMIT ?", [now(), limit])
    waivers = [_waiver_request(con, w) for w in rows.read(found, WaiverRow, json_columns=["refused"])]
    found = con.execute(f"SELECT {REQUEST_COLUMNS} FROM promotion_requests ORDER BY created DESC LIMIT ?", [limit])
    promos = [_promotion_request(con, p) for p in rows.read(found, PromotionRequest, json_columns=["decision"])]
    every = sorted(waivers + promos, key=lambda r: r.created, reverse=True)
    return [r for r in every if r.approval is None or not pending_only][:limit]


def waiver_requests(con: Connection, target: str, stage: str) -> list[Request]:
    """Unused, unexpired waivers of `stage` on `target`, newest first, with their decisions."""
    found = con.execute(
        f"SELECT {WAIVER_COLUMNS} FROM waivers WHERE target = ? AND stage = ? AND run_id IS NULL "
        "AND (expires IS NULL OR expires > ?) ORDER BY created DESC",
        [target, stage, now()],
    )
    return [_waiver_request(con, w) for w in rows.read(found, WaiverRow, json_columns=["refused"])]


def promotion_requests(con: Connection, model_name: str, version: str, alias: str) -> list[Request]:
    found = con.execute(
        f"SELECT {REQUEST_COLUMNS} FROM promotion_requests WHERE model_name = ? AND model_version = ? AND alias = ? "
        "ORDER BY created DESC",
        [model_name, version, alias],
    )
    return [_promotion_request(con, p) for p in rows.read(found, PromotionRequest, json_columns=["decision"])]


def protected_aliases(con: Connection) -> list[str]:
    return [r[0] for r in con.execute("SELECT alias FROM protected_aliases ORDER BY alias").fetchall()]


def _waiver_request(con: Connection, w: WaiverRow) -> Request:
    return Request(
        WAIVER, w.id, w.target, w.stage, w.reason, w.who, w.created, w.refused, approval_of(con, WAIVER, w.id)
    )


def _promotion_request(con: Connection, p: PromotionRequest) -> Request:
    return Request(
        PROMOTION, p.id, f"{p.model_name}/{p.model_version}", f"promote to {p.alias}", p.reason, p.requested_by,
        p.created, p.decision, approval_of(con, PROMOTION, p.id),
    )  # fmt: skip
