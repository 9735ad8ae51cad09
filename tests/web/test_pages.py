"""The desk's pages over a real workspace: every link on every page leads
somewhere (no 404, no 500), each page shows what the catalog says, and each
JSON route serves exactly the document the CLI's --json prints."""

from __future__ import annotations

import json
import re

import pytest

from tests.web.conftest import crawl, run


def test_following_every_link_from_the_datasets_page_finds_no_broken_one(browser):
    seen, pages = crawl(browser)
    kinds = {p.split("/")[1] for p in seen}
    assert {"datasets", "receipts", "approvals", "audits", "erasures", "models", "static", "drift"} <= kinds
    assert any(p.startswith("/audits/a-") for p in seen), "no audit's own page was linked"
    assert any(p.endswith(".png") for p in seen), "no image of a near-duplicate pair was linked"
    assert pages >= 8


def test_the_datasets_page_shows_each_dataset_with_its_health(browser):
    html = browser.get("/datasets").text
    assert "pics-train" in html and "pics-test" in html
    row = html[html.index('href="/datasets/pics"') :]
    row = row[: row.index("</tr>")]
    assert "pics-quality" in row and "near-image" in row  # the newest receipt of each suite
    assert "passed" in row.rsplit("<td>", 1)[1]  # the last cell: the newest audit's verdict


def test_search_narrows_the_list(browser):
    html = browser.get("/datasets", params={"q": "TRAIN"}).text
    assert "pics-train" in html and 'href="/datasets/pics"' not in html and "1 of 3 dataset(s)" in html
    assert "No datasets match" in browser.get("/datasets", params={"q": "nothing-like-this"}).text


def test_a_version_page_shows_receipts_lineage_children_and_files(browser, desk_ws):
    response = browser.get("/datasets/pics")
    assert response.status_code == 303
    html = browser.get(response.headers["location"]).text
    assert "<svg" in html and "lineage graph" in html
    assert "pics-train@" in html and "pics-test@" in html  # derived from it, as links and in the graph
    assert "pics-quality" in html and "passed" in html
    assert "part-00000.parquet" in html
    assert "label_name" in html  # the schema


def test_a_near_duplicate_receipt_shows_the_pairs_side_by_side(browser):
    import io

    import numpy as np
    from PIL import Image

    receipts = browser.get("/api/datasets").json()[0]["health"]["receipts"]
    near = next(r["id"] for r in receipts if r["suite"] == "near-image")
    html = browser.get(f"/receipts/{near}").text
    assert "Pairs found" in html
    pair = re.findall(r'<tr class="pair">(.*?)</tr>', html, re.S)[0]
    left, right = re.findall(r'src="([^"]+\.png)"', pair)
    pixels = []
    for src in (left, right):
        response = browser.get(src)
        assert response.headers["content-type"] == "image/png" and response.content[:4] == b"\x89PNG"
        pixels.append(np.asarray(Image.open(io.BytesIO(response.content)).convert("L"), float).ravel())
    assert np.corrcoef(*pixels)[0, 1] > 0.97  # the two images of a pair are the near-copies the check found


def test_a_model_page_for_an_unknown_model_is_a_clear_404(browser):
    response = browser.get("/models/no-such-model/1")
    assert response.status_code == 404 and "no models are registered in this workspace yet" in response.text
    assert browser.get("/models").status_code == 200


@pytest.mark.parametrize(
    "api, argv",
    [
        ("/api/datasets", ["datasets", "list", "--json"]),
        ("/api/datasets?all=true", ["datasets", "list", "--all", "--json"]),
        ("/api/approvals?all=true", ["approvals", "list", "--all", "--json"]),
        ("/api/audits", ["audit", "history", "--json"]),
        ("/api/erasures", ["erasures", "list", "--json"]),
        ("/api/models", ["models", "list", "--json"]),
    ],
)
def test_each_json_route_serves_what_the_cli_prints(browser, desk_ws, api, argv):
    assert browser.get(api).json() == json.loads(run(desk_ws, *argv))


def test_a_version_as_json_is_what_datasets_show_prints(browser, desk_ws):
    listed = browser.get("/api/datasets").json()
    pics = next(d for d in listed if d["name"] == "pics")
    served = browser.get(f"/api/datasets/pics/{pics['latest']}").json()
    assert served == json.loads(run(desk_ws, "datasets", "show", f"pics@{pics['latest']}", "--json"))
    assert {c.partition("@")[0] for c in served["children"]} == {"pics-train", "pics-test"}


def test_the_api_is_described_by_openapi(browser):
    schema = browser.get("/api/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    assert {"/api/datasets", "/api/datasets/{name}/{digest}", "/api/models/{name}/{version}", "/api/approvals",
            "/api/approvals/{request_id}", "/api/receipts/{receipt_id}"} <= paths  # fmt: skip
    assert not any(not p.startswith("/api/") for p in paths)  # pages are not part of the API


def test_a_page_read_again_comes_from_memory_until_the_catalog_changes(desk_ws, tmp_path):
    import shutil

    from starlette.testclient import TestClient

    from datagov.web.app import create_app
    from datagov.web.auth import TokenDoor
    from datagov.workspace import load_workspace
    from tests.web.conftest import TOKEN

    shutil.copytree(desk_ws.root, tmp_path / "ws", symlinks=True)
    ws = load_workspace(tmp_path / "ws")
    app = create_app(ws, TokenDoor(TOKEN))
    client = TestClient(app, base_url="http://127.0.0.1", headers={"Authorization": f"Bearer {TOKEN}"})
    before = client.get("/api/datasets").json()
    assert client.get("/api/datasets").json() == before and app.state.desk.documents.hits == 1
    test_split = next(d for d in before if d["name"] == "pics-test")
    run(ws, "datasets", "retire", f"pics-test@{test_split['latest']}", "--reason", "leaked into training")
    after = client.get("/api/datasets").json()
    assert "pics-test" not in {d["name"] for d in after}  # the write was seen at once
    assert app.state.desk.documents.hits == 1
