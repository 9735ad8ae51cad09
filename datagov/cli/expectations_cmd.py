"""`datagov expectations list | show | suggest | match`."""

from __future__ import annotations

import typer

app = typer.Typer(
    rich_markup_mode=None, help="Manage Great Expectations suites in expectations/.", no_args_is_help=True
)


@app.command("list")
def list_() -> None:
    """List the suites in expectations/ with their digests."""
    from rich.table import Table

    from datagov.cli.state import console, styled, workspace
    from datagov.errors import DatagovError
    from datagov.quality.suites import list_suites, load_suite

    ws = workspace()
    names = list_suites(ws)
    if not names:
        typer.echo("No suites yet. Suggest one with: datagov expectations suggest DATASET --suite NAME")
        return
    table = Table(title="Suites", title_justify="left")
    for col in ("suite", "expectations", "digest", "suggested from"):
        table.add_column(col)
    for name in names:
        try:
            suite = load_suite(ws, name)
        except DatagovError as exc:  # one broken file should not hide the others
            table.add_row(name, "-", "-", styled("[red]unreadable: {}[/red]", exc.message))
            continue
        source = suite.doc.get("meta", {}).get("datagov", {}).get("suggested_from", "-")
        table.add_row(name, str(len(suite.expectations)), suite.digest[:12], source)
    console().print(table)


@app.command("show")
def show(suite: str = typer.Argument(..., help="Suite name (expectations/SUITE.json).")) -> None:
    """Show a suite's expectations."""
    import json

    from rich.table import Table

    from datagov.cli.state import console, workspace
    from datagov.quality.suites import load_suite

    s = load_suite(workspace(), suite)
    table = Table(title=f"Suite {s.name} ({s.path.name}, digest {s.digest[:12]})", title_justify="left")
    for col in ("#", "expectation", "column", "arguments"):
        table.add_column(col)
    for i, exp in enumerate(s.expectations, 1):
        kwargs = dict(exp.get("kwargs", {}))
        column = kwargs.pop("column", "")
        table.add_row(str(i), exp["type"], str(column), json.dumps(kwargs, default=str)[:100])
    console().print(table)


@app.command("suggest")
def suggest(
    ref: str = typer.Argument(..., metavar="NAME[@DIGEST]", help="The version to profile."),
    suite: str = typer.Option(..., "--suite", "-s", help="Name of the suite to write."),
    margin: float = typer.Option(0.1, "--margin", min=0.0, help="Widen ranges by this share of the observed range."),
    row_margin: float = typer.Option(0.1, "--row-margin", min=0.0, help="Row count may vary by this share."),
    force: bool = typer.Option(False, "--force", help="Replace an existing suite."),
) -> None:
    """Write a starter suite from a version's profile (DuckDB statistics).

    Ranges, value sets, nulls, uniqueness, mean/stdev and quantiles, with
    margins; edit it afterwards. Never replaces a suite without --force.
    """
    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import resolve, scan_version
    from datagov.cli.state import workspace
    from datagov.quality.profile import profile_parquet
    from datagov.quality.suggest import suggest_suite
    from datagov.quality.suites import check_suite_name, ensure_absent, save_suite

    ws = workspace()
    check_suite_name(suite)
    if not force:  # before profiling: refuse early, not after the work
        ensure_absent(ws, suite)
    with open_catalog(ws) as con:
        version = resolve(con, ref)
    profile = profile_parquet(scan_version(ws, version))
    doc = suggest_suite(suite, profile, source=version.ref, margin=margin, row_margin=row_margin)
    path = save_suite(ws, suite, doc, force=force)
    typer.echo(
        f"Wrote {path.relative_to(ws.root)}: {len(doc['expectations'])} expectations from {version.ref} "
        f"({profile.rows:,} rows)"
    )
    typer.echo(f"Review it, then: datagov validate {version.dataset} --suite {suite}")


@app.command("match")
def match(
    ref: str = typer.Argument(..., metavar="REFERENCE", help="NAME[@DIGEST] whose distribution the suite encodes."),
    suite: str = typer.Option(..., "--suite", "-s", help="Name of the suite to write."),
    threshold: float = typer.Option(
        0.15, "--kl-threshold", min=0.0, help="Largest KL divergence from the reference's partition per column."
    ),
    margin: float = typer.Option(0.1, "--margin", min=0.0, help="Quantiles may move this share of the 5-95 % spread."),
    for_rows: int = typer.Option(
        None,
        "--for-rows",
        min=1,
        help="Size the thresholds for targets this small (e.g. 50 fine-tuning rows): each KL threshold gains "
        "the KL that many rows show by chance (99th percentile), each quantile range 3 standard errors.",
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing suite."),
) -> None:
    """Write a distribution-match suite from a reference version (pretraining data).

    KL divergence against the reference's decile partition and quantile ranges
    per numeric column; value sets and proportions per categorical column.
    Validating a target with it writes a `match` receipt, which `datagov
    transfer` requires for the encoder's pretraining data.
    """
    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import resolve, scan_version
    from datagov.cli.state import workspace
    from datagov.errors import InvalidInput
    from datagov.quality.match import match_suite, reference_partitions
    from datagov.quality.profile import profile_parquet
    from datagov.quality.suites import check_suite_name, ensure_absent, save_suite

    ws = workspace()
    check_suite_name(suite)
    if not force:
        ensure_absent(ws, suite)
    with open_catalog(ws) as con:
        version = resolve(con, ref)
    source = scan_version(ws, version)
    profile = profile_parquet(source)
    doc = match_suite(
        suite, profile, reference_partitions(source, profile), reference=version.node_id,
        reference_digest=version.digest, threshold=threshold, margin=margin, images="image" in version.columns,
        for_rows=for_rows,
    )  # fmt: skip
    if not doc["expectations"]:
        raise InvalidInput(f"{version.ref} has no column a match suite could describe")
    path = save_suite(ws, suite, doc, force=force)
    typer.echo(f"Wrote {path.relative_to(ws.root)}: {len(doc['expectations'])} expectations matching {version.ref}")
    typer.echo(f"Then: datagov validate TARGET --suite {suite}   (a 'match' receipt against {version.ref})")
