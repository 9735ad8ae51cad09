"""`datagov catalog status | grant | migrate --to URL`: where the catalog
lives, who you are to it, the team roles, and moving a workspace to PostgreSQL."""

from __future__ import annotations

import typer

app = typer.Typer(
    rich_markup_mode=None,
    no_args_is_help=True,
    help="The catalog itself: status, team roles (PostgreSQL), moving a workspace to PostgreSQL.",
)


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Where the catalog is, its schema version, and who you are to it."""
    from datagov.catalog.db import open_catalog
    from datagov.catalog.identity import describe
    from datagov.cli.state import print_json, workspace

    ws = workspace()
    with open_catalog(ws) as con:
        facts = describe(con, ws.catalog_name)
    if as_json:
        print_json(facts)
        return
    typer.echo(f"catalog:   {facts['catalog']} ({facts['backend']}, schema {facts['schema']})")
    typer.echo(f"you are:   {facts['identity']}" + ("" if facts["authenticated"] else " (OS user, not authenticated)"))
    if facts["backend"] == "postgresql":
        typer.echo(f"roles:     {', '.join(facts['roles']) or 'none of datagov_reader, _engineer, _steward, _admin'}")
        typer.echo(f"protected: {', '.join(facts['protected_aliases']) or '(no alias)'}")
    else:
        typer.echo("waivers:   take effect at once, marked 'not approved by a second person' (README: Team set-up)")


@app.command("grant")
def grant() -> None:
    """Create the team roles and their grants (run as the catalog's owner).

    datagov_reader reads; datagov_engineer ingests, validates, trains and
    requests waivers and protected promotions; datagov_steward approves or
    denies them (never their own); datagov_admin migrates and may correct
    records (the hash chain still shows it). Then give people roles in SQL:
    CREATE ROLE alice LOGIN PASSWORD '…' IN ROLE datagov_engineer;
    Also copies [promote] protected_aliases from datagov.toml into the
    catalog, where the database enforces them.
    """
    from datagov.catalog.db import is_postgres, open_catalog, transaction
    from datagov.catalog.team import grant_roles
    from datagov.cli.state import workspace
    from datagov.errors import InvalidInput

    ws = workspace()
    with open_catalog(ws, write=True) as con:
        if not is_postgres(con):
            raise InvalidInput(
                "roles need a team catalog: this workspace's catalog is the DuckDB file",
                hint="move it first: datagov catalog migrate --to postgresql://USER@HOST:5432/DB",
            )
        with transaction(con):
            done = grant_roles(con, ws.promote_policy[0])
    for line in done:
        typer.echo(line)


@app.command("migrate")
def migrate_to(
    to: str = typer.Option(..., "--to", metavar="URL", help="An empty PostgreSQL database: postgresql://USER@HOST/DB"),
) -> None:
    """Copy this workspace's DuckDB catalog (every table, every row) into an
    empty PostgreSQL database, verified by counts and digests."""
    from datagov.catalog.db import open_catalog
    from datagov.catalog.moving import copy_catalog
    from datagov.catalog.postgres import PgConnection
    from datagov.cli.state import workspace
    from datagov.errors import InvalidInput
    from datagov.redact import redact, without_password

    ws = workspace()
    if ws.catalog_url:
        raise InvalidInput(f"this workspace's catalog is already on PostgreSQL ({ws.catalog_name})")
    if not to.startswith(("postgresql://", "postgres://")):
        raise InvalidInput(f"--to must be a postgresql:// URL, not {redact(to)!r}")
    target = PgConnection(to, ws.lock_timeout)
    try:
        with open_catalog(ws) as source:
            copies = copy_catalog(source, target)
    finally:
        target.close()
    rows = sum(c.rows for c in copies)
    typer.echo(f"Copied {len(copies)} tables, {rows} rows, into {redact(to)}; counts and digests match, "
               "the hash chain verifies.")  # fmt: skip
    typer.echo(f"The DuckDB file {ws.db_path} is unchanged. To use the copy, set in datagov.toml:")
    typer.echo(f'  [catalog]\n  url = "{without_password(to)}"   # the password: PGPASSWORD or ~/.pgpass')
    typer.echo("then, as the owner: datagov catalog grant")
