"""Moving a workspace's catalog from the DuckDB file to PostgreSQL.

Every table, every row, in one target transaction: the target's schema is
made by the same migrations, rows go over by column name with PostgreSQL's
COPY, and before COMMIT each table's row count and content digest is
compared on both sides and the hash chain is verified on the target. The
triggers that stamp identities are off during the copy (in the same
transaction), so records keep who made them on the DuckDB file: the OS
user, which the file never authenticated. A target that holds any row is
refused; the DuckDB file is left as it was.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from datagov.catalog import chain
from datagov.catalog.migrations import LATEST, migrate
from datagov.errors import CheckFailed, InvalidInput
from datagov.redact import redact

if TYPE_CHECKING:
    from datagov.catalog.db import Connection
    from datagov.catalog.postgres import PgConnection

NOT_COPIED = ("schema_migrations",)  # the target's own, written by its migrations


@dataclass(frozen=True)
class TableCopy:
    table: str
    rows: int
    digest: str  # sha256 of the table's rows, sorted, as JSON


def tables(con: Connection) -> list[str]:
    found = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_type = 'BASE TABLE' ORDER BY table_name"
    ).fetchall()
    return [r[0] for r in found if r[0] not in NOT_COPIED]


def columns(con: Connection, table: str) -> list[str]:
    found = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = current_schema() "
        "ORDER BY column_name",
        [table],
    ).fetchall()
    return [r[0] for r in found]


def table_digest(con: Connection, table: str, names: list[str]) -> TableCopy:
    """Row count and a digest of every row's values, independent of row order and backend."""
    lines = sorted(
        json.dumps([chain.plain(v) for v in row], separators=(",", ":"), sort_keys=True, default=str)
        for row in con.execute(f"SELECT {', '.join(names)} FROM {table}").fetchall()
    )
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return TableCopy(table, len(lines), digest)


def copy_catalog(source: Connection, target: PgConnection) -> list[TableCopy]:
    """Copy every row of `source` (a migrated DuckDB catalog) into the empty
    PostgreSQL `target`, verified; all or nothing."""
    migrate(target, redact(target.url))
    occupied = [t for t in tables(target) if target.execute(f"SELECT count(*) FROM {t}").fetchone()[0]]
    if occupied:
        raise InvalidInput(
            f"the target catalog {redact(target.url)} is not empty (rows in {', '.join(occupied[:5])})",
            hint="move into a new, empty database: createdb NAME, then --to postgresql://…/NAME",
        )
    wanted = tables(source)
    if missing := sorted(set(wanted) - set(tables(target))):
        raise InvalidInput(f"the target has no table {', '.join(missing)}: it is not at schema version {LATEST}")
    for table in wanted:  # names go into SQL: only the schema's own, never what a file says
        if (extra := sorted(set(columns(source, table)) - set(columns(target, table)))) != []:
            raise InvalidInput(
                f"the DuckDB catalog's table {table} has columns schema version {LATEST} does not: "
                f"{', '.join(map(repr, extra[:5]))}; nothing was copied",
                hint="a catalog changed outside datagov is not moved; restore it from a backup",
            )
    copies = []
    target.execute("BEGIN TRANSACTION")
    try:
        for table in wanted:
            names = columns(target, table)
            target.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            _copy_rows(source, target, table, names)
            target.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            copies.append(_verified(source, target, table, names))
        if problems := chain.verify(target):
            raise CheckFailed(f"the copied chain does not verify: {problems[0].describe()}")
        target.execute("COMMIT")
    except BaseException:
        target.execute("ROLLBACK")
        raise
    return copies


def _copy_rows(source: Connection, target: PgConnection, table: str, names: list[str]) -> None:
    found = source.execute(f"SELECT {', '.join(names)} FROM {table}")
    with target.raw.cursor().copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
        while batch := found.fetchmany(5000):
            for row in batch:
                copy.write_row(row)


def _verified(source: Connection, target: Connection, table: str, names: list[str]) -> TableCopy:
    there, here = table_digest(source, table, names), table_digest(target, table, names)
    if there != here:
        raise CheckFailed(
            f"table {table} did not copy faithfully: {there.rows} rows ({there.digest[:12]}) in the DuckDB file, "
            f"{here.rows} ({here.digest[:12]}) in PostgreSQL; nothing was written"
        )
    return here
