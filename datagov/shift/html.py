"""The shift report as one self-contained HTML page: inline SVG plots drawn
from the report's aggregates and bounded samples (no scripts, no network,
nothing loaded from the datasets themselves)."""

from __future__ import annotations

import html

from datagov.html_style import FIGURES_CSS
from datagov.shift import svg as charts


def _figure(plot_id: str, svg: str, caption: str) -> str:
    caption = f"<figcaption>{html.escape(caption)}</figcaption>"
    return f'<figure class="plot" id="plot-{html.escape(plot_id)}">{svg}{caption}</figure>'


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def render_html(doc: dict) -> str:
    e = html.escape
    ref, tgt = doc["reference"]["ref"], doc["target"]["ref"]
    rows: list[str] = []
    figures: list[str] = []
    labels: list[str] = []
    for c in doc["columns"]:
        stat = _fmt(c["statistic"])
        p = f"{_fmt(c['p_value'], 3)} / {_fmt(c['q_value'], 3)}" if c["p_value"] is not None else "-"
        flag = '<span class="bad">drift</span>' if c["drift"] else '<span class="ok">ok</span>'
        psi = f"{_fmt(c['psi'], 3)} ({c['psi_band']})" if c["psi"] is not None else "-"
        rows.append(
            f"<tr><td>{e(c['column'])}{' (key)' if c['key'] else ''}</td><td>{e(c['kind'])}</td>"
            f"<td>{e(c['test'])}</td><td>{stat}</td><td>{p}</td><td>{_fmt(c['threshold'])}</td><td>{psi}</td>"
            f"<td>{flag}</td><td>{e(c['note'])}</td></tr>"
        )
        plot = c.get("plot") or {}
        caption = f"{c['column']}: {c['test']} {stat}" + (" - drift" if c["drift"] else "")
        if "edges" in plot:
            svg = charts.histogram(c["column"], plot["edges"], plot["reference"], plot["target"], (ref, tgt))
            figures.append(_figure(c["column"], svg, caption))
        elif "categories" in plot:
            svg = charts.bars(c["column"], plot["categories"], plot["reference"], plot["target"], (ref, tgt))
            (labels if c["column"] == doc.get("label_column") else figures).append(_figure(c["column"], svg, caption))
    skipped = "".join(f"<li><code>{e(s['column'])}</code>: {e(s['reason'])}</li>" for s in doc["skipped"])
    notes = "".join(f"<li>{e(n)}</li>" for n in doc["notes"])
    emb_html = ""
    emb = doc.get("embedding")
    if emb:
        recon = emb["recon"]
        pca = emb["pca"]
        ev = pca.get("explained", [0, 0])
        scatter = charts.scatter(
            f"encoder embeddings, 2-D PCA ({ev[0]:.0%} + {ev[1]:.0%} of variance)",
            pca["reference"], pca["target"], (ref, tgt),
        )  # fmt: skip
        errors = charts.histogram(
            "reconstruction error (MSE)", recon["edges"], recon["reference"], recon["target"], (ref, tgt)
        )
        emb_figs = _figure("pca", scatter, "embeddings projected on two principal axes")
        emb_figs += _figure("reconstruction", errors, f"KS {recon['ks']:.3f}, p {recon['p_value']:.3g}")
        verdict = '<span class="bad">shifted</span>' if emb["drift"] else '<span class="ok">no shift</span>'
        emb_html = (
            f"<h2>Encoder embedding space</h2><p>Encoder <code>{e(emb['pinned'])}</code>; "
            f"{emb['samples'][0]:,} and {emb['samples'][1]:,} images. MMD² {emb['mmd2']:.4g} (RBF kernel, "
            f"median-heuristic bandwidth {emb['bandwidth']:.4g}), permutation p = {emb['p_value']:.3g} "
            f"over {emb['permutations']} permutations: {verdict}. Median reconstruction error "
            f"{recon['median'][0]:.4g} (reference) and {recon['median'][1]:.4g} (target).</p>"
            f'<div class="plots">{emb_figs}</div>'
        )
    rec = doc["recommendation"]
    label_html = f'<h2>Labels</h2><div class="plots">{"".join(labels)}</div>' if labels else ""
    s = doc["settings"]
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Shift {e(ref)} → {e(tgt)}</title><style>{FIGURES_CSS}</style></head><body>
<h1>Distribution shift: {e(ref)} → {e(tgt)}</h1>
<div class="meta">Report <code>{e(doc["id"])}</code>, {e(_utc(doc["created"]))}, {doc["duration_s"]} s.
Reference {doc["reference"]["rows"]:,} rows, target {doc["target"]["rows"]:,} rows; mode <b>{e(doc["mode"])}</b>
({
        "hypothesis tests, Benjamini-Hochberg adjusted, alpha " + _fmt(s["alpha"])
        if doc["mode"] == "tests"
        else "distances, threshold " + _fmt(s["distance"]) + _js_note(s["distance"])
    }).</div>
<div class="verdict {"drift" if doc["drift"] else "stable"}">{"DRIFT" if doc["drift"] else "NO DRIFT"}</div>
<ul>{"".join(f"<li>{e(w)}</li>" for w in doc["why"])}</ul>
<p><b>Transfer recommendation:</b> {e(rec["strategy"] or "none")}: {e(rec["why"])}<br>
<small>{e(rec["rule"])}</small></p>
<h2>Columns</h2>
<table><tr><th>column</th><th>kind</th><th>test</th><th>statistic</th><th>p / adjusted</th><th>threshold</th>
<th>PSI</th><th>verdict</th><th>note</th></tr>{"".join(rows)}</table>
{f"<p>Not tested:</p><ul>{skipped}</ul>" if skipped else ""}
<div class="plots">{"".join(figures)}</div>
{label_html}
{emb_html}
{f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""}
</body></html>
"""


def _utc(iso: str) -> str:
    """The document's ISO time, as every page shows times (`utc_text`)."""
    from datetime import UTC, datetime

    from datagov.catalog.versions import utc_text

    return utc_text(datetime.fromisoformat(iso).astimezone(UTC).replace(tzinfo=None))


def _js_note(distance: float) -> str:
    """Where a user comparing with Evidently needs it: the same number is stricter in base 2."""
    from datagov.shift.stats import JS_NATURAL_PER_BASE2

    return (
        f"; Jensen-Shannon in base 2: {_fmt(distance)} here is {_fmt(distance * JS_NATURAL_PER_BASE2)} "
        f"in the natural log Evidently uses (about 20 % stricter at the same number)"
    )
