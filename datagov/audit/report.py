"""An audit as JSON and a self-contained HTML page under catalog/reports/."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path

from datagov.catalog.versions import utc_iso, utc_text
from datagov.html_style import TABLE_CSS
from datagov.store.derived import write_text
from datagov.workspace import Workspace


def audit_document(audit) -> dict:
    return {
        "id": audit.id,
        "scope": audit.scope,
        "status": audit.status,
        "started": utc_iso(audit.started),
        "ended": utc_iso(audit.ended) if audit.ended else None,
        "interrupted_before": audit.interrupted,
        "chain": audit.chain,
        "versions": [
            {
                "version": r.ref,
                "digest": r.digest,
                "status": r.status,
                "findings": [asdict(f) for f in r.findings],
                "receipts": r.receipts,
                "reused": r.reused,
                "models": r.models,
            }
            for r in audit.results
        ],
        "models_affected": audit.affected,
    }


def write_report(ws: Workspace, audit) -> Path:
    doc = audit_document(audit)
    e = html.escape
    rows = []
    for v in doc["versions"]:
        cls = "bad" if v["status"] == "failed" else "ok"
        findings = (
            "<br>".join(f"{'⚠ ' if f['severity'] == 'warning' else ''}{e(f['message'])}" for f in v["findings"]) or "-"
        )
        rows.append(
            f"<tr><td>{e(v['version'])}</td><td class='{cls}'>{v['status']}</td><td>{findings}</td>"
            f"<td>{e(', '.join(v['models']) or '-')}</td><td>{e(', '.join(v['receipts']) or '-')}</td>"
            f"<td>{e(', '.join(v['reused']) or '-')}</td></tr>"
        )
    affected = "".join(f"<li><code>{e(m)}</code></li>" for m in doc["models_affected"])
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Audit {e(audit.id)}</title><style>{TABLE_CSS}</style></head><body>
<h1>Audit {e(audit.id)}</h1>
<div class="meta">{e(utc_text(audit.started))} to {e(utc_text(audit.ended) if audit.ended else "-")}, scope {
        e(audit.scope or "every audited version")
    }</div>
<span class="verdict {"failed" if audit.failed else "passed"}">{audit.status.upper()}</span>
{
        f"<h2>Model versions trained on failing data</h2><ul>{affected}</ul><p>Each is tagged "
        "<code>datagov.audit=failed</code> and cannot be promoted until a passing audit.</p>"
        if affected
        else ""
    }
<table><tr><th>version</th><th>status</th><th>findings</th><th>models fed</th><th>receipts written</th>
<th>receipts still answering</th></tr>
{"".join(rows)}</table></body></html>
"""
    ws.reports_dir.mkdir(parents=True, exist_ok=True)
    path = ws.reports_dir / f"audit-{audit.id}.html"
    for target, text in ((path, page), (path.with_suffix(".json"), json.dumps(doc, indent=2, default=str))):
        write_text(target, text)
    return path
