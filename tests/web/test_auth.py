"""Who may do what on the desk: no session, a forged or expired one, the
wrong token, a missing or wrong CSRF token, another site's form, another
host name, and a redirect off the site are all refused."""

from __future__ import annotations

import pytest

from datagov.web import auth
from tests.web.conftest import TOKEN, csrf_of


@pytest.mark.parametrize("path", ["/datasets", "/models", "/approvals", "/api/datasets", "/api/approvals"])
def test_without_a_session_every_page_and_api_answers_401(anonymous, path):
    response = anonymous.get(path)
    assert response.status_code == 401
    said = response.json()["error"] if path.startswith("/api/") else response.text
    assert "sign in first" in said
    assert "pics" not in response.text  # nothing of the catalog leaks


def test_the_token_link_signs_in_and_lands_on_the_datasets(anonymous):
    response = anonymous.get(f"/login?token={TOKEN}")
    assert response.status_code == 303 and response.headers["location"] == "/datasets"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("samesite", "SameSite")
    assert anonymous.get("/datasets").status_code == 200


def test_a_wrong_token_is_refused_and_issues_no_session(anonymous):
    response = anonymous.get("/login?token=guess")
    assert response.status_code == 401
    assert "not the one `datagov serve` printed" in response.text
    assert "set-cookie" not in response.headers
    assert anonymous.get("/datasets").status_code == 401


@pytest.mark.parametrize("forged", ["", "x" * 43, "bearer", "../../etc/passwd"])
def test_a_forged_session_cookie_is_refused(anonymous, forged):
    anonymous.cookies.set(auth.COOKIE, forged)
    assert anonymous.get("/api/datasets").status_code == 401


def test_the_token_works_as_a_bearer_for_api_clients(anonymous):
    ok = anonymous.get("/api/datasets", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()[0]["name"] == "pics"
    assert anonymous.get("/api/datasets", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert anonymous.get("/api/datasets", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401


def test_an_idle_session_expires(browser, monkeypatch):
    import time

    later = time.monotonic() + auth.IDLE_SECONDS + 1
    monkeypatch.setattr(auth.time, "monotonic", lambda: later)
    response = browser.get("/datasets")
    assert response.status_code == 401 and "expired" in response.text


def test_signing_out_ends_the_session(browser):
    assert browser.post("/logout", data={"csrf": csrf_of(browser)}).status_code == 303
    assert browser.get("/datasets").status_code == 401


@pytest.mark.parametrize("csrf", [None, "", "wrong"])
def test_a_form_without_the_right_csrf_token_changes_nothing(browser, csrf):
    data = {"decision": "approved", "reason": "looks fine"} | ({"csrf": csrf} if csrf is not None else {})
    response = browser.post("/approvals/w-123", data=data)
    assert response.status_code == 403 and "CSRF token is missing or wrong" in response.text
    assert browser.post("/logout", data={"csrf": "wrong"}).status_code == 403
    assert browser.get("/datasets").status_code == 200  # still signed in: the forged logout did nothing


def test_another_site_cannot_post_even_with_the_token(browser):
    response = browser.post("/logout", data={"csrf": csrf_of(browser)}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and "evil.example" in response.text


def test_a_bearer_client_needs_no_csrf_token(anonymous):
    response = anonymous.post(
        "/api/approvals/w-123", json={"decision": "approved", "reason": "ok"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )  # fmt: skip
    # past the CSRF check: refused by what the DuckDB file allows, not by the desk
    assert response.status_code == 400 and "DuckDB file" in response.json()["error"]


def test_another_host_name_is_refused(desk_ws):
    from starlette.testclient import TestClient

    from datagov.web.app import create_app
    from datagov.web.auth import TokenDoor

    rebound = TestClient(create_app(desk_ws, TokenDoor(TOKEN)), base_url="http://attacker.example")
    assert rebound.get(f"/login?token={TOKEN}").status_code == 400


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil.example"])
def test_sign_in_never_redirects_off_the_site(anonymous, target):
    response = anonymous.get("/login", params={"token": TOKEN, "next": target})
    assert response.status_code == 303 and response.headers["location"] == "/datasets"


def test_sign_in_returns_to_the_page_asked_for(anonymous):
    response = anonymous.get("/login", params={"token": TOKEN, "next": "/models"})
    assert response.headers["location"] == "/models"


def test_every_page_forbids_scripts_and_framing(browser):
    for path in ("/datasets", "/login", "/nope"):
        headers = browser.get(path).headers
        assert "default-src 'none'" in headers["content-security-policy"]
        assert "script-src" not in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
