"""`datagov split`."""

from __future__ import annotations

import typer


def split(
    ref: str = typer.Argument(..., metavar="NAME[@DIGEST]", help="The dataset version to split."),
    into: str = typer.Option(
        ..., "--into", help="NAME=FRACTION,...; e.g. pretrain=0.7,finetune=0.1,eval=0.2 (sum <= 1)."
    ),
    per_class: str = typer.Option(
        None,
        "--per-class",
        metavar="N|SPLIT=N,...",
        help="Cap rows per class: N for every split, or per split (e.g. finetune=10).",
    ),
    drop_labels: list[str] = typer.Option(
        None, "--drop-labels", metavar="SPLIT", help="Remove label columns from this split; repeatable."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same splits."),
    dedupe: str = typer.Option(
        None,
        "--dedupe",
        metavar="exact|near",
        help="Drop duplicates first, so none lands in two splits: exact (identical rows) or near "
        "(also near-duplicates, as `datagov dedup` finds them).",
    ),
    prefix: str = typer.Option(None, "--prefix", help="Child names are PREFIX-SPLIT (default: the dataset name)."),
) -> None:
    """Split a version into child datasets, stratified by label when it has one.

    Reports exact duplicates inside the parent and rows that land in two
    splits (contamination); --dedupe removes them.
    """
    from rich.table import Table

    from datagov.cli.state import console, workspace
    from datagov.split import parse_into, parse_per_class, split_version

    fractions = parse_into(into)
    report = split_version(
        workspace(),
        ref,
        fractions,
        per_class=parse_per_class(per_class, fractions),
        drop_labels=drop_labels or [],
        seed=seed,
        dedupe=dedupe,
        prefix=prefix,
    )
    out = console()
    table = Table(title=f"Split {report.parent.ref}", title_justify="left")
    for col in ("split", "dataset", "version", "rows", "classes", "labels", "status"):
        table.add_column(col, justify="right" if col in ("rows", "classes") else "left")
    for child in report.children:
        v = child.registered.version
        table.add_row(
            child.split,
            v.dataset,
            v.short,
            f"{child.rows:,}",
            str(child.classes) if child.classes is not None else "-",
            "dropped" if v.details.get("labels_dropped") else "kept",
            "new" if child.registered.created else "unchanged",
        )
    out.print(table)
    out.print(
        ("near-duplicates" if dedupe == "near" else "duplicates")
        + f" in parent: {report.duplicate_rows:,} row(s) in {report.duplicate_groups:,} group(s)"
        + (f"; {report.removed:,} removed by --dedupe" if report.removed else "")
    )
    if report.unassigned:
        out.print(f"rows in no split: {report.unassigned:,} (fractions below 1 or --per-class caps)")
    if report.overlaps:
        for (a, b), n in report.overlaps.items():
            typer.secho(
                f"Warning: {n:,} identical row(s) are in both {a} and {b} (contamination)", err=True, fg="yellow"
            )
        typer.echo("  hint: rerun with --dedupe exact (or near) to remove duplicates before splitting", err=True)
    else:
        out.print("overlap between splits: none")


def register(app: typer.Typer) -> None:
    app.command("split")(split)
