"""`datagov serve [--host 127.0.0.1] [--port 8765]`: the review desk."""

from __future__ import annotations

import typer

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (the DuckDB file: this machine only)."),
    port: int = typer.Option(8765, "--port", min=1, max=65535, help="Port to listen on."),
) -> None:
    """Serve the review desk: datasets, versions, receipts, models and the approvals queue in a browser.

    On the DuckDB file it listens on this machine only and prints a link
    with a random token: whoever opens it acts as you. On a team catalog
    (PostgreSQL) people sign in with their database credentials and every
    request runs as that role. The JSON API is described at /api/openapi.json."""
    from datagov.cli.state import workspace
    from datagov.errors import InvalidInput
    from datagov.web.auth import DatabaseDoor, TokenDoor

    ws = workspace()
    if ws.catalog_url:
        door: TokenDoor | DatabaseDoor = DatabaseDoor(ws)
    elif host not in LOOPBACK:
        raise InvalidInput(
            f"--host {host}: on the DuckDB file the desk serves this machine only (127.0.0.1), since "
            "whoever holds its token acts as you",
            hint="for a team, put the catalog on PostgreSQL, where people sign in as themselves (README: Team set-up)",
        )
    else:
        door = TokenDoor()
    _check_port_free(host, port)
    shown = f"[{host}]" if ":" in host else host
    if isinstance(door, TokenDoor):
        typer.echo(f"datagov desk for {ws.root}")
        typer.echo(f"open http://{shown}:{port}/login?token={door.token}")
        typer.echo("(the token is new each start; whoever has this link acts as you)")
    else:
        typer.echo(f"datagov desk for {ws.root} on the team catalog {ws.catalog_name}")
        typer.echo(f"open http://{shown}:{port}/login and sign in with your database user name and password")
        if host not in LOOPBACK:
            typer.echo("warning: passwords cross the network in clear; put the desk behind TLS (a reverse proxy)",
                       err=True)  # fmt: skip
    typer.echo("stop it with Ctrl-C")
    _run(ws, door, host, port)


def _check_port_free(host: str, port: int) -> None:
    import socket

    from datagov.errors import InvalidInput

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InvalidInput(
                f"cannot listen on {host}:{port}: {exc.strerror}", hint="choose another --port"
            ) from None


def _run(ws, door, host: str, port: int) -> None:
    import uvicorn

    from datagov.web.app import create_app

    # a team desk is reached by whatever name its users know it by; a local one answers
    # only to this machine's names (a rebound DNS name never reaches it)
    app = create_app(ws, door, hosts=[] if host in LOOPBACK else ["*"])
    # no access log: the sign-in link's token would be written to it
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, server_header=False)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
