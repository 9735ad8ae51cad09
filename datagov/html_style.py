"""The style sheets of datagov's HTML reports, shared by every layer that
writes one (a leaf: it imports nothing)."""

# Receipts, reviews, audits: tables of checks and verdicts.
TABLE_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d2433}
h1{font-size:1.4rem;margin:0 0 .3rem}
.meta{color:#556;margin-bottom:1rem}.meta code{background:#f1f3f7;padding:1px 4px;border-radius:3px}
.verdict{display:inline-block;padding:.3rem .8rem;border-radius:4px;font-weight:600;color:#fff}
.passed{background:#1f8a4c}.failed{background:#c0392b}.error{background:#8e44ad}
table{border-collapse:collapse;width:100%;margin-top:1rem}
th,td{border-bottom:1px solid #dde2ea;padding:.4rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fb}td.k{font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap}
.ok{color:#1f8a4c;font-weight:600}.bad{color:#c0392b;font-weight:600}
"""

# Shift and near-duplicate reports: tables and figures.
FIGURES_CSS = """
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
