"""`datagov transfer`."""

from __future__ import annotations

from enum import StrEnum

import typer

from datagov.training.strategies import OFFERED, help_text

# Built from the strategy registry (no copy of its names), which mypy cannot enumerate.
Strategy = StrEnum("Strategy", {name: name for name in OFFERED})  # type: ignore[misc]


def transfer(
    pipeline: str = typer.Argument(..., metavar="PIPELINE.yaml", help="A transfer spec (see pipelines/)."),
    overrides: list[str] = typer.Argument(
        None, metavar="[KEY=VALUE ...]", help="Override spec keys, e.g. train.epochs=20."
    ),
    strategy: Strategy = typer.Option(
        None,
        "--strategy",
        help=f"{help_text()}. Default: the spec's.",
    ),
    baseline: bool = typer.Option(
        False, "--baseline", help="Also train the same classifier from scratch, same budget, for comparison."
    ),
    waive: str = typer.Option(None, "--waive", metavar="REASON", help="Run despite a refusing gate; recorded."),
    accept_declared: str = typer.Option(
        None,
        "--accept-declared",
        metavar="REASON",
        help="Transfer from an imported encoder whose training data is declared, not verified; recorded.",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Train a classifier on a pretrained encoder from the MLflow registry.

    The gate runs first: the training and evaluation versions need passing
    receipts for the spec's suites, else exit 4 with the fixes. Reports
    accuracy and per-class accuracy on the evaluation version, and registers
    the classifier with its provenance.
    """
    from rich.table import Table

    from datagov.cli.state import console, styled, workspace
    from datagov.training.transfer import run_transfer

    result = run_transfer(
        workspace(),
        pipeline,
        overrides or [],
        strategy=strategy.value if strategy else None,
        baseline=baseline or None,
        waive=waive,
        accept_declared=accept_declared,
        progress=progress,
    )
    if result.waiver_id:
        typer.secho(f"Warning: gate waived ({result.waiver_id}): {result.waiver_note}", err=True, fg="yellow")
    elif waive:
        typer.echo("note: the gate was open, so --waive was not needed: nothing was waived or recorded")
    out = console()
    out.print(f"Eval accuracy per class ({result.strategy} on {result.encoder}):")
    table = Table()
    table.add_column("class")
    table.add_column("eval rows", justify="right")
    table.add_column(result.strategy, justify="right")
    if result.baseline:
        table.add_column("scratch", justify="right")
    for name, n in result.class_counts.items():
        row = [name, str(n), f"{result.outcome.per_class[name]:.3f}"]
        if result.baseline:
            row.append(f"{result.baseline.per_class[name]:.3f}")
        table.add_row(*row)
    out.print(table)
    o = result.outcome
    out.print(
        styled(
            "{}: eval accuracy [bold]{}[/bold] (best epoch {} of {}, MLflow step {}, on {})",
            result.strategy,
            f"{o.accuracy:.4f}",
            o.best_epoch + 1,
            o.epochs_run,
            o.best_epoch,
            result.device,
        )
    )
    if result.baseline:
        b = result.baseline
        out.print(
            f"scratch baseline: eval accuracy {b.accuracy:.4f} (best epoch {b.best_epoch + 1} of {b.epochs_run}); "
            f"pretraining gain {o.accuracy - b.accuracy:+.4f}"
        )
    out.print(f"MLflow run {result.run_id}")
    moved = (
        f"alias models:/{result.model_name}@{result.alias}"
        if result.alias
        else "no alias moved: the gate was waived, so the version is not validated"
    )
    out.print(f"Registered models:/{result.model_name}/{result.model_version} ({moved})")


def register(app: typer.Typer) -> None:
    app.command("transfer")(transfer)
