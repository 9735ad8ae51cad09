"""A model review as one self-contained HTML page a reviewer can open offline."""

from __future__ import annotations

import html

from datagov.html_style import TABLE_CSS
from datagov.review.facts import ModelFacts


def render_review(facts: ModelFacts, reasons: list) -> str:
    e = html.escape
    metrics = "".join(f"<tr><td>{e(k)}</td><td>{v:.6g}</td></tr>" for k, v in sorted(facts.metrics.items())
                      if "." not in k)  # fmt: skip
    data = []
    for role, d in facts.all_data():
        receipts = (
            "<br>".join(
                f"{e(r.id)} {e(r.suite)} ({e(r.kind)}): "
                + ("<span class='ok'>valid</span>" if r.valid_now else f"<span class='bad'>invalid: {e(r.why)}</span>")
                for r in d.receipts
            )
            or "-"
        )
        drift = "<br>".join(
            f"{e(r['id'])} vs {e(r['reference'])}: " + ("<span class='bad'>drift</span>" if r["drift"]
                                                       else "<span class='ok'>no drift</span>")
            for r in d.drift_reports
        ) or "-"  # fmt: skip
        audit = (
            "-"
            if not d.audit
            else f"<span class='{'bad' if d.audit[0] == 'failed' else 'ok'}'>{d.audit[0]}</span> {e(d.audit[1])}"
        )
        data.append(
            f"<tr><td>{e(role)}</td><td>{e(d.ref)}<br><small>{e(d.digest)}</small></td><td>{e(d.owner or '-')}</td>"
            f"<td>{e(d.license or '-')}</td><td>{receipts}</td><td>{drift}</td><td>{audit}</td></tr>"
        )

    def waiver_state(w) -> str:
        if w.expired:
            return "<b class='bad'>expired</b>"
        return f"expires {w.expires:%Y-%m-%d}" if w.expires else "never expires"

    waivers = "".join(
        f"<li>{e(w.id)} ({e(w.stage)}) by {e(w.who)}, {e(w.approval)}: {e(w.reason)}; {waiver_state(w)}</li>"
        for m in facts.chain()
        for w in m.waivers
    )
    verdict = (
        "<span class='verdict passed'>PROMOTABLE</span>"
        if not reasons
        else "<span class='verdict failed'>PROMOTION REFUSED</span><ul>"
        + "".join(f"<li>{e(r.message)}</li>" for r in reasons)
        + "</ul>"
    )
    tags = "".join(f"<tr><td>{e(k)}</td><td class='k'>{e(v)}</td></tr>" for k, v in sorted(facts.tags.items()))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Review {e(facts.uri)}</title><style>{TABLE_CSS}</style></head><body>
<h1>{e(facts.uri)}</h1>
<div class="meta">{e(facts.stage)} · aliases {e(", ".join(facts.aliases) or "-")} · run <code>{e(facts.run_id)}</code>
· registered {facts.created:%Y-%m-%d %H:%M}</div>
{verdict}
<h2>Data</h2>
<table><tr><th>role</th><th>version</th><th>owner</th><th>license</th><th>receipts at training (valid now?)</th>
<th>drift reports</th><th>latest audit</th></tr>{"".join(data)}</table>
<h2>Metrics</h2><table>{metrics}</table>
{f"<h2>Waivers</h2><ul>{waivers}</ul>" if waivers else ""}
<h2>Registry tags</h2><table>{tags}</table>
</body></html>
"""
