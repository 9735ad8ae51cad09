"""`datagov audit run | history | schedule | serve`."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    rich_markup_mode=None, help="Audit the data behind receipts and registered models, now or on a schedule.",
    no_args_is_help=True,
)  # fmt: skip

CRON_MARK = "# datagov-audit"


def cron_trigger(expr: str):
    """APScheduler's parser: five crontab fields, or a clear error."""
    from apscheduler.triggers.cron import CronTrigger

    from datagov.errors import InvalidInput

    try:
        return CronTrigger.from_crontab(expr)
    except ValueError as exc:
        raise InvalidInput(
            f"bad cron expression {expr!r}: {exc}", hint='five fields: minute hour day month weekday, e.g. "0 3 * * *"'
        ) from None


@app.command("run")
def run(
    dataset: str = typer.Option(None, "--dataset", "-d", help="Only this dataset's versions."),
    revalidate: bool = typer.Option(
        False, "--revalidate", help="Re-run every suite, even where a receipt for the same bytes, suite and GX stands."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the audit as JSON."),
) -> None:
    """Re-hash, re-validate and re-profile every version with receipts or models.

    A suite is re-run unless its newest receipt is for the same bytes (just
    re-hashed), the same suite file and GX release, and younger than
    [audit] max_receipt_age_days; --revalidate re-runs them all.

    Model versions trained on a failing version are tagged datagov.audit=failed
    in MLflow and cannot be promoted. Exit 0 when all passed, 3 when anything
    regressed.
    """
    from rich.table import Table

    from datagov.audit.report import audit_document
    from datagov.audit.run import run_audit
    from datagov.cli.state import console, print_json, styled, workspace
    from datagov.errors import CheckFailed

    ws = workspace()
    out = console()
    audit = run_audit(ws, dataset, revalidate=revalidate)
    if as_json:
        print_json(audit_document(audit))
    else:
        for dead in audit.interrupted:
            out.print(styled("[yellow]note:[/yellow] audit {} had been interrupted; marked so", dead))
        table = Table(title=f"Audit {audit.id}", title_justify="left")
        for col in ("version", "status", "findings", "models fed"):
            table.add_column(col, overflow="fold")
        for r in audit.results:
            colour = {"failed": "red", "passed": "green"}.get(r.status, "yellow")
            status = styled(f"[{colour}]{{}}[/{colour}]", r.status.upper() if r.failed else r.status)
            findings = "\n".join(
                (f"{f.severity}: " if f.severity in ("warning", "note") else "") + f.message for f in r.findings
            )
            table.add_row(r.ref, status, findings or "-", ", ".join(r.models) or "-")
        out.print(table)
        for problem in audit.chain:
            out.print(styled("[red]chain:[/red] {}", problem))
        affected = audit.affected
        if affected:
            out.print("Tagged datagov.audit=failed (promotion refused): " + ", ".join(affected))
        colour = "red" if audit.status == "failed" else "green"
        out.print(
            styled(
                f"[bold {colour}]{{}}[/bold {colour}]: {{}} audited, {{}} failed{{}} · report {{}}",
                audit.status.upper(),
                f"{len(audit.results)} version{'' if len(audit.results) == 1 else 's'}",
                len(audit.failed),
                _others(audit.results),
                audit.report,
            )
        )
    if audit.chain:
        raise CheckFailed(
            f"audit {audit.id} failed: the catalog's records were changed outside datagov: {audit.chain[0]}"
            + (f" (and {len(audit.chain) - 1} more)" if len(audit.chain) > 1 else ""),
            hint="restore catalog/catalog.duckdb from a backup; see the audit report for every record",
        )
    if audit.failed:
        raise CheckFailed(f"audit {audit.id} failed: " + ", ".join(r.ref for r in audit.failed))


def _others(results) -> str:
    """', 2 unvalidated, 1 never-passed': the versions that neither passed nor failed."""
    counts: dict[str, int] = {}
    for r in results:
        if r.status in ("unvalidated", "never-passed"):
            counts[r.status] = counts.get(r.status, 0) + 1
    return "".join(f", {n} {status}" for status, n in sorted(counts.items()))


@app.command("history")
def history_(
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Show at most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Past audits, newest first (running, passed, failed or interrupted)."""
    from rich.table import Table

    from datagov.audit.run import history
    from datagov.cli.state import console, print_json, styled, when, workspace

    if as_json:
        from datagov.documents import audits_document

        print_json(audits_document(workspace(), limit))
        return
    audits = history(workspace(), limit)
    if not audits:
        typer.echo("No audits yet. Run: datagov audit run")
        return
    table = Table(title="Audits", title_justify="left")
    for col in ("audit", "status", "scope", "versions", "failed", "started", "report"):
        table.add_column(col, no_wrap=col in ("audit", "report"))
    for a in audits:
        colour = {"passed": "green", "failed": "red", "running": "yellow"}.get(a["status"], "magenta")
        table.add_row(
            a["id"], styled(f"[{colour}]{{}}[/{colour}]", a["status"]), a["scope"] or "all",
            str(a["versions"] if a["versions"] is not None else "-"),
            ", ".join(a["summary"].get("failed", [])) or ("-" if a["status"] != "running" else ""),
            when(a["started"]), a["report"] or "-",
        )  # fmt: skip
    console().print(table)


def cron_line(ws, expr: str, log: str) -> str:
    """One crontab line. cron ends an entry at a newline and turns every
    unescaped `%` into one, so control characters are refused and `%` is
    escaped (in the command and in the trailing mark alike)."""
    import shlex
    import sys

    from datagov.errors import InvalidInput

    for what, text in (("CRON", expr), ("--log", log), ("the workspace path", str(ws.root))):
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
            raise InvalidInput(f"{what} contains a newline or another control character; crontab cannot hold it")
    log = str(Path(log).expanduser().resolve())
    cmd = f"{shlex.quote(sys.executable)} -m datagov --workspace {shlex.quote(str(ws.root))} audit run"
    line = f"{expr} {cmd} >> {shlex.quote(log)} 2>&1 {CRON_MARK} {ws.root}"
    return line.replace("%", "\\%")


@app.command("schedule")
def schedule(
    cron: str = typer.Argument(..., metavar="CRON", help='When, in crontab syntax, e.g. "0 3 * * *" (03:00 daily).'),
    print_only: bool = typer.Option(False, "--print", help="Print the crontab line instead of installing it."),
    log: str = typer.Option(None, "--log", help="Append audit output here (default: catalog/audit.log)."),
) -> None:
    """Install (or print) a crontab entry that runs `datagov audit run` here.

    Replaces this workspace's earlier entry; other crontab lines are kept.
    """
    import shutil
    import subprocess

    from datagov.cli.state import workspace
    from datagov.errors import InvalidInput

    ws = workspace()
    cron_trigger(cron)
    line = cron_line(ws, cron, log or str(ws.catalog_dir / "audit.log"))
    if print_only:
        typer.echo(line)
        return
    if shutil.which("crontab") is None:
        raise InvalidInput(
            "no crontab command on this machine",
            hint="add the line from `datagov audit schedule CRON --print` yourself, or run `datagov audit serve`",
        )
    current = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    keep = [
        existing
        for existing in (current.stdout.splitlines() if current.returncode == 0 else [])
        if not existing.endswith(f"{CRON_MARK} {ws.root}".replace("%", "\\%"))
    ]
    result = subprocess.run(["crontab", "-"], input="\n".join([*keep, line]) + "\n", capture_output=True, text=True)
    if result.returncode != 0:
        raise InvalidInput(f"crontab refused the entry: {result.stderr.strip()}")
    typer.echo(f"Installed: {line}")


@app.command("serve")
def serve(
    cron: str = typer.Option(None, "--cron", metavar="CRON", help="When, in crontab syntax."),
    every: float = typer.Option(None, "--every", min=1.0, metavar="SECONDS", help="Or every N seconds."),
    max_runs: int = typer.Option(0, "--max-runs", min=0, help="Stop after this many audits (0: never)."),
) -> None:
    """Run audits on a schedule in the foreground (for containers; Ctrl-C stops).

    Each audit runs as its own `datagov audit run` process, so one crash
    cannot take the scheduler down; its output goes to this one's stdout.
    """
    import contextlib
    import subprocess
    import sys
    from datetime import datetime

    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    from datagov.cli.state import workspace
    from datagov.errors import InvalidInput

    if (cron is None) == (every is None):
        raise InvalidInput("give exactly one of --cron CRON and --every SECONDS")
    ws = workspace()
    trigger = cron_trigger(cron) if cron else IntervalTrigger(seconds=every)
    scheduler = BlockingScheduler()
    runs = 0

    def audit() -> None:
        nonlocal runs
        runs += 1
        typer.echo(f"[{datetime.now().isoformat(timespec='seconds')}] audit {runs} starting")
        done = subprocess.run([sys.executable, "-m", "datagov", "--workspace", str(ws.root), "audit", "run"])
        typer.echo(f"[{datetime.now().isoformat(timespec='seconds')}] audit {runs} exit {done.returncode}")
        if max_runs and runs >= max_runs:
            scheduler.shutdown(wait=False)

    _scheduler_notes_in_our_words()
    first = {} if cron else {"next_run_time": datetime.now()}  # an interval starts now; cron waits for its time
    scheduler.add_job(audit, trigger, max_instances=1, coalesce=True, **first)
    typer.echo(f"Auditing {ws.root} on {cron or f'every {every:g} s'}; Ctrl-C stops.")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):  # Ctrl-C is how a foreground server stops
        scheduler.start()


def _scheduler_notes_in_our_words() -> None:
    """APScheduler logs skipped and missed runs with its own raw format (and
    job repr) on stderr; say them as this command's other lines."""
    import logging
    from datetime import datetime

    class Say(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if "maximum number of running instances" in text:
                what = "skipped: the previous audit is still running"
            elif "was missed by" in text:
                what = "skipped: its time passed while the machine was busy or asleep"
            elif record.levelno >= logging.WARNING:
                what = f"scheduler: {text}"
            else:
                return
            typer.echo(f"[{datetime.now().isoformat(timespec='seconds')}] audit {what}", err=True)

    log = logging.getLogger("apscheduler")
    log.handlers[:] = [Say()]
    log.propagate = False
    log.setLevel(logging.INFO)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="audit")
