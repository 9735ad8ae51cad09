"""The shift report as one self-contained HTML page: inline SVG plots drawn by
matplotlib from the report's aggregates and bounded samples (no scripts, no
network, nothing loaded from the datasets themselves)."""

from __future__ import annotations

import html
import io

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d2433;max-width:1200px}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin-top:2rem}
.meta{color:#556}.meta code{background:#f1f3f7;padding:1px 4px;border-radius:3px}
.verdict{display:inline-block;padding:.3rem .8rem;border-radius:4px;font-weight:600;color:#fff;margin:.6rem 0}
.drift{background:#c0392b}.stable{background:#1f8a4c}
table{border-collapse:collapse;width:100%;margin-top:.6rem}
th,td{border-bottom:1px solid #dde2ea;padding:.35rem .5rem;text-align:left}th{background:#f6f8fb}
.bad{color:#c0392b;font-weight:600}.ok{color:#1f8a4c}
.plots{display:flex;flex-wrap:wrap;gap:1rem}figure.plot{margin:0;width:360px}
figure.plot svg{width:100%;height:auto}figcaption{font-size:12px;color:#556}
"""

REF, TGT = "#3b6fb6", "#e08a1e"


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prologue and doctype


def _figure(plot_id: str, svg: str, caption: str) -> str:
    caption = f"<figcaption>{html.escape(caption)}</figcaption>"
    return f'<figure class="plot" id="plot-{html.escape(plot_id)}">{svg}{caption}</figure>'


def _share(counts: list) -> list[float]:
    total = sum(counts) or 1
    return [c / total for c in counts]


def _histogram(edges: list, ref: list, tgt: list, title: str, refname: str, tgtname: str):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    ax.stairs(_share(ref), edges, fill=True, alpha=0.45, color=REF, label=refname)
    ax.stairs(_share(tgt), edges, fill=True, alpha=0.45, color=TGT, label=tgtname)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("share of rows", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    return fig


def _bars(categories: list, ref: list, tgt: list, title: str, refname: str, tgtname: str):
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    x = np.arange(len(categories))
    ax.bar(x - 0.2, _share(ref), 0.4, color=REF, label=refname)
    ax.bar(x + 0.2, _share(tgt), 0.4, color=TGT, label=tgtname)
    ax.set_xticks(x, [str(c)[:10] for c in categories], fontsize=7, rotation=45 if len(categories) > 8 else 0)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("share of rows", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    return fig


def _scatter(pca: dict, refname: str, tgtname: str):
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    for points, colour, name in ((pca["reference"], REF, refname), (pca["target"], TGT, tgtname)):
        p = np.asarray(points).reshape(-1, 2)
        ax.scatter(p[:, 0], p[:, 1], s=5, alpha=0.5, color=colour, label=name)
    ev = pca.get("explained", [0, 0])
    ax.set_xlabel(f"PC1 ({ev[0]:.0%})", fontsize=8)
    ax.set_ylabel(f"PC2 ({ev[1]:.0%})", fontsize=8)
    ax.set_title("encoder embeddings, 2-D PCA", fontsize=10)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, markerscale=3)
    return fig


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def render_html(doc: dict) -> str:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # text as text: smaller, selectable
    e = html.escape
    ref, tgt = doc["reference"]["ref"], doc["target"]["ref"]
    rows, figures, labels = [], [], []
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
            fig = _histogram(plot["edges"], plot["reference"], plot["target"], c["column"], ref, tgt)
            figures.append(_figure(c["column"], _svg(fig), caption))
        elif "categories" in plot:
            fig = _bars(plot["categories"], plot["reference"], plot["target"], c["column"], ref, tgt)
            (labels if c["column"] == doc.get("label_column") else figures).append(
                _figure(c["column"], _svg(fig), caption)
            )
    skipped = "".join(f"<li><code>{e(s['column'])}</code>: {e(s['reason'])}</li>" for s in doc["skipped"])
    notes = "".join(f"<li>{e(n)}</li>" for n in doc["notes"])
    emb_html = ""
    emb = doc.get("embedding")
    if emb:
        recon = emb["recon"]
        fig = _histogram(recon["edges"], recon["reference"], recon["target"], "reconstruction error (MSE)", ref, tgt)
        emb_figs = _figure("pca", _svg(_scatter(emb["pca"], ref, tgt)), "embeddings projected on two principal axes")
        emb_figs += _figure("reconstruction", _svg(fig), f"KS {recon['ks']:.3f}, p {recon['p_value']:.3g}")
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
<html><head><meta charset="utf-8"><title>Shift {e(ref)} → {e(tgt)}</title><style>{CSS}</style></head><body>
<h1>Distribution shift: {e(ref)} → {e(tgt)}</h1>
<div class="meta">Report <code>{e(doc["id"])}</code>, {e(doc["created"])}, {doc["duration_s"]} s.
Reference {doc["reference"]["rows"]:,} rows, target {doc["target"]["rows"]:,} rows; mode <b>{e(doc["mode"])}</b>
({
        "hypothesis tests, Benjamini-Hochberg adjusted, alpha " + _fmt(s["alpha"])
        if doc["mode"] == "tests"
        else "distances, threshold " + _fmt(s["distance"])
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
