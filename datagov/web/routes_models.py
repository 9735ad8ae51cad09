"""Registered models: the list, a version's review (what `models review`
shows), its model card and a diff against another version."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from datagov import documents
from datagov.catalog.db import open_catalog
from datagov.web.app import workspace_for
from datagov.web.render import page
from datagov.workspace import Workspace

router = APIRouter()


def model_param():  # a new one per use: FastAPI binds a parameter to its name
    return Path(min_length=1, max_length=256)


def version_param():  # a new one per use: FastAPI binds a parameter to its name
    return Path(pattern="^[0-9]{1,9}$", description="the registered version number")


@router.get("/api/models", tags=["models"])
def api_models(name: str | None = None, ws: Workspace = Depends(workspace_for)) -> list[dict]:
    """`datagov models list [NAME] --json`: every registered version, newest first per model."""
    return documents.models_document(ws, name)


@router.get("/models", include_in_schema=False)
def models_page(request: Request, ws: Workspace = Depends(workspace_for)) -> Response:
    return page(request, "models.html", models=documents.models_document(ws))


@router.get("/api/models/{name}/{version}", tags=["models"])
def api_model(
    name: str = model_param(), version: str = version_param(), ws: Workspace = Depends(workspace_for)
) -> dict:
    """`datagov models review NAME VERSION --json`: training content, receipts then and now, waivers
    and approvals, audits, weights, and whether promotion would pass."""
    with open_catalog(ws):  # one connection for the whole review (nested opens reuse it)
        return documents.review_document(ws, name, version)


@router.get("/api/models/{name}/{version}/card", tags=["models"])
def api_card(name: str = model_param(), version: str = version_param(), ws: Workspace = Depends(workspace_for)) -> dict:
    """`datagov models card NAME VERSION --format json`."""
    from datagov.review.card import build_card, card_json

    with open_catalog(ws):
        return card_json(build_card(ws, name, version))


@router.get("/api/models/{name}/{version}/diff/{other}", tags=["models"])
def api_diff(name: str = model_param(), version: str = version_param(), other: str = version_param(),
             ws: Workspace = Depends(workspace_for)) -> dict:  # fmt: skip
    """`datagov models diff NAME OTHER VERSION --json`: what changed from OTHER to VERSION."""
    from datagov.review.diff import diff_versions

    with open_catalog(ws):
        return documents.plain(diff_versions(ws, name, other, version).to_json())


@router.get("/models/{name}/{version}", include_in_schema=False)
def model_page(request: Request, name: str = model_param(), version: str = version_param(), against: str | None = None,
               ws: Workspace = Depends(workspace_for)) -> Response:  # fmt: skip
    from datagov.review.card import card_of, render_markdown
    from datagov.review.diff import check_pair, diff_facts
    from datagov.review.facts import gather
    from datagov.review.promote import promotion_reasons

    if against is not None and not against.isdigit():
        from datagov.errors import InvalidInput

        raise InvalidInput(f"compare with a version number, not {against!r}")
    if against:
        check_pair(name, against, version)
    with open_catalog(ws):  # one connection for the review, the card and the diff
        facts = gather(ws, name, version)
        doc = documents.review_of(facts, promotion_reasons(facts))
        card = render_markdown(card_of(ws, facts))
        diff = documents.plain(diff_facts(gather(ws, name, against), facts).to_json()) if against else None
    return page(request, "model.html", m=doc, card=card, diff=diff, against=against)
