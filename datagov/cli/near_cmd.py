"""`datagov dedup NAME` and `datagov contamination REFERENCE TARGET`:
near-duplicates inside a version, and target rows with near-copies in a
reference (eval images in the pretraining data)."""

from __future__ import annotations

import typer

_RADIUS = typer.Option(10, "--radius", help="Images: most differing bits of 64 between two hashes (0-15).")
_SIMILARITY = typer.Option(
    0.975, "--min-similarity", help="Images: least thumbnail correlation (-1 to 1) that confirms a pair."
)
_HASHES = typer.Option("phash", "--hashes", help="Images: hashes that propose pairs, comma-separated (phash, dhash).")
_ENCODER = typer.Option(
    None, "--encoder", metavar="MODEL_URI", help="Images: also require the encoder's embeddings to agree."
)
_COSINE = typer.Option(0.9, "--min-cosine", help="With --encoder: least cosine of the two embeddings.")
_COLUMN = typer.Option([], "--column", help="Tables: a text column to compare (repeatable; default: text columns).")
_JACCARD = typer.Option(0.5, "--jaccard", help="Tables: least Jaccard similarity of word shingles (0-1].")
_SHINGLE = typer.Option(1, "--shingle", help="Tables: words per shingle (1 for sentences; 3-5 for documents).")
_SHARE = typer.Option(0.0, "--max-share", help="Exit 3 when more than this share of the rows is flagged (0-1).")
_OUT = typer.Option(None, "--out", metavar="FILE.html", help="Also write the HTML report here.")
_JSON = typer.Option(False, "--json", help="Print the report as JSON.")


def _methods(radius, min_similarity, hashes, encoder, min_cosine, column, jaccard, shingle):
    from datagov.near.images import ImageMethod
    from datagov.near.text import TextMethod

    image = ImageMethod(
        radius=radius,
        min_similarity=min_similarity,
        hashes=tuple(h.strip() for h in hashes.split(",") if h.strip()),
        encoder=encoder,
        min_cosine=min_cosine,
    )
    return image, TextMethod(columns=tuple(column), shingle=shingle, jaccard=jaccard)


def _run(reference: str, target: str | None, out: str | None, as_json: bool, max_share: float, methods) -> None:
    import json
    from functools import partial

    from datagov.cli.state import console, workspace
    from datagov.errors import CheckFailed
    from datagov.near.check import run_check
    from datagov.near.report import save_report
    from datagov.outputs import check_writable
    from datagov.training.encoders import encoder_for_images

    ws = workspace()
    out_path = check_writable(out, ws) if out else None  # before any work: a typo costs nothing
    image, text = methods
    report, ref_rows, target_rows, _ = run_check(
        ws, reference, target, image=image, text=text, max_share=max_share, encoders=partial(encoder_for_images, ws)
    )
    save_report(ws, report, ref_rows, target_rows, copy_to=out_path)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, default=str))
    else:
        _render(console(), report)
    if not report.passed:
        raise CheckFailed(
            f"{report.flagged:,} of {report.target_rows:,} rows of {report.target.ref} "
            + ("are near-duplicates" if report.kind == "dedup" else f"have near-copies in {report.reference.ref}")
            + f" ({report.share:.2%}, allowed {report.max_share:.2%})",
            hint=(
                f"remove them (datagov split ... --dedupe near), or record a waiver on the run that uses them; "
                f"see {report.report_path}"
            ),
        )


def _render(con, report) -> None:
    from rich.table import Table

    from datagov.cli.state import styled

    if report.per_class:
        table = Table(title="Per class", title_justify="left")
        for col in ("class", "rows", "flagged"):
            table.add_column(col, justify="right" if col != "class" else "left")
        for c in report.per_class:
            table.add_row(str(c["label"]), f"{c['rows']:,}", f"{c['flagged']:,}")
        con.print(table)
    if report.pairs:
        table = Table(
            title=f"Most alike pairs ({min(10, len(report.pairs))} of {report.pairs_found:,})", title_justify="left"
        )
        for col in (report.reference.ref, report.target.ref, "similarity"):
            table.add_column(col, overflow="fold")
        for p in report.pairs[:10]:
            score = f"{p['score']:.4f}" + (f", {p['hamming']} bits" if "hamming" in p else "")
            score += ", identical" if p["exact"] else ""
            table.add_row(
                f"row {p['reference_row']} {p['reference_name'] or ''}".strip(),
                f"row {p['target_row']} {p['target_name'] or ''}".strip(),
                score,
            )
        con.print(table)
    if report.text_columns:
        con.print(f"text compared: {', '.join(report.text_columns)} (and whole rows, exactly)")
    colour, word = (
        ("red", "FLAGGED") if not report.passed else ("green", "CLEAN" if not report.flagged else "WITHIN LIMIT")
    )
    what = (
        "near-duplicates of earlier rows" if report.kind == "dedup" else f"with a near-copy in {report.reference.ref}"
    )
    con.print(
        styled(
            f"[bold {colour}]{word}[/bold {colour}]: {{}}",
            f"{report.flagged:,} of {report.target_rows:,} rows of {report.target.ref} {what} "
            f"({report.share:.2%}; {report.exact:,} identical; allowed {report.max_share:.2%})",
        )
    )
    con.print(f"Report {report.report_path} (JSON {report.data_path}) · receipt {report.receipt_id}")


def dedup(
    name: str = typer.Argument(..., metavar="NAME[@DIGEST]", help="The version to search."),
    radius: int = _RADIUS,
    min_similarity: float = _SIMILARITY,
    hashes: str = _HASHES,
    encoder: str = _ENCODER,
    min_cosine: float = _COSINE,
    column: list[str] = _COLUMN,
    jaccard: float = _JACCARD,
    shingle: int = _SHINGLE,
    max_share: float = _SHARE,
    out: str = _OUT,
    as_json: bool = _JSON,
) -> None:
    """Near-duplicates inside one version: images by perceptual hash and
    thumbnail correlation, tables by identical rows and MinHash over text.

    Counts per class, the most alike pairs, an HTML report with the pairs side
    by side and JSON in catalog/reports/, and a receipt of kind contamination.
    Exit 0 clean, 3 when more than --max-share of the rows would be removed, 1 error.
    """
    methods = _methods(radius, min_similarity, hashes, encoder, min_cosine, column, jaccard, shingle)
    _run(name, None, out, as_json, max_share, methods)


def contamination(
    reference: str = typer.Argument(..., metavar="REFERENCE", help="NAME[@DIGEST] trained on (e.g. pretraining data)."),
    target: str = typer.Argument(..., metavar="TARGET", help="NAME[@DIGEST] that must not overlap it (e.g. eval)."),
    radius: int = _RADIUS,
    min_similarity: float = _SIMILARITY,
    hashes: str = _HASHES,
    encoder: str = _ENCODER,
    min_cosine: float = _COSINE,
    column: list[str] = _COLUMN,
    jaccard: float = _JACCARD,
    shingle: int = _SHINGLE,
    max_share: float = _SHARE,
    out: str = _OUT,
    as_json: bool = _JSON,
) -> None:
    """TARGET rows with a near-copy in REFERENCE, before training or scoring on them.

    Writes a receipt of kind contamination bound to both digests and to the
    method and thresholds; a transfer pipeline can require a clean one
    (data.contamination in its spec). Exit 0 clean, 3 when more than
    --max-share of TARGET's rows are contaminated, 1 error.
    """
    methods = _methods(radius, min_similarity, hashes, encoder, min_cosine, column, jaccard, shingle)
    _run(reference, target, out, as_json, max_share, methods)


def register(app: typer.Typer) -> None:
    app.command("dedup")(dedup)
    app.command("contamination")(contamination)
