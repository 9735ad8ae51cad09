"""`datagov lineage`."""

from __future__ import annotations

import typer


def lineage(
    target: str = typer.Argument(
        ...,
        metavar="NAME[@DIGEST]|MODEL[@VERSION]|RUN_ID",
        help="A dataset version, a registered model (newest version unless @VERSION), or an MLflow run id.",
    ),
    fmt: str = typer.Option("tree", "--format", "-f", help="tree, mermaid, dot or openlineage (JSON lines)."),
) -> None:
    """Show where a version (or model, or run) came from and what was made from it.

    `--format openlineage` prints OpenLineage run events (one JSON object per
    line) for the ingests, validations and trainings around it.
    """
    from datagov.catalog.db import open_catalog
    from datagov.cli.state import console, workspace
    from datagov.errors import InvalidInput
    from datagov.lineage import graph_for, to_dot, to_mermaid, to_tree

    renderers = {"tree": None, "mermaid": to_mermaid, "dot": to_dot, "openlineage": None}
    if fmt not in renderers:
        raise InvalidInput(f"unknown lineage format {fmt!r}; use one of: {', '.join(renderers)}")
    if fmt == "openlineage":
        import json

        from datagov.openlineage import events_for

        for event in events_for(workspace(), target):
            typer.echo(json.dumps(event, sort_keys=True))
        return
    with open_catalog(workspace()) as con:
        graph = graph_for(con, target)
    if fmt == "tree":
        console().print(to_tree(graph))
    else:
        typer.echo(renderers[fmt](graph), nl=False)


def register(app: typer.Typer) -> None:
    app.command("lineage")(lineage)
