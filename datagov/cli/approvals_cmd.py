"""`datagov approvals list | approve ID | deny ID`: the steward's queue."""

from __future__ import annotations

import typer

app = typer.Typer(
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Waivers and promotions to protected aliases waiting for a steward (team catalogs on PostgreSQL).",
)


@app.command("list")
def approvals_list(
    show_all: bool = typer.Option(False, "--all", help="Decided requests too, with who decided."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List requests waiting for a steward, newest first."""

    from datagov.approvals import requests
    from datagov.cli.state import console, print_json, styled, when, workspace
    from datagov.governance import four_eyes

    ws = workspace()
    if as_json:
        from datagov.documents import approvals_document

        print_json(approvals_document(ws, show_all=show_all))
        return
    found = requests(ws, pending_only=not show_all)
    if not four_eyes(ws):
        typer.echo(
            "This catalog is the DuckDB file: waivers take effect at once, marked 'not approved by a second person'.\n"
            "Requests and approvals need a team catalog on PostgreSQL (README: Team set-up)."
        )
        return
    if not found:
        typer.echo("Nothing waits for a steward." if not show_all else "No requests yet.")
        return
    out = console()
    for r in found:
        colour = {"pending": "yellow", "approved": "green", "denied": "red"}[r.status]
        out.print(styled(f"[bold]{{}}[/bold]  {{}}  [{colour}]{{}}[/{colour}]", r.id, r.kind, r.status))
        out.print(f"  {r.stage} on {_short(r.target)}")
        out.print(f"  requested by {r.requested_by} {when(r.created)} UTC: {r.reason}")
        if r.approval is not None:
            a = r.approval
            out.print(f"  {a.decision} by {a.decided_by} {when(a.created)} UTC: {a.reason}")


def _decide(request_id: str, decision: str, reason: str) -> None:
    from datagov.approvals import decide
    from datagov.cli.state import workspace

    found, approval = decide(workspace(), request_id, decision, reason)
    typer.echo(f"{decision.capitalize()} {found.kind} {found.id} ({found.stage} on {_short(found.target)}) "
               f"requested by {found.requested_by}; decided by {approval.decided_by}.")  # fmt: skip
    if decision == "approved":
        again = "datagov models promote" if found.kind == "promotion" else f"datagov {found.stage}"
        typer.echo(f"The requester can now run the {again} command again.")


@app.command("approve")
def approve(
    request_id: str = typer.Argument(..., metavar="ID", help="A waiver (w-...) or promotion request (pr-...)."),
    reason: str = typer.Option(..., "--reason", help="Why it is acceptable (recorded, shown on the model)."),
) -> None:
    """Approve a request; the database refuses it if you made the request or are not a steward."""
    _decide(request_id, "approved", reason)


@app.command("deny")
def deny(
    request_id: str = typer.Argument(..., metavar="ID", help="A waiver (w-...) or promotion request (pr-...)."),
    reason: str = typer.Option(..., "--reason", help="Why not (recorded, shown to the requester)."),
) -> None:
    """Deny a request; the requester's command stays refused."""
    _decide(request_id, "denied", reason)


def _short(target: str) -> str:
    """`name@digest` with the digest cut as everywhere else; a model version as it is."""
    from datagov.catalog.versions import SHORT

    name, _, digest = target.partition("@")
    return f"{name}@{digest[:SHORT]}" if digest else target
