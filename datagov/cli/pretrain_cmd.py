"""`datagov pretrain`."""

from __future__ import annotations

import typer


def pretrain(
    pipeline: str = typer.Argument(..., metavar="PIPELINE.yaml", help="A pretraining spec (see pipelines/)."),
    overrides: list[str] = typer.Argument(
        None, metavar="[KEY=VALUE ...]", help="Override spec keys, e.g. train.epochs=3."
    ),
    waive: str = typer.Option(None, "--waive", metavar="REASON", help="Run despite a refusing gate; recorded."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Pretrain an autoencoder on a validated dataset version, logged to MLflow.

    The gate runs first: without passing receipts for the spec's suites on
    exactly this version it refuses (exit 4) and says how to fix it.
    """
    from datagov.cli.state import workspace
    from datagov.training.pretrain import run_pretraining

    result = run_pretraining(workspace(), pipeline, overrides or [], waive=waive, progress=progress)
    if result.run_id is None:  # a torchrun rank other than 0: rank 0 reports
        return
    if result.waiver_id:
        typer.secho(f"Warning: gate waived ({result.waiver_id}): {result.waiver_note}", err=True, fg="yellow")
    elif waive:
        typer.echo("note: the gate was open, so --waive was not needed: nothing was waived or recorded")
    m = result.metrics
    where = f" on {result.world_size} processes" if result.world_size > 1 else ""
    typer.echo(
        f"Pretrained on {result.device}{where}: train loss {m['train_loss']:.5f}, val loss {m['val_loss']:.5f}, "
        f"{m['samples_per_s']:,.0f} samples/s"
    )
    typer.echo(f"MLflow run {result.run_id}")
    moved = (
        f"alias models:/{result.model_name}@{result.alias}"
        if result.alias
        else "no alias moved: the gate was waived, so the version is not validated"
    )
    typer.echo(f"Registered models:/{result.model_name}/{result.model_version} ({moved})")


def register(app: typer.Typer) -> None:
    app.command("pretrain")(pretrain)
