"""`datagov select POOL --target TARGET --size N`."""

from __future__ import annotations

import typer


def select(
    pool: str = typer.Argument(..., metavar="POOL[@DIGEST]", help="The version to choose rows from."),
    target: str = typer.Option(
        ..., "--target", metavar="NAME[@DIGEST]", help="The version the chosen rows should resemble."
    ),
    size: int = typer.Option(..., "--size", help="How many rows to choose."),
    encoder: str = typer.Option(
        None,
        "--encoder",
        metavar="MODEL_URI",
        help="Images: compare by this registered encoder's embeddings instead of thumbnail n-grams.",
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed draws the same rows."),
    name: str = typer.Option(None, "--name", help="The new dataset's name (default: POOL-for-TARGET)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Choose pretraining data that matches a target, by importance resampling.

    Each pool row is weighed by how much likelier its features are under
    the target than under the pool (thumbnail n-grams for images, hashed
    column values for tables, or an encoder's embeddings), and SIZE rows are
    drawn by those weights without replacement. The result is a new version
    with a `selected` lineage edge and a `selection` receipt, which passes
    when the chosen rows are closer to the target than a random draw of the
    same size (exit 3 when they are not).
    """
    import json

    from datagov.cli.state import console, workspace
    from datagov.errors import CheckFailed
    from datagov.selection.run import select_version

    ws = workspace()
    embedder = _embedder(ws, encoder, pool, target) if encoder else None
    report = select_version(ws, pool, target, size, seed=seed, name=name, encoder_uri=encoder, embedder=embedder)
    if as_json:
        typer.echo(json.dumps(_document(report), indent=2))
    else:
        _render(console(), report)
    if not report.passed:
        raise CheckFailed(
            f"the {report.size:,} rows chosen from {report.pool.ref} are no closer to {report.target.ref} than "
            f"a random draw (KL {report.kl_selected:.4f} vs {report.kl_random:.4f} nats)",
            hint="the pool may hold nothing like the target; see `datagov shift` between them",
        )


def _embedder(ws, uri: str, pool_ref: str, target_ref: str):
    """The encoder, loaded and checked against both versions' image shape before any work."""
    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import resolve
    from datagov.training.embeddings import embed_version
    from datagov.training.encoders import encoder_for_images

    with open_catalog(ws) as con:
        versions = [resolve(con, pool_ref), resolve(con, target_ref)]
    loaded = encoder_for_images(ws, uri, versions)
    return lambda version: embed_version(ws, loaded, version)


def _document(report) -> dict:
    v = report.registered.version
    return {
        "dataset": v.dataset,
        "digest": v.digest,
        "created": report.registered.created,
        "pool": report.pool.node_id,
        "target": report.target.node_id,
        "rows": report.size,
        "method": report.method,
        "kl_selected": round(report.kl_selected, 6),
        "kl_random": round(report.kl_random, 6),
        "kl_pool": round(report.kl_pool, 6),
        "effective_size": round(report.effective_size, 1),
        "receipt": report.receipt.id,
        "passed": report.passed,
        "labels": [{"label": k, "pool": p, "selected": s} for k, p, s in report.labels],
    }


def _render(out, report) -> None:
    from rich.table import Table
    from rich.text import Text

    from datagov.cli.state import styled
    from datagov.selection.run import MAX_SHOWN_LABELS

    v = report.registered.version
    out.print(
        Text(
            f"{v.dataset}@{v.short}: {report.size:,} of {report.pool.rows:,} rows of {report.pool.ref} chosen "
            f"to match {report.target.ref} ({report.method}; {'new' if report.registered.created else 'unchanged'})"
        )
    )
    if report.labels:
        table = Table(title="By label", title_justify="left")
        for col in ("label", "in pool", "chosen"):
            table.add_column(col, justify="left" if col == "label" else "right")
        for label, in_pool, chosen in report.labels[:MAX_SHOWN_LABELS]:
            table.add_row(Text(label), f"{in_pool:,}", f"{chosen:,}")
        if len(report.labels) > MAX_SHOWN_LABELS:
            table.add_row(f"... {len(report.labels) - MAX_SHOWN_LABELS} more", "", "")
        out.print(table)
    out.print(
        f"distance to the target (KL, nats): chosen {report.kl_selected:.4f} · random draw {report.kl_random:.4f} "
        f"· whole pool {report.kl_pool:.4f}; the weights draw on ~{report.effective_size:,.0f} rows"
    )
    if report.effective_size < report.size:
        out.print(
            Text(
                f"note: the weights draw on fewer rows than the {report.size:,} chosen: the pool holds few rows like "
                "the target, and the rest of the choice comes from rows it weighs far lower (a smaller --size, "
                "or a pool with more such rows, matches more closely)"
            )
        )
    word, colour = ("MATCHED", "green") if report.passed else ("NOT CLOSER THAN RANDOM", "red")
    out.print(styled(f"[{colour}]{{}}[/{colour}]: receipt {{}}", word, report.receipt.id))
    out.print(Text(f"next: datagov validate {v.dataset}@{v.short} --suite SUITE, then pretrain on it"))


def register(app: typer.Typer) -> None:
    app.command("select")(select)
