"""`datagov demo`: the main job end to end, as the CLI commands a user would type."""

from __future__ import annotations

import shlex

import typer

STEPS: list[list[str]] = [
    [
        "ingest",
        "sklearn:digits",
        "--name",
        "digits",
        "--owner",
        "data-team@example.com",
        "--license",
        "CC-BY-4.0",
        "--tag",
        "source=uci",
        "--description",
        "UCI optical digits, 8x8 grayscale, 10 classes (bundled with scikit-learn)",
    ],
    ["split", "digits", "--into", "pretrain=0.7,finetune=0.1,eval=0.2", "--drop-labels", "pretrain", "--seed", "0"],
    ["datasets", "list"],
    ["datasets", "show", "digits-finetune"],
    ["datasets", "verify", "digits"],
    ["lineage", "digits"],
]


def demo(ctx: typer.Context) -> None:
    """Run the main job in this workspace: ingest digits, split, list, lineage.

    Every step is an ordinary datagov command, printed before it runs.
    Running the demo again changes nothing: the same content is the same version.
    """
    from datagov.cli.state import console, state, workspace

    ws = workspace()
    root = ctx.find_root().command
    prefix = ["--workspace", str(ws.root)] + (["--debug"] if state.debug else [])
    out = console()
    for step in STEPS:
        out.print(f"\n[bold green]$ datagov {shlex.join(step)}[/bold green]")
        try:
            root.main(prefix + step, prog_name="datagov", standalone_mode=False)
        except typer.Exit as exc:
            if exc.exit_code:
                raise
    out.print("\n[bold]Done.[/bold] The catalog is in", str(ws.db_path))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
