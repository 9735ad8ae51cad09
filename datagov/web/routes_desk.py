"""The steward's desk: approvals (and the decision), audits, erasures."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Form, Path, Request
from pydantic import BaseModel, Field
from starlette.responses import RedirectResponse, Response

from datagov import documents
from datagov.web.app import check_csrf, desk_of, kept, workspace_for
from datagov.web.render import SECURITY_HEADERS, page
from datagov.workspace import Workspace

router = APIRouter()


def request_id_param():  # a new one per use: FastAPI binds a parameter to its name
    return Path(min_length=1, max_length=100)


Decision = Literal["approved", "denied"]


@router.get("/api/approvals", tags=["desk"])
def api_approvals(request: Request, all: bool = False, ws: Workspace = Depends(workspace_for)) -> list[dict]:
    """`datagov approvals list --json [--all]`: waivers and promotions waiting for a steward (or decided)."""
    return kept(request, ws, ("approvals", all), lambda: documents.approvals_document(ws, show_all=all))


@router.get("/approvals", include_in_schema=False)
def approvals_page(request: Request, ws: Workspace = Depends(workspace_for)) -> Response:
    found = kept(request, ws, ("approvals", True), lambda: documents.approvals_document(ws, show_all=True))
    pending = [r for r in found if r["status"] == "pending"]
    decided = [r for r in found if r["status"] != "pending"]
    return page(request, "approvals.html", pending=pending, decided=decided, team=desk_of(request).team)


class DecisionBody(BaseModel):
    decision: Decision
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/api/approvals/{request_id}", tags=["desk"], dependencies=[Depends(check_csrf)])
def api_decide(
    body: DecisionBody, request_id: str = request_id_param(), ws: Workspace = Depends(workspace_for)
) -> dict:
    """`datagov approvals approve|deny ID --reason …`, as your database role: the database refuses
    a decision by the requester or by anyone who is not a steward."""
    return _decide(ws, request_id, body.decision, body.reason)


@router.post("/approvals/{request_id}", include_in_schema=False, dependencies=[Depends(check_csrf)])
def decide_form(request_id: str = request_id_param(), decision: Decision = Form(...), reason: str = Form(""),
                ws: Workspace = Depends(workspace_for)) -> Response:  # fmt: skip
    _decide(ws, request_id, decision, reason)
    return RedirectResponse(f"/approvals#{request_id}", status_code=303, headers=SECURITY_HEADERS)


def _decide(ws: Workspace, request_id: str, decision: str, reason: str) -> dict:
    from datagov.approvals import decide

    found, approval = decide(ws, request_id, decision, reason)
    return documents.plain({"request": found.id, "kind": found.kind, "target": found.target,
                            "decision": approval.decision, "decided_by": approval.decided_by,
                            "reason": approval.reason, "created": approval.created})  # fmt: skip


@router.get("/api/audits", tags=["desk"])
def api_audits(request: Request, limit: int = 20, ws: Workspace = Depends(workspace_for)) -> list[dict]:
    """`datagov audit history --json --limit N`: past audits, newest first."""
    from datagov.errors import InvalidInput

    if not 1 <= limit <= 1000:
        raise InvalidInput("limit is 1 to 1000")
    return kept(request, ws, ("audits", limit), lambda: documents.audits_document(ws, limit))


@router.get("/audits", include_in_schema=False)
def audits_page(request: Request, ws: Workspace = Depends(workspace_for)) -> Response:
    return page(request, "audits.html", audits=documents.audits_document(ws, 50))


@router.get("/api/audits/{audit_id}", tags=["desk"])
def api_audit(request: Request, audit_id: str = request_id_param(), ws: Workspace = Depends(workspace_for)) -> dict:
    """One audit: its verdict and findings on each version it covered."""
    return _audit(request, ws, audit_id)


def _audit(request: Request, ws: Workspace, audit_id: str) -> dict:
    return kept(request, ws, ("audit", audit_id), lambda: documents.audit_document(ws, audit_id))


@router.get("/audits/{audit_id}", include_in_schema=False)
def audit_page(
    request: Request, audit_id: str = request_id_param(), ws: Workspace = Depends(workspace_for)
) -> Response:
    return page(request, "audit.html", a=_audit(request, ws, audit_id))


@router.get("/api/erasures", tags=["desk"])
def api_erasures(ws: Workspace = Depends(workspace_for)) -> list[dict]:
    """`datagov erasures list --json`: erasures, newest first."""
    return documents.erasures_document(ws)


@router.get("/api/erasures/{erasure_id}", tags=["desk"])
def api_erasure(erasure_id: str = request_id_param(), ws: Workspace = Depends(workspace_for)) -> dict:
    """`datagov erasures show ID --json`: the request, versions rewritten, models flagged, purge proof."""
    return documents.erasure_document(ws, erasure_id)


@router.get("/erasures", include_in_schema=False)
def erasures_page(request: Request, ws: Workspace = Depends(workspace_for)) -> Response:
    return page(request, "erasures.html", erasures=documents.erasures_document(ws))


@router.get("/erasures/{erasure_id}", include_in_schema=False)
def erasure_page(
    request: Request, erasure_id: str = request_id_param(), ws: Workspace = Depends(workspace_for)
) -> Response:
    return page(request, "erasure.html", e=documents.erasure_document(ws, erasure_id))
