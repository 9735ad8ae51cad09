"""`datagov shift REFERENCE TARGET`: distribution shift before fine-tuning."""

from __future__ import annotations

import typer


def _pairs(items: list[str], option: str) -> dict[str, float]:
    from datagov.errors import InvalidInput

    out = {}
    for item in items:
        column, sep, value = item.partition("=")
        try:
            out[column] = float(value)
        except ValueError:
            raise InvalidInput(f"{option} takes COLUMN=NUMBER, got {item!r}") from None
        if not sep or not column:
            raise InvalidInput(f"{option} takes COLUMN=NUMBER, got {item!r}")
    return out


def shift(
    reference: str = typer.Argument(..., metavar="REFERENCE", help="NAME[@DIGEST] the model knows (pretraining data)."),
    target: str = typer.Argument(..., metavar="TARGET", help="NAME[@DIGEST] to compare with it (fine-tuning data)."),
    columns: str = typer.Option(None, "--columns", help="Only these columns, comma-separated."),
    key: list[str] = typer.Option([], "--key", help="A column whose drift alone means dataset drift; repeatable."),
    threshold: list[str] = typer.Option(
        [], "--threshold", metavar="COLUMN=VALUE", help="Per-column alpha (tests) or distance; repeatable."
    ),
    share: float = typer.Option(0.5, "--share", min=0.0, max=1.0, help="Drift when this share of columns drift."),
    alpha: float = typer.Option(0.05, "--alpha", min=0.0, max=1.0, help="Significance for the tests."),
    distance: float = typer.Option(0.1, "--distance", min=0.0, help="Threshold for the distances."),
    small_rows: int = typer.Option(1000, "--small-rows", min=1, help="Tests when a side has at most this many rows."),
    encoder: str = typer.Option(
        "auto",
        "--encoder",
        metavar="MODEL_URI",
        help="models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN/model; default: the newest pretraining "
        "on REFERENCE; 'none' to skip.",
    ),
    sample: int = typer.Option(2000, "--sample", min=10, help="Images per side for the embedding tests."),
    permutations: int = typer.Option(200, "--permutations", min=10, help="MMD permutations."),
    seed: int = typer.Option(0, "--seed", help="Seed for every sample and permutation."),
    out: str = typer.Option(None, "--out", metavar="FILE.html", help="Also write the HTML report here."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Compare TARGET's distribution with REFERENCE's, before fine-tuning on it.

    Per column: KS and chi-square tests (Benjamini-Hochberg adjusted) when a
    side is small, Wasserstein and Jensen-Shannon distances when both are
    large, and PSI. Images: also MMD between the pretrained encoder's
    embeddings and its reconstruction errors. Writes JSON and an HTML report
    to catalog/reports/ and recommends a transfer strategy.
    Exit 0 no drift, 3 drift, 1 error.
    """
    import json
    from functools import partial

    from rich.table import Table

    from datagov.cli.state import console, styled, workspace
    from datagov.errors import CheckFailed
    from datagov.outputs import check_writable
    from datagov.shift.columns import ShiftSettings
    from datagov.shift.report import run_shift, save_report
    from datagov.training.encoders import encoder_for_images

    ws = workspace()
    out_path = check_writable(out, ws) if out else None  # before any work: a typo costs nothing
    settings = ShiftSettings(
        small_rows=small_rows,
        alpha=alpha,
        distance=distance,
        share=share,
        keys=tuple(key),
        thresholds=_pairs(threshold, "--threshold"),
        columns=tuple(c.strip() for c in columns.split(",") if c.strip()) if columns else None,
        seed=seed,
    )
    report = run_shift(
        ws,
        reference,
        target,
        settings,
        encoder=None if encoder.lower() == "none" else encoder,
        encoders=partial(encoder_for_images, ws),
        sample=sample,
        permutations=permutations,
    )
    save_report(ws, report, copy_to=out_path)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, default=str))
    else:
        con = console()
        mode = "tests, BH-adjusted" if report.mode == "tests" else "distances"
        table = Table(title=f"Shift {report.reference.ref} -> {report.target.ref} ({mode})", title_justify="left")
        for col in ("column", "test", "statistic", "p (adj.)", "threshold", "PSI", "verdict"):
            table.add_column(col, no_wrap=True)
        for c in report.columns:
            p = f"{c.q_value:.3g}" if c.q_value is not None else "-"
            stat = f"{c.statistic:.4g}" if c.statistic is not None else c.note
            psi = f"{c.psi:.3f} {c.psi_band}" if c.psi is not None else "-"
            verdict = styled("[red]drift[/red]" if c.drift else "[green]ok[/green]")
            table.add_row(c.column + (" (key)" if c.key else ""), c.test, stat, p, f"{c.threshold:g}", psi, verdict)
        con.print(table)
        if report.skipped:
            con.print("Not tested: " + "; ".join(f"{s.column} ({s.reason})" for s in report.skipped))
        if report.embedding:
            e = report.embedding
            con.print(
                styled(
                    "Embeddings ({}, {} vs {} images): MMD² {}, p = {} ({} permutations) -> "
                    + ("[red]shifted[/red]" if e.drift else "[green]no shift[/green]")
                    + "; median reconstruction error {} vs {}",
                    e.pinned,
                    f"{e.samples[0]:,}",
                    f"{e.samples[1]:,}",
                    f"{e.mmd2:.4g}",
                    f"{e.p_value:.3g}",
                    e.permutations,
                    f"{e.recon['median'][0]:.4g}",
                    f"{e.recon['median'][1]:.4g}",
                )
            )
        for note in report.notes:
            con.print(styled("[dim]note: {}[/dim]", note))
        colour, word = ("red", "DRIFT") if report.drift else ("green", "NO DRIFT")
        con.print(styled(f"[bold {colour}]{word}[/bold {colour}]: {{}}", "; ".join(report.why)))
        rec = report.recommendation
        con.print(styled("Transfer: [bold]{}[/bold], {}", rec.strategy or "none", rec.why))
        con.print(f"Report {report.report_path} (JSON {report.data_path}) · {report.id}")
    if report.drift:
        raise CheckFailed(f"{report.target.ref} has drifted from {report.reference.ref}")


def register(app: typer.Typer) -> None:
    app.command("shift")(shift)
