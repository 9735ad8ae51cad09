"""The desk on a team catalog (PostgreSQL): people sign in with their
database credentials and every request runs as that role, so the database,
not the desk, decides: a requester cannot approve their own waiver, a reader
cannot approve at all, a steward can, and the gate then opens."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from datagov.web.app import create_app
from datagov.web.auth import DatabaseDoor, with_credentials
from tests.test_team import PEOPLE, team, team_ws  # noqa: F401  (the team's fixtures)
from tests.training.conftest import SPEC, TINY
from tests.web.conftest import crawl

pytestmark = pytest.mark.slow


def desk(ws) -> TestClient:
    return TestClient(create_app(ws, DatabaseDoor(ws)), base_url="http://127.0.0.1", follow_redirects=False)


def sign_in(client: TestClient, person: str, password: str | None = None):
    return client.post("/login", data={"user": person, "password": password or PEOPLE[person][0]})


def csrf(client: TestClient) -> str:
    return client.get("/api/whoami").json()["csrf"]


def test_a_steward_approves_a_waiver_in_the_browser_and_the_gate_opens(team):  # noqa: F811
    first = team.as_("alice", "pretrain", SPEC, *TINY, "--no-progress", "--waive", "need a baseline today")
    assert first.exit_code == 4, first.output
    waiver = re.search(r"waiver (w-[0-9a-f]+)", first.stderr).group(1)  # type: ignore[union-attr]

    alice = desk(team.cli.ws)
    assert sign_in(alice, "alice").status_code == 303
    page = alice.get("/approvals").text
    assert waiver in page and "need a baseline today" in page and "Requested by <strong>alice</strong>" in page
    own = alice.post(f"/approvals/{waiver}", data={"decision": "approved", "reason": "mine", "csrf": csrf(alice)})
    assert own.status_code == 403, own.text  # the database refuses the requester

    rita = desk(team.cli.ws)
    sign_in(rita, "rita")
    assert rita.get("/api/whoami").json()["user"] == "rita"
    read_only = rita.post(f"/approvals/{waiver}", data={"decision": "approved", "reason": "ok", "csrf": csrf(rita)})
    assert read_only.status_code == 403, read_only.text

    sam = desk(team.cli.ws)
    sign_in(sam, "sam")
    done = sam.post(f"/approvals/{waiver}", data={"decision": "approved", "reason": "baseline only",
                                                 "csrf": csrf(sam)})  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == f"/approvals#{waiver}"
    assert team.sql("rita", "SELECT decided_by FROM approvals WHERE request_id = %s", [waiver]) == [("sam",)]
    decided = sam.get("/api/approvals", params={"all": "true"}).json()
    assert [r["approval"]["decided_by"] for r in decided if r["id"] == waiver] == ["sam"]

    again = team.as_("alice", "pretrain", SPEC, *TINY, "--no-progress", "--waive", "need a baseline today")
    assert again.exit_code == 0, again.output  # the approved waiver lets the run through
    seen, _ = crawl(sam)  # and every page of the team catalog answers, as the steward
    assert any(p.startswith("/models/") for p in seen) and any(p.startswith("/datasets/digits-pretrain/") for p in seen)


def test_the_database_decides_who_signs_in(team):  # noqa: F811
    client = desk(team.cli.ws)
    wrong = sign_in(client, "sam", "guess")
    unknown = sign_in(client, "mallory", "guess")
    for response in (wrong, unknown):
        assert response.status_code == 401 and "the database refused this user name and password" in response.text
    assert client.get("/approvals").status_code == 401
    token = client.post("/api/session", json={"user": "bob", "password": PEOPLE["bob"][0]}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/whoami", headers=bearer).json()["user"] == "bob"
    assert client.get("/api/datasets", headers=bearer).json()[0]["name"] == "digits"


def test_a_session_never_carries_the_servers_own_credentials():
    url = "postgresql://admin:secret@db.example:5433/catalog?user=admin&password=secret&sslmode=require"
    signed = with_credentials(url, "sam", "p@ss/word")
    assert "admin" not in signed and "secret" not in signed
    assert signed == "postgresql://sam:p%40ss%2Fword@db.example:5433/catalog?sslmode=require"


def test_a_catalog_that_cannot_be_reached_is_not_blamed_on_the_password(tmp_path, pg_cluster):
    """Only the database's refusal of the credentials reads as one: a missing
    database (the desk misconfigured) says so, with the URL's password hidden."""
    from datagov.errors import DatagovError, PermissionDenied
    from datagov.layout import init_workspace
    from tests.conftest import use_postgres_catalog
    from tests.pg import SUPERPASS, SUPERUSER

    workspace, _ = init_workspace(tmp_path / "ws")
    ws = use_postgres_catalog(workspace.root, pg_cluster.url("no_such_catalog"))
    with pytest.raises(DatagovError) as raised:
        DatabaseDoor(ws).sign_in(SUPERUSER, SUPERPASS)
    assert not isinstance(raised.value, PermissionDenied)
    assert 'database "no_such_catalog" does not exist' in str(raised.value)
    assert SUPERPASS not in str(raised.value)
