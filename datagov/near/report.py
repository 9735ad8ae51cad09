"""Keeping a near-duplicate check: its JSON, a self-contained HTML page with
the pairs side by side, and the `contamination` receipt the gate reads."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from datagov.catalog.db import open_catalog, transaction
from datagov.catalog.receipts import Receipt, insert_receipt
from datagov.catalog.versions import add_edge, now
from datagov.html_style import FIGURES_CSS
from datagov.near.check import KIND, NearReport, settings_digest
from datagov.near.rows import VersionRows
from datagov.workspace import Workspace

SHOWN_PX = 112  # thumbnails are drawn this wide, small images scaled up without smoothing


def receipt_of(report: NearReport) -> Receipt:
    t = report.target
    suite = f"near-{report.settings['method']}"
    row = {
        "type": "near_duplicates" if report.kind == "contamination" else "near_duplicates_within",
        "success": report.passed,
        "column": None,
        "kwargs": dict(report.settings),
        "result": {
            "observed_value": report.share,
            "flagged": report.flagged,
            "exact": report.exact,
            "rows": report.target_rows,
            "per_class": report.per_class,
            "pairs": report.pairs[:10],
        },
    }
    return Receipt(
        id=f"r-{report.id[2:]}",
        dataset=t.dataset,
        digest=t.digest,
        suite=suite,
        suite_digest=settings_digest(report.settings),
        kind=KIND,
        success=report.passed,
        status="passed" if report.passed else "failed",
        evaluated=report.target_rows,
        successful=report.target_rows - report.flagged,
        results=[row],
        gx_version="-",
        started=report.started or now(),
        duration=report.duration,
        report=report.report_path,
        reference_digest=report.reference.digest,
    )


def _png_uri(blob: bytes | None) -> str:
    """The image re-encoded as PNG (what the page shows is decoded pixels, not
    the stored bytes as they are)."""
    if blob is None:
        return ""
    from PIL import Image

    from datagov.pixels.codec import BadImage, decode

    try:
        pixels, _ = decode(blob)
    except BadImage:
        return ""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _images(ref: VersionRows, target: VersionRows, pairs: list[dict]) -> dict[tuple[str, int], str]:
    if ref.images is None:
        return {}
    a = ref.image_bytes([p["reference_row"] for p in pairs])
    b = target.image_bytes([p["target_row"] for p in pairs])
    out = {("r", i): _png_uri(blob) for i, blob in a.items()}
    out |= {("t", i): _png_uri(blob) for i, blob in b.items()}
    return out


def _cell(e, uri: str, name: str | None, label, row: int) -> str:
    img = f'<img src="{uri}" width="{SHOWN_PX}" alt="">' if uri else ""
    caption = (
        f"row {row}"
        + (f" · {e(str(name))}" if name else "")
        + (f" · label {e(str(label))}" if label is not None else "")
    )
    return f"<td>{img}<div class=k>{caption}</div></td>"


def render_html(report: NearReport, ref: VersionRows, target: VersionRows) -> str:
    e = html.escape
    doc = report.to_json()
    images = _images(ref, target, report.pairs)
    verdict = "stable" if report.passed else "drift"
    word = "NEAR-DUPLICATES FOUND" if not report.passed else "CLEAN" if not report.flagged else "WITHIN LIMIT"
    what = (
        f"Near-duplicates inside <code>{e(report.target.ref)}</code>"
        if report.kind == "dedup"
        else f"Rows of <code>{e(report.target.ref)}</code> with a near-copy in <code>{e(report.reference.ref)}</code>"
    )
    rows = []
    for p in report.pairs:
        score = f"{p['score']:.4f}" + (f" · {p['hamming']} bits" if "hamming" in p else "")
        score += f" · cos {p['cosine']:.3f}" if "cosine" in p else ""
        score += " · identical" if p["exact"] else ""
        if images:
            left = _cell(
                e,
                images.get(("r", p["reference_row"]), ""),
                p["reference_name"],
                p.get("reference_label"),
                p["reference_row"],
            )
            right = _cell(
                e, images.get(("t", p["target_row"]), ""), p["target_name"], p.get("target_label"), p["target_row"]
            )
        else:
            texts_a, texts_b = _texts(ref, p["reference_row"]), _texts(target, p["target_row"])
            left, right = f"<td class=k>{e(texts_a)}</td>", f"<td class=k>{e(texts_b)}</td>"
        rows.append(f"<tr>{left}{right}<td>{score}</td></tr>")
    classes = "".join(
        f"<tr><td>{e(str(c['label']))}</td><td>{c['rows']:,}</td><td>{c['flagged']:,}</td></tr>"
        for c in report.per_class
    )
    settings = e(json.dumps(report.settings, sort_keys=True))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{e(report.kind)}: {e(report.target.ref)}</title>
<style>{FIGURES_CSS}
img{{image-rendering:pixelated;border:1px solid #dde2ea}}.k{{font:12px ui-monospace,monospace;color:#556}}
</style></head><body>
<h1>{what}</h1>
<div class="meta">check <code>{e(report.id)}</code> · receipt <code>{e(str(report.receipt_id))}</code> ·
reference digest <code>{e(report.reference.digest)}</code> · target digest <code>{e(report.target.digest)}</code> ·
started {e(doc["started"])} UTC · {report.duration:.2f} s<br>method <code>{settings}</code></div>
<span class="verdict {verdict}">{word}: {report.flagged:,} of {report.target_rows:,} rows
({report.share:.2%}; allowed {report.max_share:.2%}), {report.exact:,} of them identical</span>
<h2>Per class</h2>
<table><thead><tr><th>class</th><th>rows</th><th>flagged</th></tr></thead><tbody>{
        classes or "<tr><td colspan=3>no label column</td></tr>"
    }</tbody></table>
<h2>The most alike pairs ({len(report.pairs)} of {report.pairs_found:,})</h2>
<table><thead><tr><th>{e(report.reference.ref)}</th><th>{e(report.target.ref)}</th><th>similarity</th></tr></thead>
<tbody>{"".join(rows) or "<tr><td colspan=3>none</td></tr>"}</tbody></table>
</body></html>
"""


def _texts(rows: VersionRows, row: int) -> str:
    return " | ".join(str(rows.columns[c][row]) for c in rows.version.columns if c in rows.columns)[:400]


def save_report(
    ws: Workspace, report: NearReport, ref: VersionRows, target: VersionRows, copy_to: Path | None = None
) -> Receipt:
    """JSON and HTML under catalog/reports/ (and the HTML to `copy_to`), then
    the receipt and its lineage edges in one transaction (files first: a
    receipt never points at nothing; a failed write leaves no receipt)."""
    from datagov.outputs import write_report_pair

    ws.reports_dir.mkdir(parents=True, exist_ok=True)
    html_path = ws.reports_dir / f"{report.kind}-{report.id}.html"
    json_path = ws.reports_dir / f"{report.kind}-{report.id}.json"
    report.report_path = str(html_path.relative_to(ws.root))
    report.data_path = str(json_path.relative_to(ws.root))
    receipt = receipt_of(report)
    report.receipt_id = receipt.id
    page = render_html(report, ref, target)
    write_report_pair(json_path, json.dumps(report.to_json(), indent=2, default=str), html_path, page, copy_to)
    with open_catalog(ws, write=True) as con, transaction(con):
        insert_receipt(con, receipt)
        if report.kind == "contamination":
            add_edge(con, "version", report.reference.node_id, "receipt", receipt.id, "contamination-reference")
    return receipt
