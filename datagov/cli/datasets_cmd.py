"""`datagov datasets list | show | history | verify | croissant`."""

from __future__ import annotations

import typer

app = typer.Typer(rich_markup_mode=None, help="Browse and verify cataloged datasets.", no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")
ALL_OPTION = typer.Option(False, "--all", help="Include retired versions.")

SHOWN_FILES = 20  # a version of 10,000 shards lists its first files, not a screenful of hashes


@app.command("list")
def list_(as_json: bool = JSON_OPTION, include_retired: bool = ALL_OPTION) -> None:
    """List datasets with their newest version (retired versions only with --all)."""

    from rich.table import Table

    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import SHORT, list_datasets, retired_only
    from datagov.cli.state import console, human_bytes, print_json, workspace

    if as_json:
        from datagov.documents import datasets_document

        print_json(datasets_document(workspace(), include_retired=include_retired))
        return
    with open_catalog(workspace()) as con:
        rows = list_datasets(con, include_retired=include_retired)
        hidden = 0 if include_retired else retired_only(con)
    if not rows:
        if hidden:
            typer.echo(f"No datasets in use: {hidden} with only retired versions (datagov datasets list --all)")
        else:
            typer.echo("No datasets yet. Add one with: datagov ingest SOURCE --name NAME")
        return
    table = Table(title="Datasets", title_justify="left")
    for col in ("name", "modality", "versions", "latest", "rows", "size", "owner", "license"):
        table.add_column(
            col, justify="right" if col in ("versions", "rows", "size") else "left", no_wrap=col in ("name", "latest")
        )
    for d in rows:
        table.add_row(
            d.name,
            d.modality,
            str(d.versions),
            (d.latest or "-")[:SHORT],
            f"{d.rows:,}" if d.rows is not None else "-",
            human_bytes(d.bytes),
            d.owner or "-",
            d.license or "-",
        )
    console().print(table)
    if hidden:
        typer.echo(f"{hidden} dataset(s) with only retired versions not shown; add --all to see them")


@app.command("show")
def show(
    ref: str = typer.Argument(..., metavar="NAME[@DIGEST]"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one version: metadata, schema, files, rejects and where it came from."""

    from rich.table import Table

    from datagov.catalog.db import open_catalog
    from datagov.catalog.locations import file_entries
    from datagov.catalog.versions import dataset_of, rejects_of, resolve
    from datagov.cli.state import console, human_bytes, print_json, styled, tags_text, when, workspace
    from datagov.lineage import graph_for, label

    if as_json:
        from datagov.documents import version_document

        print_json(version_document(workspace(), ref))
        return
    with open_catalog(workspace()) as con:
        v = resolve(con, ref)
        meta = dataset_of(con, v)
        files = file_entries(con, v.digest)
        rejects = rejects_of(con, v.dataset, v.digest)
        graph = graph_for(con, v.node_id)
    upstream = [(e.relation, label(e.src)) for e in graph.parents(graph.focus)]
    out = console()
    info = Table(title=f"{v.ref}", show_header=False, title_justify="left")
    info.add_column(style="bold")
    info.add_column()
    for key, value in (
        ("digest", v.digest),
        ("status", v.status),
        ("previous version", v.parent_digest or "-"),
        ("created", f"{when(v.created)} by {v.created_by}" if v.created_by else when(v.created)),
        ("modality", meta.modality),
        ("rows", f"{v.rows:,}"),
        ("size", human_bytes(v.bytes)),
        ("label column", meta.label_column or "-"),
        ("owner", meta.owner or "-"),
        ("license", meta.license or "-"),
        ("tags", tags_text(meta.tags)),
        ("description", meta.description or "-"),
        ("source", v.source or "-"),
        ("format", v.format or "-"),
    ):
        info.add_row(key, value)
    for relation, node in upstream:
        info.add_row("from", f"{node} ({relation})")
    out.print(info)
    schema = Table(title="Schema", title_justify="left")
    schema.add_column("column")
    schema.add_column("type")
    for column in v.schema:
        schema.add_row(column["name"], column["type"])
    out.print(schema)
    ftable = Table(title="Files", title_justify="left")
    for col in ("path", "rows", "size", "sha256"):
        ftable.add_column(col)
    for f in files[:SHOWN_FILES]:
        ftable.add_row(f.path, f"{f.rows:,}", human_bytes(f.bytes), f.sha256[:16] + "…")
    out.print(ftable)
    if len(files) > SHOWN_FILES:
        out.print(f"… and {len(files) - SHOWN_FILES:,} more file(s) (all of them with --json)")
    if rejects:
        out.print(styled("[bold]Rejects[/bold]: {}", len(rejects)))
        for r in rejects[:20]:
            out.print(f"  {r.stage}: {r.item}: {r.reason}")
        if len(rejects) > 20:
            out.print(f"  … and {len(rejects) - 20} more (datagov datasets show {v.ref} --json)")


@app.command("history")
def history(name: str = typer.Argument(...), as_json: bool = JSON_OPTION, include_retired: bool = ALL_OPTION) -> None:
    """List the versions of a dataset, newest first (retired ones only with --all)."""
    from dataclasses import asdict

    from rich.table import Table

    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import RETIRED, SHORT, version_history
    from datagov.cli.state import console, human_bytes, print_json, when, workspace

    with open_catalog(workspace()) as con:
        every = version_history(con, name)
    versions = every if include_retired else [v for v in every if v.status != RETIRED]
    hidden = len(every) - len(versions)
    if as_json:
        print_json([asdict(v) for v in versions])
        return
    if not versions:
        typer.echo(f"No versions of {name} in use: {hidden} retired (add --all to see them)")
        return
    table = Table(title=f"History of {name}", title_justify="left")
    # "previous": the version of this dataset before it; "made from": where its rows came from
    # (a source path, or the version it was split from).
    for col in ("version", "status", "created", "by", "rows", "size", "previous", "format", "made from"):
        table.add_column(col, justify="right" if col in ("rows", "size") else "left")
    for v in versions:
        table.add_row(
            v.short,
            v.status,
            when(v.created),
            v.created_by or "-",
            f"{v.rows:,}",
            human_bytes(v.bytes),
            (v.parent_digest or "-")[:SHORT],
            v.format or "-",
            _short_ref(v.source) if v.source else "-",
        )
    console().print(table)
    if hidden:
        typer.echo(f"{hidden} retired version(s) not shown; add --all to see them")


def _short_ref(source: str) -> str:
    """NAME@DIGEST with the digest shortened as everywhere else; any other source as it is."""
    import re

    from datagov.catalog.versions import SHORT

    found = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)@([0-9a-f]{64})", source)
    return f"{found[1]}@{found[2][:SHORT]}" if found else source


@app.command("verify")
def verify(
    ref: str = typer.Argument(..., metavar="NAME[@DIGEST]"),
    quick: bool = typer.Option(False, "--quick", help="Compare sizes only, do not re-hash."),
) -> None:
    """Re-hash a version's files against its manifest; exit 3 on any mismatch."""
    from datagov.cli.state import workspace
    from datagov.errors import IntegrityError
    from datagov.verify import verify_version

    version, files, problems = verify_version(workspace(), ref, full=not quick)
    if problems:
        for p in problems:
            typer.echo(f"  {p.problem:<10} {p.path}: {p.detail}", err=True)
        raise IntegrityError(f"{version.ref}: {len(problems)} file(s) do not match the manifest")
    how = ("sizes and ETags" if files.remote else "sizes") if quick else "sha256"
    count = len(files.entries)
    typer.echo(f"OK {version.ref}: {count} file(s) match the manifest ({how})")


@app.command("croissant")
def croissant(
    ref: str = typer.Argument(..., metavar="NAME[@DIGEST]"),
    out: str = typer.Option(None, "--out", "-o", metavar="FILE", help="Write the JSON-LD here instead of stdout."),
) -> None:
    """Write a version's Croissant 1.1 metadata (JSON-LD).

    A FileObject per stored file with its sha256, a RecordSet with a field per
    column (images as sc:ImageObject), the license as SPDX URLs, the owner as
    creator, and the Responsible-AI fields datagov has facts for: how the data
    was collected and derived (lineage, splits), what was removed (rejects,
    dedupe) and the checks it passed (validation and near-duplicate receipts).
    Read it with mlcroissant: `mlcroissant.Dataset(jsonld=FILE).records("records")`.
    """
    import json

    from datagov.cli.state import console, workspace
    from datagov.croissant import croissant_document
    from datagov.outputs import check_writable, write_atomic

    ws = workspace()
    path = check_writable(out, ws) if out else None
    text = json.dumps(croissant_document(ws, ref), indent=2, ensure_ascii=False) + "\n"
    if path is None:
        typer.echo(text, nl=False)
        return
    write_atomic(path, text)
    console().print(f"Croissant metadata for {ref}: {path}")
