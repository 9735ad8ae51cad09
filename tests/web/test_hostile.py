"""Hostile input on the desk (a table, like the CLI's corpus): text an
attacker put in a description, an owner, a tag, a file name, a rejected
file's name or a suite's arguments is shown escaped wherever it appears;
no route reads outside the workspace, however the path is spelt; a file
swapped in the store is refused, not served."""

from __future__ import annotations

import shutil

import pytest
from markupsafe import escape

from tests.web.conftest import HOSTILE, TOKEN

# (payload, where it was put, the page that shows it)
PLACES = [
    (HOSTILE[0], "owner", "/datasets"),
    (HOSTILE[0], "owner", "VERSION"),
    (HOSTILE[1], "description", "VERSION"),
    (HOSTILE[2], "tag", "VERSION"),
    (HOSTILE[3], "rejected file's name", "VERSION"),
    (HOSTILE[0], "file name of a near-copy", "NEAR"),
    (HOSTILE[1], "file name of a near-copy", "NEAR"),
    *[(h, "suite argument", "SUITE") for h in HOSTILE],
]


def resolve_page(browser, page: str) -> str:
    health = {d["name"]: d for d in browser.get("/api/datasets").json()}["pics"]
    receipts = {r["suite"]: r["id"] for r in health["health"]["receipts"]}
    return {
        "VERSION": f"/datasets/pics/{health['latest']}",
        "NEAR": f"/receipts/{receipts['near-image']}",
        "SUITE": f"/receipts/{receipts['pics-quality']}",
    }.get(page, page)


@pytest.mark.parametrize("payload, where, page", PLACES, ids=[f"{w}:{p}:{i}" for i, (_, w, p) in enumerate(PLACES)])
def test_hostile_text_is_shown_escaped(browser, payload, where, page):
    html = browser.get(resolve_page(browser, page)).text
    shown = str(escape(payload)).replace("/", "∕") if where.startswith("file name") else str(escape(payload))
    if where.startswith("file name"):
        payload = payload.replace("/", "∕")  # how it was written to disk
    assert shown in html, f"the {where} is not on {page}"
    if any(c in payload for c in "<>'\""):
        assert payload not in html, f"the {where} reached {page} unescaped"


def test_template_syntax_in_data_is_text_not_code(browser):
    html = browser.get(resolve_page(browser, "SUITE")).text
    assert "{{7*7}}" in html and "{% raw %}" in html


def test_the_api_returns_the_text_as_data(browser):
    listed = browser.get("/api/datasets")
    assert listed.headers["content-type"] == "application/json"
    assert listed.json()[0]["owner"] == HOSTILE[0]


@pytest.mark.parametrize(
    "path",
    [
        "/datasets/pics/..%2F..%2F..%2Fetc%2Fpasswd/rows/0.png",
        "/datasets/..%2F..%2Fetc/0000000000000000000000000000000000000000000000000000000000000000/rows/0.png",
        "/datasets/%2e%2e/%2e%2e/rows/0.png",
        "/static/..%2F..%2Fauth.py",
        "/static/%2e%2e/app.py",
        "/receipts/..%2F..%2Fcatalog%2Fcatalog.duckdb",
        "/api/receipts/..%2F..%2F..%2Fetc%2Fpasswd",
        "/erasures/%2e%2e%2f%2e%2e%2fdatagov.toml",
        "/datasets/pics/DIGEST/rows/-1.png",
        "/datasets/pics/DIGEST/rows/1000000.png",
        "/datasets/pics/DIGEST/rows/0.png%00.html",
    ],
)
def test_no_route_reads_outside_the_workspace(browser, path):
    digest = browser.get("/api/datasets").json()[0]["latest"]
    response = browser.get(path.replace("DIGEST", digest))
    assert response.status_code in (404, 422), (path, response.status_code)
    assert "root:" not in response.text and "[catalog]" not in response.text and "import " not in response.text


def test_unknown_things_get_a_clear_404_page(browser):
    for path, said in [
        ("/datasets/nope", "unknown dataset 'nope'"),
        ("/receipts/r-000000000000", "no receipt 'r-000000000000'"),
        ("/erasures/e-000000000000", "no erasure 'e-000000000000'"),
        ("/no/such/page", "no such page"),
    ]:
        response = browser.get(path)
        assert response.status_code == 404 and str(escape(said)) in response.text, path


def test_a_file_swapped_in_the_store_is_refused_not_served(desk_ws, tmp_path):
    from starlette.testclient import TestClient

    from datagov.web.app import create_app
    from datagov.web.auth import TokenDoor
    from datagov.workspace import load_workspace

    shutil.copytree(desk_ws.root, tmp_path / "ws", symlinks=True)
    ws = load_workspace(tmp_path / "ws")
    client = TestClient(create_app(ws, TokenDoor(TOKEN)), base_url="http://127.0.0.1", follow_redirects=False)
    client.get(f"/login?token={TOKEN}")
    digest = client.get("/api/datasets").json()[0]["latest"]
    part = next((ws.store_dir / digest).glob("*.parquet"))
    outside = tmp_path / "elsewhere.parquet"
    shutil.copy(next(p for p in ws.store_dir.rglob("*.parquet") if digest not in str(p)), outside)
    part.unlink()
    part.symlink_to(outside)  # another version's bytes, through a link
    response = client.get(f"/datasets/pics/{digest}/rows/0.png")
    assert response.status_code == 409 and "no longer matches its manifest" in response.text
