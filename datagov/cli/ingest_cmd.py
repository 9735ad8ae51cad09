"""`datagov ingest`."""

from __future__ import annotations

import typer

from datagov.sources import FORMAT_HELP  # the registry; no heavy imports


def ingest(
    source: str = typer.Argument(
        ...,
        help="A file, a folder, an s3://bucket/prefix (with --in-place), `sklearn:digits`, "
        "or `torchvision:MNIST|FashionMNIST|CIFAR10`.",
    ),
    name: str = typer.Option(..., "--name", "-n", help="Dataset name (letters, digits, '.', '_', '-')."),
    fmt: str = typer.Option("auto", "--format", "-f", metavar="FORMAT", help=FORMAT_HELP),
    label: str = typer.Option(None, "--label", help="Label column (tabular) or label array (npz)."),
    owner: str = typer.Option(None, "--owner", help="Who answers for this dataset."),
    license: str = typer.Option(None, "--license", help="License identifier, e.g. CC-BY-4.0."),
    tag: list[str] = typer.Option(None, "--tag", help="KEY=VALUE; repeatable."),
    description: str = typer.Option(None, "--description", help="What the data is."),
    skip_bad: bool = typer.Option(
        False, "--skip-bad", help="Skip undecodable images (recorded as rejects) instead of failing."
    ),
    root: str = typer.Option(None, "--root", help="torchvision: the local dataset root."),
    split: str = typer.Option("train", "--split", help="torchvision: train or test; IDX: train, test or all."),
    download: bool = typer.Option(False, "--download", help="torchvision: download if missing (needs internet)."),
    workers: int = typer.Option(None, "--workers", min=1, help="Image decoding processes (default: all cores)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    in_place: bool = typer.Option(
        False,
        "--in-place",
        help="Register the Parquet shards under a folder or s3:// prefix where they are, by hash, without copying.",
    ),
) -> None:
    """Ingest a source as a new, content-addressed dataset version.

    The same content ingested again is the same version (nothing is added);
    new content under the same name becomes a version whose parent is the
    previous one.
    """
    from rich.table import Table

    from datagov.cli.state import console, human_bytes, workspace
    from datagov.ingest import ingest_in_place, ingest_source, parse_tags
    from datagov.sources import IngestOptions

    ws = workspace()
    opts = IngestOptions(
        label=label,
        skip_bad=skip_bad,
        root=root,
        split=split,
        download=download,
        workers=workers,
        show_progress=progress,
    )
    tags = parse_tags(tag)
    if in_place:
        result = ingest_in_place(ws, source, name, fmt, label=label, owner=owner, license=license, tags=tags,
                                 description=description)  # fmt: skip
    else:
        result = ingest_source(ws, source, name, fmt, options=opts, owner=owner, license=license, tags=tags,
                            description=description)  # fmt: skip
    v, reg = result.version, result.registered
    if reg.created:
        status = "new version"
    elif reg.restored:
        status = "unchanged content; the store's damaged or missing files were written again"
    elif reg.previous and reg.previous.digest == v.digest:
        status = "unchanged (same content as the newest version)"
    else:
        status = "unchanged (an earlier version has this content)"
    table = Table(title=f"Ingested {v.dataset}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("version", v.ref)
    table.add_row("digest", v.digest)
    table.add_row("status", status)
    table.add_row("previous version", v.parent_digest[:12] if v.parent_digest else "-")
    table.add_row("format", result.format)
    table.add_row("rows", f"{v.rows:,}")
    where = "registered in place" if v.details.get("in_place") else "stored"
    table.add_row(where, f"{human_bytes(v.bytes)} in {result.files} file(s) at {result.root}")
    if v.details.get("classes"):
        table.add_row("classes", str(len(v.details["classes"])))
    if result.rejects:
        table.add_row("skipped", f"{len(result.rejects)} bad file(s), recorded as rejects")
    console().print(table)
    for item, reason in result.rejects[:10]:
        typer.echo(f"  skipped {item}: {reason}", err=True)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
