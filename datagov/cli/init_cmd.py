"""`datagov init`."""

from __future__ import annotations

import typer


def init(
    directory: str = typer.Argument(".", help="Folder to make a workspace (created if missing)."),
) -> None:
    """Create a workspace: datagov.toml, catalog/, expectations/, pipelines/."""
    from datagov.layout import init_workspace

    ws, created = init_workspace(directory)
    verb = "Created" if created else "Workspace already exists at"
    typer.echo(f"{verb} {ws.root}")
    if created:
        typer.echo(f"  catalog:      {ws.catalog_name}")
        typer.echo(f"  expectations: {ws.expectations_dir}")
        typer.echo(f"  pipelines:    {ws.pipelines_dir}")
        typer.echo("Next: datagov ingest SOURCE --name NAME")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
