"""`datagov catalog migrate --to`: a DuckDB workspace moves to PostgreSQL
whole (every table, every row, verified), or not at all."""

from __future__ import annotations

import shutil

import pytest

from datagov.catalog.db import open_catalog
from datagov.catalog.moving import columns, table_digest, tables
from tests.conftest import REPO, use_postgres_catalog

pytestmark = pytest.mark.slow


@pytest.fixture
def used(cli, ws):
    """A DuckDB workspace with versions, rejects, lineage, receipts and a waived run."""
    shutil.copy(REPO / "expectations" / "digits-pretrain.json", ws.expectations_dir)
    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    into = "pretrain=0.7,finetune=0.1,eval=0.2"
    assert cli("split", "digits", "--into", into, "--drop-labels", "pretrain", "--dedupe", "near").exit_code == 0
    assert cli("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    return cli


def _snapshot(ws) -> dict:
    with open_catalog(ws) as con:
        return {t: table_digest(con, t, columns(con, t)) for t in tables(con)}


def test_every_table_and_row_moves_verified_and_the_workspace_then_runs_on_it(used, ws, pg_database):
    before = _snapshot(ws)
    assert before["versions"].rows == 4 and before["receipts"].rows == 1 and before["chain"].rows >= 1
    moved = used("catalog", "migrate", "--to", pg_database)
    assert moved.exit_code == 0, moved.output
    assert f"Copied {len(before)} tables" in moved.output and "the hash chain verifies" in moved.output
    assert "admin-secret" not in moved.output  # the password is never echoed
    assert _snapshot(ws) == before  # the DuckDB file is untouched
    team_ws = use_postgres_catalog(ws.root, pg_database)
    assert _snapshot(team_ws) == before  # same rows, same digests, on PostgreSQL
    listed = used("datasets", "list")
    assert listed.exit_code == 0 and "digits-pretrain" in listed.output
    assert used("audit", "run").exit_code == 0  # the chain and receipts verify there


def test_a_target_that_holds_rows_is_refused_and_left_as_it_was(used, ws, pg_database):
    assert used("catalog", "migrate", "--to", pg_database).exit_code == 0
    again = used("catalog", "migrate", "--to", pg_database)
    assert again.exit_code == 1
    assert again.stderr.startswith("Error: the target catalog postgresql://***@127.0.0.1")
    assert "is not empty (rows in " in again.stderr and "Traceback" not in again.output
    assert _snapshot(use_postgres_catalog(ws.root, pg_database)) == _snapshot(ws)


def test_bad_targets_are_one_line_each(used, pg_cluster, pg_database):
    wrong = pg_database.replace(":admin-secret@", ":wrong@")
    for url, message in (
        (wrong, "Error: cannot connect to the catalog at postgresql://***@127.0.0.1"),
        (f"postgresql://nobody@127.0.0.1:{pg_cluster.port}/nowhere", "Error: cannot connect to the catalog"),
        ("mysql://x@y/z", "Error: --to must be a postgresql:// URL"),
    ):
        result = used("catalog", "migrate", "--to", url)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(message) and "Traceback" not in result.output
        assert "wrong" not in result.stderr


def test_a_client_older_than_the_catalog_refuses_it(cli, ws):
    from datagov.catalog.migrations import LATEST

    assert cli("datasets", "list").exit_code == 0
    with open_catalog(ws) as con:
        con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, 'from the future')", [LATEST + 1])
    result = cli("datasets", "list")
    assert result.exit_code == 1
    assert f"is at schema version {LATEST + 1}, newer than this datagov knows ({LATEST})" in result.stderr


def test_a_catalog_changed_outside_datagov_is_not_moved(used, ws, pg_database):
    """Table and column names go into SQL on the target: only the schema's own are used."""
    with open_catalog(ws) as con:
        con.execute('ALTER TABLE versions ADD COLUMN "x) FROM versions; DROP TABLE chain; --" VARCHAR')
    result = used("catalog", "migrate", "--to", pg_database)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith("Error: the DuckDB catalog's table versions has columns schema version")
    team_ws = use_postgres_catalog(ws.root, pg_database)
    with open_catalog(team_ws) as con:
        assert all(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 0 for t in tables(con))
        assert "chain" in tables(con)
