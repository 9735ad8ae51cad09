"""The approvals queue: what waits for a steward, and a steward's decision.

Only a team catalog (PostgreSQL) has one: there the database says who is
asking and who decides, and refuses a decision by the requester or by a role
that is not `datagov_steward` (`catalog/team.py`). On the DuckDB file a
waiver takes effect at once and is marked "not approved by a second person".
"""

from __future__ import annotations

import secrets

from datagov.catalog import approvals, team
from datagov.catalog.approvals import Approval, Request
from datagov.catalog.db import open_catalog
from datagov.catalog.versions import now
from datagov.errors import InvalidInput, NotFound
from datagov.governance import NOT_APPROVED, four_eyes
from datagov.workspace import Workspace

__all__ = ["NOT_APPROVED", "decide", "requests"]


def requests(ws: Workspace, *, pending_only: bool = True) -> list[Request]:
    with open_catalog(ws) as con:
        return approvals.requests(con, pending_only=pending_only)


def decide(ws: Workspace, request_id: str, decision: str, reason: str) -> tuple[Request, Approval]:
    """Approve or deny a request as the connected database role."""
    if not reason.strip():
        raise InvalidInput("--reason must say why")
    if not four_eyes(ws):
        raise InvalidInput(
            "this workspace's catalog is the DuckDB file, where nobody but you signs in: waivers take effect at "
            "once, marked 'not approved by a second person'",
            hint="approvals need a team catalog on PostgreSQL; see 'Team set-up' in the README",
        )
    with open_catalog(ws, write=True) as con:
        found = approvals.request(con, request_id)
        if found is None:
            raise NotFound(f"no waiver or promotion request {request_id!r}", hint="see `datagov approvals list`")
        if found.approval is not None:
            a = found.approval
            raise InvalidInput(f"{found.kind} {request_id} was already {a.decision} by {a.decided_by}: {a.reason}")
        approval = Approval(f"a-{secrets.token_hex(6)}", found.kind, found.id, decision, reason, team.who(con), now())
        approvals.insert_approval(con, approval)
        return found, approvals.approval_of(con, found.kind, found.id) or approval
