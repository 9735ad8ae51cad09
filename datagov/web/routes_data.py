"""Datasets, versions, receipts and images: the data side of the desk."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import RedirectResponse, Response

from datagov import documents
from datagov.web.app import kept, workspace_for
from datagov.web.render import SECURITY_HEADERS, page
from datagov.workspace import Workspace

router = APIRouter()


def name_param():  # a new one per use: FastAPI binds a parameter to its name
    return Path(min_length=1, max_length=200)


def digest_param():  # a new one per use: FastAPI binds a parameter to its name
    return Path(pattern="^[0-9a-f]{64}$", description="the version's whole sha256 digest")


def row_param():  # a new one per use: FastAPI binds a parameter to its name
    return Path(ge=0, le=2**40)


SHOWN_FILES = 50  # a version of 10,000 shards lists its first files on the page; the API has them all


def _matches(d: dict, query: str) -> bool:
    words = [d["name"], d["owner"] or "", d["license"] or "", *(f"{k}={v}" for k, v in d["tags"].items())]
    return query.lower() in " ".join(words).lower()


@router.get("/api/datasets", tags=["data"])
def api_datasets(request: Request, all: bool = False, ws: Workspace = Depends(workspace_for)) -> list[dict]:
    """`datagov datasets list --json [--all]`: each dataset, its newest version and that version's health."""
    return _datasets(request, ws, all)


def _datasets(request: Request, ws: Workspace, include_retired: bool) -> list[dict]:
    build = lambda: documents.datasets_document(ws, include_retired=include_retired)  # noqa: E731
    return kept(request, ws, ("datasets", include_retired), build)


@router.get("/datasets", include_in_schema=False)
def datasets_page(request: Request, q: str = "", all: bool = False,
                  ws: Workspace = Depends(workspace_for)) -> Response:  # fmt: skip
    found = _datasets(request, ws, all)
    shown = [d for d in found if _matches(d, q)] if q.strip() else found
    return page(request, "datasets.html", datasets=shown, total=len(found), q=q, all=all)


@router.get("/datasets/{name}", include_in_schema=False)
def dataset_newest(name: str = name_param(), ws: Workspace = Depends(workspace_for)) -> Response:
    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import resolve

    with open_catalog(ws) as con:
        v = resolve(con, name)
    return RedirectResponse(f"/datasets/{_q(v.dataset)}/{v.digest}", status_code=303, headers=SECURITY_HEADERS)


@router.get("/api/datasets/{name}/{digest}", tags=["data"])
def api_version(
    request: Request, name: str = name_param(), digest: str = digest_param(), ws: Workspace = Depends(workspace_for)
) -> dict:
    """`datagov datasets show NAME@DIGEST --json`: files, rejects, receipts, drift, lineage, children, models."""
    return _version(request, ws, f"{name}@{digest}")


def _version(request: Request, ws: Workspace, ref: str) -> dict:
    return kept(request, ws, ("version", ref), lambda: documents.version_document(ws, ref))


@router.get("/datasets/{name}/{digest}", include_in_schema=False)
def version_page(request: Request, name: str = name_param(), digest: str = digest_param(),
                 ws: Workspace = Depends(workspace_for)) -> Response:  # fmt: skip
    from datagov.lineage import Edge, Graph
    from datagov.web import svg

    doc = _version(request, ws, f"{name}@{digest}")
    v = doc["version"]
    node = f"{v['dataset']}@{v['digest']}"
    graph = Graph(("version", node), [Edge(tuple(e["from"]), tuple(e["to"]), e["relation"], {})
                                      for e in doc["lineage"]])  # fmt: skip
    return page(request, "version.html", doc=doc, v=v, node=node, lineage_svg=svg.render(graph),
                shown_files=SHOWN_FILES)  # fmt: skip


@router.get("/datasets/{name}/{digest}/rows/{row}.png", include_in_schema=False)
def row_image(
    name: str = name_param(),
    digest: str = digest_param(),
    row: int = row_param(),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    from datagov.web.images import row_png

    return Response(row_png(ws, name, digest, row), media_type="image/png", headers=SECURITY_HEADERS)


@router.get("/api/receipts/{receipt_id}", tags=["data"])
def api_receipt(
    request: Request, receipt_id: str = Path(max_length=200), ws: Workspace = Depends(workspace_for)
) -> dict:
    """One receipt whole: each expectation's result; a near-duplicate check's pairs and reference."""
    return _receipt(request, ws, receipt_id)


def _receipt(request: Request, ws: Workspace, receipt_id: str) -> dict:
    return kept(request, ws, ("receipt", receipt_id), lambda: documents.receipt_document(ws, receipt_id))


@router.get("/receipts/{receipt_id}", include_in_schema=False)
def receipt_page(request: Request, receipt_id: str = Path(max_length=200),
                 ws: Workspace = Depends(workspace_for)) -> Response:  # fmt: skip
    doc = _receipt(request, ws, receipt_id)
    target = f"{doc['dataset']}@{doc['digest']}"
    reference = doc["reference"] or target  # a dedup compares a version with itself
    columns = kept(request, ws, ("columns", target), lambda: _columns(ws, target))
    return page(request, "receipt.html", r=doc, target=target, reference=reference, images="image" in columns)


def _columns(ws: Workspace, node: str) -> list[str]:
    """The version's columns; none once it was deleted (its receipt outlives it)."""
    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import resolve
    from datagov.errors import NotFound

    with open_catalog(ws) as con:
        try:
            return resolve(con, node).columns
        except NotFound:
            return []


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@router.get("/api/drift/{report_id}", tags=["data"])
def api_drift(request: Request, report_id: str = Path(max_length=200), ws: Workspace = Depends(workspace_for)) -> dict:
    """One `datagov shift` report: reference, target, verdict, columns drifting, recommendation."""
    return _drift(request, ws, report_id)


def _drift(request: Request, ws: Workspace, report_id: str) -> dict:
    return kept(request, ws, ("drift", report_id), lambda: documents.drift_document(ws, report_id))


@router.get("/drift/{report_id}", include_in_schema=False)
def drift_page(request: Request, report_id: str = Path(max_length=200),
               ws: Workspace = Depends(workspace_for)) -> Response:  # fmt: skip
    return page(request, "drift.html", d=_drift(request, ws, report_id))
