"""A validation receipt as a self-contained HTML page (no scripts, no network)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from datagov.catalog.receipts import Receipt
from datagov.html_style import TABLE_CSS
from datagov.store.derived import write_text
from datagov.workspace import Workspace


def observed_text(row: dict) -> str:
    if row.get("error"):
        return f"error: {row['error']}"
    res = row.get("result", {})
    # GX reports some set expectations (distinct values in a set) with observed_value None
    # and an unexpected count: show the count, not "null"
    if res.get("observed_value") is not None:
        value = res["observed_value"]
        if isinstance(value, float):
            return f"{value:.6g}"
        return json.dumps(value, default=str)[:200]
    if "unexpected_count" in res:
        pct = res.get("unexpected_percent")
        text = f"{res['unexpected_count']} unexpected" + (f" ({pct:.3g}%)" if pct is not None else "")
        sample = res.get("partial_unexpected_list") or []
        if sample:
            text += ", e.g. " + ", ".join(map(str, sample[:5]))
        return text
    return "-"


def expectation_args(row: dict) -> str:
    kwargs = {k: v for k, v in row.get("kwargs", {}).items() if k != "column"}
    return json.dumps(kwargs, default=str)


def render(receipt: Receipt) -> str:
    esc = html.escape
    rows = []
    for i, row in enumerate(receipt.results, 1):
        mark = '<span class="ok">pass</span>' if row["success"] else '<span class="bad">FAIL</span>'
        rows.append(
            f"<tr><td>{i}</td><td>{mark}</td><td>{esc(row['type'])}</td><td>{esc(str(row.get('column') or ''))}</td>"
            f"<td class=k>{esc(expectation_args(row))}</td><td class=k>{esc(observed_text(row))}</td></tr>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(receipt.suite)} on {esc(receipt.ref)}: {receipt.status}</title>
<style>{TABLE_CSS}</style></head><body>
<h1>Validation of <code>{esc(receipt.ref)}</code> against suite <code>{esc(receipt.suite)}</code></h1>
<div class="meta">receipt <code>{esc(receipt.id)}</code> · kind {esc(receipt.kind)} ·
version digest <code>{esc(receipt.digest)}</code> · suite digest <code>{esc(receipt.suite_digest[:16])}…</code> ·
started {receipt.started:%Y-%m-%d %H:%M:%S} UTC · {receipt.duration:.2f} s ·
Great Expectations {esc(receipt.gx_version)}</div>
<span class="verdict {receipt.status}">{receipt.status.upper()}: {receipt.successful} of {receipt.evaluated}
expectations met</span>
<table><thead><tr><th>#</th><th>result</th><th>expectation</th><th>column</th><th>arguments</th>
<th>observed</th></tr></thead><tbody>
{"".join(rows)}
</tbody></table></body></html>
"""


def write_report(ws: Workspace, receipt: Receipt) -> Path:
    return write_text(ws.reports_dir / f"validation-{receipt.id}.html", render(receipt))
