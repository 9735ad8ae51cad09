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
    url: str = typer.Option(
        None,
        "--url",
        metavar="URL",
        help="With --format openlineage: send the events to this OpenLineage endpoint (e.g. Marquez at "
        "http://localhost:5000) instead of printing them. Default: OPENLINEAGE_URL when set.",
    ),
) -> None:
    """Show where a version (or model, or run) came from and what was made from it.

    `--format openlineage` prints OpenLineage run events (one JSON object per
    line) for the ingests, splits, validations, contamination checks and
    trainings around it, or sends them with `--url` (or OPENLINEAGE_URL;
    OPENLINEAGE_ENDPOINT and OPENLINEAGE_API_KEY are honoured as the
    openlineage-python client defines them).
    """
    from datagov.catalog.db import open_catalog
    from datagov.cli.state import console, workspace
    from datagov.errors import InvalidInput
    from datagov.lineage import graph_for, to_dot, to_mermaid, to_tree

    renderers = {"mermaid": to_mermaid, "dot": to_dot}
    formats = ("tree", *renderers, "openlineage")
    if fmt not in formats:
        raise InvalidInput(f"unknown lineage format {fmt!r}; use one of: {', '.join(formats)}")
    if url is not None and fmt != "openlineage":
        raise InvalidInput("--url sends OpenLineage events; use it with --format openlineage")
    if fmt == "openlineage":
        _openlineage(target, url)
        return
    with open_catalog(workspace()) as con:
        graph = graph_for(con, target)
    if fmt == "tree":
        console().print(to_tree(graph))
    else:
        typer.echo(renderers[fmt](graph), nl=False)


def _openlineage(target: str, url: str | None) -> None:
    import json

    from datagov.cli.state import console, workspace
    from datagov.openlineage import delivery_target, events_for, run_events, send
    from datagov.redact import redact

    where = delivery_target(url)
    if where is None:
        for event in events_for(workspace(), target):
            typer.echo(json.dumps(event, sort_keys=True))
        return
    sent = send(run_events(workspace(), target), where)
    console().print(f"Sent {sent} OpenLineage events to {redact(where)}")


def register(app: typer.Typer) -> None:
    app.command("lineage")(lineage)
