"""A team on one PostgreSQL catalog: two engineers and a steward, each logged
in as their own database role. The database, not the client, decides who
made a record and who may approve what: each rule is tried both through
datagov and through a raw connection that skips datagov altogether."""

from __future__ import annotations

import shutil

import psycopg
import pytest

from datagov.catalog.db import open_catalog
from datagov.layout import init_workspace
from tests.conftest import REPO, Cli, use_postgres_catalog
from tests.training.conftest import SPEC, TINY

pytestmark = pytest.mark.slow

PEOPLE = {
    "alice": ("alice-pw", "datagov_engineer"),
    "bob": ("bob-pw", "datagov_engineer"),
    "sam": ("sam-pw", "datagov_steward"),
    "carol": ("carol-pw", "datagov_engineer", "datagov_steward"),  # both hats: still not her own approver
    "rita": ("rita-pw", "datagov_reader"),
}


class Team:
    """The shared workspace, and a CLI per person (their own DATAGOV_CATALOG_URL)."""

    def __init__(self, cli: Cli, cluster, database: str) -> None:
        self.cli, self.cluster, self.database = cli, cluster, database

    def url(self, person: str) -> str:
        return self.cluster.url(self.database, person, PEOPLE[person][0])

    def as_(self, person: str, *args: str):
        return self.cli.runner.invoke(
            __import__("datagov.cli.app", fromlist=["app"]).app,
            ["--workspace", str(self.cli.ws.root), *map(str, args)],
            env={"DATAGOV_CATALOG_URL": self.url(person)},
            catch_exceptions=False,
        )

    def sql(self, person: str, statement: str, params=None):
        with psycopg.connect(self.url(person), autocommit=True) as con:
            cur = con.execute(statement, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else None


@pytest.fixture
def team_ws(tmp_path, pg_database):
    """A workspace on a fresh PostgreSQL database, opened first by its owner."""
    workspace, _ = init_workspace(tmp_path / "ws")
    return use_postgres_catalog(workspace.root, pg_database)


@pytest.fixture
def team(team_ws, pg_cluster):
    cli, ws = Cli(team_ws), team_ws
    database = ws.catalog_url.rsplit("/", 1)[1]
    granted = cli("catalog", "grant")  # as the owner (the cluster's admin)
    assert granted.exit_code == 0, granted.output
    for person, (password, *roles) in PEOPLE.items():
        pg_cluster.create_login(person, password, *roles)
    for suite in ("digits-pretrain", "digits-labelled"):
        shutil.copy(REPO / "expectations" / f"{suite}.json", ws.expectations_dir)
    t = Team(cli, pg_cluster, database)
    assert t.as_("alice", "ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    into = "pretrain=0.7,finetune=0.1,eval=0.2"
    assert t.as_("alice", "split", "digits", "--into", into, "--drop-labels", "pretrain").exit_code == 0
    return t


def test_a_waiver_waits_for_a_steward_who_is_not_the_requester(team):
    first = team.as_("alice", "pretrain", SPEC, *TINY, "--no-progress", "--waive", "need a baseline today")
    assert first.exit_code == 4, first.output
    assert "waits for a steward: waiver w-" in first.stderr
    waiver = first.stderr.split("waiver ", 1)[1].split()[0]
    assert team.sql("alice", "SELECT count(*) FROM runs") == [(0,)]  # nothing ran

    own = team.as_("alice", "approvals", "approve", waiver, "--reason", "fine by me")
    assert own.exit_code == 1 and "Traceback" not in own.output
    assert own.stderr.startswith("Error: the catalog refused this for your database role")  # no INSERT grant
    peer = team.as_("bob", "approvals", "approve", waiver, "--reason", "looks fine")
    assert peer.exit_code == 1 and "refused this for your database role" in peer.stderr  # an engineer is no steward

    listed = team.as_("sam", "approvals", "list")
    assert listed.exit_code == 0 and waiver in listed.output and "alice" in listed.output
    approved = team.as_("sam", "approvals", "approve", waiver, "--reason", "baseline only; suites land Friday")
    assert approved.exit_code == 0, approved.output
    assert f"Approved waiver {waiver}" in approved.output and "decided by sam" in approved.output

    again = team.as_("alice", "pretrain", SPEC, *TINY, "--no-progress")
    assert again.exit_code == 0, again.output
    (run,) = team.sql("rita", "SELECT run_id, waiver_id, created_by FROM runs")
    assert run[1] == waiver and run[2] == "alice"
    assert team.sql("rita", "SELECT who FROM waivers WHERE id = %s", [waiver]) == [("alice",)]
    assert team.sql("rita", "SELECT decided_by FROM approvals WHERE request_id = %s", [waiver]) == [("sam",)]
    used = team.as_("alice", "pretrain", SPEC, *TINY, "--no-progress")
    assert used.exit_code == 4, used.output  # an approved waiver excuses one run
    second = team.as_("alice", "pretrain", SPEC, *TINY, "--no-progress", "--waive", "once more")
    other = second.stderr.split("waiver ", 1)[1].split()[0]
    assert team.as_("sam", "approvals", "deny", other, "--reason", "fix the suite").exit_code == 0
    denied = team.as_("alice", "pretrain", SPEC, *TINY, "--no-progress")
    assert denied.exit_code == 4 and f"the last request, {other}, was denied by sam: fix the suite" in denied.stderr

    # everywhere the run is told, it names who asked and who approved
    card = team.as_("rita", "models", "card", "digits-autoencoder", "1")
    assert (
        card.exit_code == 0
        and f"{waiver} on `models:/digits-autoencoder/1` (pretrain) by alice, approved by sam" in card.output
    )
    events = team.as_("rita", "lineage", "digits-autoencoder", "--format", "openlineage")
    assert events.exit_code == 0, events.output
    assert '"datagov.waiver_requested_by"' in events.output and '"datagov.waiver_approved_by"' in events.output
    from mlflow import MlflowClient

    tags = MlflowClient(tracking_uri=f"sqlite:///{team.cli.ws.catalog_dir / 'mlflow.db'}").get_run(run[0]).data.tags
    assert tags["datagov.waiver_requested_by"] == "alice" and tags["datagov.waiver_approved_by"] == "sam"


def test_the_database_refuses_every_shortcut(team):
    refused = team.as_("alice", "pretrain", SPEC, *TINY, "--no-progress", "--waive", "try")
    waiver = refused.stderr.split("waiver ", 1)[1].split()[0]
    approve = (
        "INSERT INTO approvals (id, request_kind, request_id, decision, reason, decided_by, created) "
        "VALUES (%s, 'waiver', %s, 'approved', 'x', %s, now())"
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        team.sql("alice", approve, ["a-1", waiver, "sam"])  # an engineer writes no approvals, whatever it claims
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        team.sql("rita", "INSERT INTO waivers (id, target, stage, reason, who, refused, created) "
                         "VALUES ('w-x', 't', 's', 'r', 'rita', '[]', now())")  # fmt: skip
    for statement in ("UPDATE receipts SET success = true", "DELETE FROM waivers", "DELETE FROM chain",
                      "UPDATE chain SET hash = 'x'", "UPDATE waivers SET reason = 'other'"):  # fmt: skip
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            team.sql("alice", statement)

    # carol is engineer and steward: she may approve others' requests, never her own
    team.sql("carol", "INSERT INTO waivers (id, target, stage, reason, who, refused, created) "
                      "VALUES ('w-carol', 'digits-pretrain@x', 'pretrain', 'mine', 'sam', '[]', now())")  # fmt: skip
    assert team.sql("rita", "SELECT who FROM waivers WHERE id = 'w-carol'") == [("carol",)]  # not 'sam'
    with pytest.raises(psycopg.errors.RaiseException, match="four eyes"):
        team.sql("carol", approve, ["a-2", "w-carol", "sam"])
    own = team.as_("carol", "approvals", "approve", "w-carol", "--reason", "mine")
    assert own.exit_code == 1 and "four eyes: carol requested w-carol and cannot also decide it" in own.stderr
    # a run cannot name a waiver nobody approved, even written by hand
    with pytest.raises(psycopg.errors.RaiseException, match="not approved by a steward"):
        team.sql("alice", "INSERT INTO runs (run_id, stage, pipeline, experiment, dataset, digest, gate, waiver_id, "
                          "status, started) VALUES ('r', 's', 'p', 'e', 'd', 'x', '{}', %s, 'running', now())",
                 [waiver])  # fmt: skip
    # identities come from the login, whatever the client sends
    team.sql("carol", approve, ["a-3", waiver, "mallory"])
    assert team.sql("rita", "SELECT decided_by FROM approvals WHERE id = 'a-3'") == [("carol",)]


def test_a_protected_promotion_is_a_request_a_steward_approves(team, monkeypatch):
    team.cluster.admin("INSERT INTO protected_aliases (alias) VALUES ('production')", team.database)
    for name, suite in (("digits-pretrain", "digits-pretrain"),):
        assert team.as_("alice", "validate", name, "--suite", suite).exit_code == 0
    assert team.as_("alice", "pretrain", SPEC, *TINY, "--no-progress").exit_code == 0
    model = "digits-autoencoder"
    asked = team.as_("bob", "models", "promote", model, "1", "--alias", "production", "--waive", "tiny model")
    assert asked.exit_code == 4, asked.output
    assert "waits for a steward: promotion pr-" in asked.stderr and "requested by bob" in asked.stderr
    request = asked.stderr.split("steward: promotion ", 1)[1].split()[0]
    # a client that skips datagov's own check is stopped by the database before MLflow moves the alias
    import datagov.review.promote as promote_module

    with monkeypatch.context() as patched:
        patched.setattr(promote_module, "approved_promotion", lambda *a, **k: None)
        bypass = team.as_("bob", "models", "promote", model, "1", "--alias", "production", "--waive", "tiny model")
    assert bypass.exit_code == 1 and "alias production is protected" in bypass.stderr, bypass.output
    from mlflow import MlflowClient

    registry = MlflowClient(tracking_uri=f"sqlite:///{team.cli.ws.catalog_dir / 'mlflow.db'}")
    assert "production" not in registry.get_registered_model(model).aliases
    with pytest.raises(psycopg.errors.RaiseException, match="protected"):
        team.sql("bob", "INSERT INTO promotions (id, model_name, model_version, alias, decision, who, created) "
                        "VALUES ('p-x', %s, '1', 'production', '{}', 'bob', now())", [model])  # fmt: skip
    assert team.as_("sam", "approvals", "approve", request, "--reason", "eval reviewed").exit_code == 0
    done = team.as_("bob", "models", "promote", model, "1", "--alias", "production")
    assert done.exit_code == 0, done.output
    ((who, created_by),) = team.sql("rita", "SELECT who, created_by FROM promotions WHERE alias = 'production'")
    assert who == created_by == "bob"
    review = team.as_("rita", "models", "review", model, "1", "--json")
    assert review.exit_code == 0, review.output
    assert '"approved_by": "sam"' in review.output and '"requested_by": "bob"' in review.output


def test_an_admin_edit_is_caught_by_the_next_audit(team):
    assert team.as_("alice", "validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    team.cluster.admin("UPDATE receipts SET success = NOT success", team.database)  # the owner can; the chain sees
    audit = team.as_("alice", "audit", "run")
    assert audit.exit_code == 3, audit.output
    assert "was changed after it was sealed" in audit.output


def test_every_record_says_who_made_it(team, team_ws):
    assert team.as_("bob", "validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    with open_catalog(team_ws) as con:
        made = dict(con.execute("SELECT 'versions', min(created_by) FROM versions UNION ALL "
                                "SELECT 'receipts', min(created_by) FROM receipts UNION ALL "
                                "SELECT 'lineage', min(created_by) FROM lineage").fetchall())  # fmt: skip
    assert made == {"versions": "alice", "receipts": "bob", "lineage": "alice"}
    status = team.as_("bob", "catalog", "status")
    assert status.exit_code == 0 and "you are:   bob" in status.output and "datagov_engineer" in status.output


def test_an_unreachable_catalog_or_a_role_that_cannot_migrate_is_one_line(tmp_path, pg_cluster, pg_database):
    workspace, _ = init_workspace(tmp_path / "ws")
    closed = use_postgres_catalog(workspace.root, f"postgresql://x:y@127.0.0.1:{_closed_port()}/db")
    result = Cli(closed)("datasets", "list")
    assert result.exit_code == 1 and result.stderr.startswith(
        "Error: cannot connect to the catalog at postgresql://***@"
    )
    assert "Traceback" not in result.output and ":y@" not in result.output
    # a fresh database that an engineer opens first: they may not create the schema
    pg_cluster.create_login("eve", "eve-pw")
    fresh = use_postgres_catalog(workspace.root, pg_database.replace("dgadmin:admin-secret", "eve:eve-pw"))
    result = Cli(fresh)("datasets", "list")
    assert result.exit_code == 1, result.output
    assert "needs schema migration 1, and your database role may not apply it" in result.stderr
    assert "connect once as a datagov admin" in result.stderr


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_reader_is_not_stopped_by_a_dead_run_that_an_engineer_then_closes(team):
    import socket

    dead = "INSERT INTO runs (run_id, stage, pipeline, experiment, dataset, digest, gate, status, started, pid, host) "
    team.cluster.admin(dead + f"VALUES ('r-dead', 'pretrain', 'p', 'e', 'd', 'x', '{{}}', 'running', now(), "
                       f"2147483000, '{socket.gethostname()}')", team.database)  # fmt: skip
    listed = team.as_("rita", "datasets", "list")
    assert listed.exit_code == 0, listed.output  # a reader may not close it, and is not refused for that
    assert team.sql("rita", "SELECT status FROM runs WHERE run_id = 'r-dead'") == [("running",)]
    assert team.as_("alice", "datasets", "list").exit_code == 0
    assert team.sql("rita", "SELECT status FROM runs WHERE run_id = 'r-dead'") == [("interrupted",)]


def test_destroying_data_is_a_stewards_act_and_the_database_enforces_it(team):
    eval_version = team.sql("alice", "SELECT digest FROM versions WHERE dataset = 'digits-eval'")[0][0]
    # An engineer retires; the record says who, whatever the client sends.
    assert team.as_("bob", "datasets", "retire", "digits-eval", "--reason", "superseded").exit_code == 0
    assert team.sql("bob", "SELECT created_by, action FROM retirements") == [("bob", "retired"), ("bob", "retired")]
    with pytest.raises(psycopg.errors.RaiseException, match="only a datagov_admin may bring it back"):
        team.sql("bob", "UPDATE versions SET status = 'ready' WHERE dataset = 'digits-eval'")
    # Deleting is not an engineer's: refused by the database, nothing changed.
    refused = team.as_("bob", "datasets", "delete", "digits-eval", "--reason", "cleanup")
    assert refused.exit_code == 1 and "refused this for your database role" in refused.stderr
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        team.sql("bob", "DELETE FROM versions WHERE dataset = 'digits-eval'")
    assert team.sql("sam", "SELECT count(*) FROM versions WHERE dataset = 'digits-eval'") == [(1,)]
    # An erasure writes versions and deletes bytes: carol (engineer and steward) may; bob and sam alone may not.
    from tests.conftest import version_rows

    takedown = team.cli.ws.root / "takedown.txt"
    takedown.write_text("\n".join(r[0] for r in version_rows(team.cli.ws, "digits-finetune", "pixel_hash")[:2]))
    for person in ("bob", "sam"):
        denied = team.as_(person, "erase", "--keys", takedown, "--reason", "request 5", "--no-progress")
        assert denied.exit_code == 1 and "refused this for your database role" in denied.stderr, person
    erased = team.as_("carol", "erase", "--keys", takedown, "--reason", "request 5", "--purge", "--no-progress")
    assert erased.exit_code == 0, erased.output
    assert team.sql("rita", "SELECT created_by, purged IS NOT NULL FROM erasures") == [("carol", True)]
    deleted = team.as_("sam", "datasets", "delete", f"digits-eval@{eval_version[:12]}", "--reason", "cleanup")
    assert deleted.exit_code == 0, deleted.output
    assert team.sql("sam", "SELECT created_by FROM retirements WHERE action = 'deleted' AND target = %s",
                    [f"digits-eval@{eval_version}"]) == [("sam",)]  # fmt: skip
