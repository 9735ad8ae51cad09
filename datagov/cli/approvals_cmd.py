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
    from dataclasses import asdict

    from rich.table import Table

    from datagov.approvals import requests
    from datagov.cli.state import console, print_json, workspace
    from datagov.governance import four_eyes

    ws = workspace()
    found = requests(ws, pending_only=not show_all)
    if as_json:
        print_json([{**asdict(r), "status": r.status} for r in found])
        return
    if not four_eyes(ws):
        typer.echo(
            "This catalog is the DuckDB file: waivers take effect at once, marked 'not approved by a second person'.\n"
            "Requests and approvals need a team catalog on PostgreSQL (README: Team set-up)."
        )
        return
    if not found:
        typer.echo("Nothing waits for a steward." if not show_all else "No requests yet.")
        return
    table = Table(title="Requests", title_justify="left")
    for col in ("id", "kind", "target", "stage", "requested by", "reason", "status", "created (UTC)"):
        table.add_column(col, overflow="fold")
    for r in found:
        status = r.status if r.approval is None else f"{r.status} by {r.approval.decided_by}"
        table.add_row(r.id, r.kind, r.target, r.stage, r.requested_by, r.reason, status,
                      r.created.strftime("%Y-%m-%d %H:%M"))  # fmt: skip
    console().print(table)


def _decide(request_id: str, decision: str, reason: str) -> None:
    from datagov.approvals import decide
    from datagov.cli.state import workspace

    found, approval = decide(workspace(), request_id, decision, reason)
    typer.echo(f"{decision.capitalize()} {found.kind} {found.id} ({found.target}, {found.stage}) "
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
