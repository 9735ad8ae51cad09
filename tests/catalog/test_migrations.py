import duckdb

from datagov.catalog.migrations import LATEST, MIGRATIONS, current_version, migrate


def test_migrations_are_numbered_in_order():
    numbers = [n for n, _, _ in MIGRATIONS]
    assert numbers == list(range(1, len(numbers) + 1))


def test_migrate_creates_tables_once(tmp_path):
    con = duckdb.connect(str(tmp_path / "c.duckdb"))
    try:
        assert migrate(con) == list(range(1, LATEST + 1))
        assert migrate(con) == []
        assert current_version(con) == LATEST
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert {"datasets", "versions", "files", "rejects", "lineage", "schema_migrations"} <= tables
    finally:
        con.close()
