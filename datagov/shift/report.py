"""`datagov shift`: compare a target version with a reference, decide, recommend
a transfer strategy, and keep the report (JSON, HTML, catalog row, lineage)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from datagov.catalog.db import open_catalog, transaction
from datagov.catalog.drift_reports import DriftReportRow, insert_drift_report
from datagov.catalog.locations import locate
from datagov.catalog.versions import Version, add_edge, dataset_row, now, resolve, utc_iso
from datagov.errors import InvalidInput
from datagov.shift.columns import DERIVED, ColumnShift, ShiftSettings, Skipped, compare_columns, verdict
from datagov.shift.embedding import EmbeddingShift
from datagov.sql import sql_ident
from datagov.store import duckdb_connection
from datagov.workspace import Workspace

FEW_LABELS = 10  # on shifted data: labels per class at or below which a frozen encoder is the safer bet


@dataclass
class Recommendation:
    strategy: str | None  # features | finetune | scratch | None (nothing to fine-tune on)
    why: str
    table_row: str | None = None  # the value table's row it rests on, when it does
    table: str | None = None  # which table: DATASET/ENCODER_KIND (value_table.tables)
    rule: str = (
        "not shifted: the best strategy in the nearest row (labels per class on a log scale) of the value table "
        "measured on images of the target's shape with the encoder's kind when there is one (README Results and "
        "Fashion-MNIST; datagov/transfer_results.json, datagov/fashion_results.json), else the digits table. "
        "Shifted (embedding MMD when an encoder was used, "
        f"else the column verdict), where the table does not apply: more than {FEW_LABELS} labels per class -> "
        "finetune; fewer -> features (too few labels to move the encoder; label more)"
    )


@dataclass
class ShiftReport:
    id: str
    reference: Version
    target: Version
    settings: ShiftSettings
    mode: str  # tests | distances
    columns: list[ColumnShift]
    skipped: list[Skipped]
    notes: list[str]
    drift: bool
    share: float
    why: list[str]
    embedding: EmbeddingShift | None
    labelled: tuple[int, int]  # labelled target rows, classes
    recommendation: Recommendation
    created: datetime
    duration: float = 0.0
    report_path: str = ""
    data_path: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        cols = []
        for c in self.columns:
            d = asdict(c)
            d["psi_band"] = c.psi_band
            cols.append(d)
        return {
            "id": self.id,
            "reference": {"ref": self.reference.ref, "digest": self.reference.digest, "rows": self.reference.rows},
            "target": {"ref": self.target.ref, "digest": self.target.digest, "rows": self.target.rows},
            "mode": self.mode,
            "settings": asdict(self.settings),
            "drift": self.drift,
            "share": self.share,
            "why": self.why,
            "columns": cols,
            "skipped": [asdict(s) for s in self.skipped],
            "notes": self.notes,
            "embedding": asdict(self.embedding) if self.embedding else None,
            "label_column": self.extra.get("label"),
            "labelled_target_rows": self.labelled[0],
            "classes": self.labelled[1],
            "recommendation": asdict(self.recommendation),
            "created": utc_iso(self.created),
            "duration_s": round(self.duration, 3),
            "report": self.report_path,
        }


def _side(version: Version, scan: str):
    from datagov.shift.columns import Side

    types = {c["name"]: c["type"] for c in version.schema}
    return Side(version.ref, scan, version.rows, types)


def _label_column(con, version: Version) -> str | None:
    meta = dataset_row(con, version.dataset)
    column = meta.label_column if meta else None
    return column if column in version.columns else None


def _labelled(target_scan: str, column: str | None) -> tuple[int, int]:
    if not column:
        return 0, 0
    con = duckdb_connection()
    try:
        q = sql_ident(column)
        rows, classes = con.execute(f"SELECT count({q}), count(DISTINCT {q}) FROM {target_scan}").fetchone() or (0, 0)
    finally:
        con.close()
    return rows, classes


def _shape_text(ws: Workspace, version: Version) -> str:
    """CxHxW of a version's images, or 'mixed shapes'."""
    from datagov.catalog.images import image_shape
    from datagov.errors import InvalidInput

    try:
        return str(image_shape(ws, version))
    except InvalidInput:
        return "mixed shapes"


def recommend(
    shifted: bool, labelled: int, classes: int, shape: str | None = None, encoder_kind: str | None = None
) -> Recommendation:
    """`shape`: the target's images (CxHxW), and `encoder_kind`, choose the
    value table (`value_table.table_for`); the recommendation names it."""
    from datagov.value_table import table_for

    if not labelled:
        return Recommendation(None, "the target has no labelled rows: nothing to fine-tune on yet")
    per_class = labelled / max(classes, 1)
    n = f"{per_class:.0f} labels per class"
    if shifted:
        untested = "the value table was measured without shift, so it does not apply"
        if per_class > FEW_LABELS:
            return Recommendation("finetune", f"shifted, and {n} are enough to adapt the encoder ({untested})")
        return Recommendation(
            "features", f"shifted, but {n} are too few to move the encoder without overfitting; label more ({untested})"
        )
    chosen = table_for(shape, encoder_kind)
    row, measured = chosen.nearest_row(per_class), chosen.meta
    why = f"no shift, and {n}: {chosen.source}, row {row.name}, ranks {row.ranking()} (eval accuracy, %)"
    if shape is not None and shape != measured.get("image_shape"):
        why += (
            f"; it was measured on {measured.get('image_shape')} images and these are {shape}, so it is a guide, "
            "not a prediction: compare on your data with `datagov transfer --baseline`"
        )
    if row.pixels and row.pixels[0] > row.scores[row.best][0]:
        mean, std = row.pixels
        why += (
            f"; a logistic regression on raw pixels scored {100 * mean:.1f} ± {100 * std:.1f} there, above every "
            "strategy: pretraining does not pay at this many labels yet, so compare with such a baseline"
        )
    if row.best == "scratch":
        why += "; pretraining does not pay at this many labels: train from scratch (transfer --baseline shows it)"
    return Recommendation(row.best, why, table_row=row.name, table=chosen.key)


def run_shift(
    ws: Workspace,
    reference_ref: str,
    target_ref: str,
    settings: ShiftSettings,
    *,
    encoder: str | None = "auto",  # a model URI, "auto" (newest pretraining on the reference) or None
    encoders: Callable[[str, list], Any] | None = None,  # loads it (`training.encoders.encoder_for_images`)
    sample: int = 2000,
    permutations: int = 200,
) -> ShiftReport:
    started, t0 = now(), time.perf_counter()
    with open_catalog(ws) as con:  # one catalog visit for everything it knows here
        reference = resolve(con, reference_ref)
        target = resolve(con, target_ref)
        located = {v.digest: locate(ws, con, v.digest, v.dataset) for v in (reference, target)}
        label = _label_column(con, target)
    scans = {digest: files.usable(ws.tmp_dir).scan() for digest, files in located.items()}
    images = "image" in reference.columns and "image" in target.columns
    exclude = tuple(settings.exclude)
    if images:
        exclude += tuple(c for c in DERIVED if c not in (settings.columns or ()))
    settings = replace(settings, exclude=exclude)
    for column in [*(settings.columns or ()), *settings.keys, *settings.thresholds]:
        if column not in reference.columns and column not in target.columns:
            raise InvalidInput(
                f"column {column!r} is in neither {reference.ref} nor {target.ref}; "
                f"columns: {', '.join(reference.columns)}"
            )
    con = duckdb_connection()
    try:
        columns, skipped, notes = compare_columns(
            con, _side(reference, scans[reference.digest]), _side(target, scans[target.digest]), settings
        )
    finally:
        con.close()
    drift, share, why = verdict(columns, settings)
    embedding = None
    if images and encoder:
        from datagov.shift.embedding import default_encoder, embedding_shift

        uri, chosen = default_encoder(ws, reference) if encoder == "auto" else (encoder, None)
        if chosen:
            notes.append(chosen)
        if uri:
            if encoders is None:
                raise RuntimeError("run_shift was asked for an encoder without a way to load one")
            embedding = embedding_shift(
                ws,
                reference,
                target,
                encoders(uri, [reference, target]),
                sample=sample,
                permutations=permutations,
                alpha=settings.alpha,
                seed=settings.seed,
            )
            notes.append(f"embeddings: {embedding.note}")
            if embedding.drift:
                drift = True
                why.append(f"the encoder's embeddings differ (MMD p = {embedding.p_value:.3g} < {settings.alpha})")
    if not columns and embedding is None:  # "no drift" about nothing would be a pass nobody earned
        raise InvalidInput(
            f"nothing to compare between {reference.ref} and {target.ref}: no column is testable on both sides "
            "and no encoder was used",
            hint="name shared columns with --columns, or pass --encoder models:/NAME@ALIAS for images",
        )
    labelled = _labelled(scans[target.digest], label)
    shifted = embedding.drift if embedding else drift
    return ShiftReport(
        id=f"d-{secrets.token_hex(6)}",
        reference=reference,
        target=target,
        settings=settings,
        mode=settings.mode(reference.rows, target.rows),
        columns=columns,
        skipped=skipped,
        notes=notes,
        drift=drift,
        share=share,
        why=why,
        embedding=embedding,
        labelled=labelled,
        recommendation=recommend(shifted, *labelled, shape=_shape_text(ws, target) if images else "a table"),
        created=started,
        duration=time.perf_counter() - t0,
        extra={"label": label},
    )


def save_report(ws: Workspace, report: ShiftReport, copy_to: Path | None = None) -> None:
    """JSON and HTML under catalog/reports/ (and the HTML to `copy_to`), then
    the catalog row and lineage edges in one transaction (files first: a row
    never points at nothing; a failed copy removes the files, so a failed
    command records no report)."""
    from datagov.outputs import write_report_pair
    from datagov.shift.html import render_html

    ws.reports_dir.mkdir(parents=True, exist_ok=True)
    html_path = ws.reports_dir / f"shift-{report.id}.html"
    json_path = ws.reports_dir / f"shift-{report.id}.json"
    report.report_path = str(html_path.relative_to(ws.root))
    report.data_path = str(json_path.relative_to(ws.root))
    doc = report.to_json()
    html = render_html(doc)
    write_report_pair(json_path, json.dumps(doc, indent=2, default=str), html_path, html, copy_to)
    emb = report.embedding
    summary = {
        "why": report.why,
        "drifting": [c.column for c in report.columns if c.drift],
        "tested": len(report.columns),
        "embedding_p": emb.p_value if emb else None,
        "recommendation": report.recommendation.strategy,
    }
    row = DriftReportRow(
        report.id,
        report.reference.node_id,
        report.reference.digest,
        report.target.node_id,
        report.target.digest,
        report.drift,
        report.share,
        report.mode,
        emb.pinned if emb else None,
        emb.drift if emb else None,
        report.recommendation.strategy,
        summary,
        report.report_path,
        report.data_path,
        report.created,
        report.duration,
    )
    with open_catalog(ws, write=True) as con, transaction(con):
        insert_drift_report(con, row)
        params = {"drift": report.drift}
        add_edge(con, "version", report.reference.node_id, "drift_report", report.id, "shift-reference", params=params)
        add_edge(con, "version", report.target.node_id, "drift_report", report.id, "shift-target", params=params)
        if emb:
            add_edge(con, *emb.node, "drift_report", report.id, "embedded", params={"uri": emb.pinned})
