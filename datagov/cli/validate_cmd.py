"""`datagov validate` and `datagov validations list`."""

from __future__ import annotations

import typer

validations = typer.Typer(rich_markup_mode=None, help="Browse validation receipts.", no_args_is_help=True)


def validate(
    ref: str = typer.Argument(..., metavar="NAME[@DIGEST]", help="The version to validate."),
    suite: list[str] = typer.Option(..., "--suite", "-s", help="Suite name; repeatable."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show what is running (on a terminal)."),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (one machine, in a sandbox) or spark."),
    master: str = typer.Option(
        None, "--master", metavar="URL", help="With --engine spark: local[N] (default local[2]) or spark://HOST:PORT."
    ),
) -> None:
    """Validate a version against suites with Great Expectations on DuckDB.

    Writes a receipt and an HTML report per suite. Exit 0 when every suite
    passes, 3 when an expectation fails, 1 when one could not be evaluated.
    `--engine spark` runs the same suites through GX's Spark engine (pip
    install 'datagov[spark]'); the receipt records the engine and the gate
    treats it the same.
    """
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from datagov.cli.state import console, styled, workspace
    from datagov.errors import CheckFailed, InvalidInput
    from datagov.progress import progress_bar
    from datagov.quality.report import observed_text
    from datagov.quality.validate import validate_version

    ws = workspace()
    line = progress_bar(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), enabled=progress)
    with line:
        task = line.add_task("validate", total=None)
        outcomes = validate_version(
            ws, ref, suite, on_progress=lambda text: line.update(task, description=text), engine=engine, master=master
        )
    out = console()
    for o in outcomes:
        r = o.receipt
        table = Table(title=f"{r.ref} against suite {r.suite}", title_justify="left")
        for col in ("#", "result", "expectation", "column", "observed"):
            table.add_column(col, overflow="fold")
        for i, row in enumerate(r.results, 1):
            mark = styled("[green]pass[/green]" if row["success"] else "[red]FAIL[/red]")
            table.add_row(str(i), mark, row["type"], str(row.get("column") or ""), observed_text(row)[:80])
        out.print(table)
        colour = {"passed": "green", "failed": "red", "error": "magenta"}[r.status]
        out.print(
            styled(
                f"[bold {colour}]{{}}[/bold {colour}] {{}}",
                r.status.upper(),
                f"{r.ref} against {r.suite}: {r.successful} of {r.evaluated} expectations met · receipt {r.id} · "
                f"report {r.report}",
            )
        )
    errored = [o.receipt for o in outcomes if o.receipt.status == "error"]
    if errored:
        r = errored[0]
        i, row = next((i, row) for i, row in enumerate(r.results, 1) if row["error"])
        first = next((line.strip() for line in str(row["error"]).splitlines() if line.strip()), "error")
        raise InvalidInput(
            f"suite {r.suite!r}, expectation #{i} ({row['type']}) could not be evaluated: {first[:300]}",
            hint=f"the whole error is in the receipt's report, {r.report}",
        )
    failed = [o.receipt for o in outcomes if not o.receipt.success]
    if failed:
        raise CheckFailed(f"validation failed: {', '.join(f'{r.suite} ({r.id})' for r in failed)}")


@validations.command("list")
def list_(
    name: str = typer.Argument(None, help="Only this dataset's receipts."),
    limit: int = typer.Option(50, "--limit", min=1, help="Show at most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    include_retired: bool = typer.Option(False, "--all", help="Include retired receipts."),
) -> None:
    """List validation receipts, newest first, and whether the gate would still accept them."""
    import contextlib
    from dataclasses import asdict

    from rich.table import Table

    from datagov.catalog.db import open_catalog
    from datagov.catalog.receipts import bound_to_settings, list_receipts
    from datagov.catalog.versions import check_name, dataset_row
    from datagov.cli.state import console, print_json, styled, when, workspace
    from datagov.errors import DatagovError, NotFound
    from datagov.quality.suites import list_suites, load_suite

    ws = workspace()
    with open_catalog(ws) as con:
        if name and dataset_row(con, check_name(name)) is None:
            raise NotFound(f"unknown dataset {name!r}", hint="see `datagov datasets list`")
        receipts = list_receipts(con, dataset=name, limit=limit, include_retired=include_retired)
    current = {}
    for suite in list_suites(ws):
        with contextlib.suppress(DatagovError):  # an unreadable suite: its receipts are simply not current
            current[suite] = load_suite(ws, suite).digest

    def suite_current(r) -> bool:
        # A near-duplicate check has no suite file: its "suite digest" is the digest of the
        # method and thresholds it ran with, recorded in the receipt, so it cannot drift.
        return bound_to_settings(r) or current.get(r.suite) == r.suite_digest

    if as_json:
        print_json([{**asdict(r), "suite_current": suite_current(r)} for r in receipts])
        return
    if not receipts:
        typer.echo("No validations yet. Run: datagov validate DATASET --suite SUITE")
        return
    table = Table(title="Validations", title_justify="left")
    for col in ("receipt", "version", "suite", "kind", "status", "met", "suite now", "started", "report"):
        table.add_column(col, no_wrap=col in ("receipt", "version"))
    for r in receipts:
        now = (
            "same (method)" if bound_to_settings(r)
            else "same" if suite_current(r) else styled("[yellow]changed[/yellow]")
        )  # fmt: skip
        colour = {"passed": "green", "failed": "red", "error": "magenta"}[r.status]
        table.add_row(
            r.id,
            r.ref,
            r.suite,
            r.kind + (f" vs {r.reference_digest[:12]}" if r.reference_digest else ""),
            styled(f"[{colour}]{{}}[/{colour}]", r.status),
            f"{r.successful}/{r.evaluated}",
            now,
            when(r.started),
            r.report or "-",
        )
    console().print(table)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.add_typer(validations, name="validations")
