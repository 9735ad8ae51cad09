"""`datagov runs list`: the training runs the catalog knows, with their results."""

from __future__ import annotations

import typer

app = typer.Typer(
    rich_markup_mode=None, help="Training runs recorded in the catalog (pretrain, transfer).", no_args_is_help=True
)

# The figures worth a column, per stage, in the order shown.
KEY_METRICS = {
    "pretrain": (("train_loss", "train loss"), ("val_loss", "val loss")),
    "transfer": (("eval_accuracy", "eval acc"), ("baseline_eval_accuracy", "scratch"), ("pretraining_gain", "gain")),
}


def _summary(stage: str, metrics: dict) -> str:
    parts = [f"{label} {metrics[key]:.4f}" for key, label in KEY_METRICS.get(stage, ()) if key in metrics]
    return "\n".join(parts) or "-"  # one figure a line: the column stays narrow


# Every column keeps at least its header's width; the results wrap instead
# (at 140 columns rich would otherwise squeeze the short ones to nothing).
COLUMNS = (
    ("run", {"no_wrap": True, "min_width": 8}),
    ("stage", {"min_width": 8}),
    ("trained on", {"no_wrap": True}),
    ("gate", {"min_width": 6}),
    ("status", {"min_width": 8}),
    ("model", {"no_wrap": True}),
    ("results", {"min_width": 18}),
    ("started (UTC)", {"min_width": 16}),
)


STAGES = ("pretrain", "transfer")  # the stages that record a run (`runs.stage`)


@app.command("list")
def runs_list(
    stage: str = typer.Option(None, "--stage", help="Only this stage: pretrain or transfer."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Show at most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List training runs, newest first: stage, data, gate, status, model, results."""
    from dataclasses import asdict

    from rich.table import Table

    from datagov.catalog.db import open_catalog
    from datagov.catalog.runs import list_runs
    from datagov.catalog.versions import SHORT
    from datagov.cli.state import console, print_json, styled, workspace
    from datagov.errors import InvalidInput

    if stage is not None and stage not in STAGES:
        raise InvalidInput(f"unknown stage {stage!r}; use one of: {', '.join(STAGES)}")
    with open_catalog(workspace()) as con:
        runs = [asdict(r) for r in list_runs(con, stage, limit)]
    if as_json:
        print_json(runs)
        return
    if not runs:
        typer.echo(f"No {stage} runs yet." if stage else "No training runs yet. Run: datagov pretrain PIPELINE.yaml")
        return
    table = Table(title="Training runs", title_justify="left", caption="--json adds experiments and every metric")
    for col, style in COLUMNS:
        table.add_column(col, **style)
    for r in runs:
        colour = {"finished": "green", "failed": "red", "running": "yellow"}.get(r["status"], "white")
        gate = styled("[yellow]waived[/yellow]") if r["waiver_id"] else "open"
        model = f"{r['model_name']}/{r['model_version']}" if r["model_name"] else "-"
        table.add_row(
            r["run_id"][:8],
            r["stage"],
            f"{r['dataset']}@{r['digest'][:SHORT]}",
            gate,
            styled(f"[{colour}]{{}}[/{colour}]", r["status"]),
            model,
            _summary(r["stage"], r["metrics"]),
            f"{r['started']:%Y-%m-%d %H:%M}" if r["started"] else "-",
        )
    console().print(table)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="runs")
