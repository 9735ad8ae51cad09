"""Three small chart kinds as inline SVG: overlaid histograms, grouped bars
and a scatter. Written by hand because the report needs only these, and
matplotlib would cost a second of import and drawing per report."""

from __future__ import annotations

from html import escape

W, H = 360, 232
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 26, 46
REF, TGT = "#3b6fb6", "#e08a1e"
LEGEND_CHARS = 52  # what one legend row holds at 10 px


def _short(name: str, size: int = LEGEND_CHARS) -> str:
    """A name that fits, cut in the middle so both the dataset and its digest's end stay readable."""
    if len(name) <= size:
        return name
    keep = size - 1
    return name[: keep - keep // 3] + "…" + name[len(name) - keep // 3 :]


def _num(v: float) -> str:
    return f"{v:.3g}"


def _frame(title: str, body: str, x_labels: tuple[str, str], y_labels: tuple[str, str], names: tuple[str, str]) -> str:
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    legend = "".join(  # one row per side, so whole names fit
        f'<rect x="{LEFT}" y="{H - 27 + i * 13}" width="10" height="10" fill="{c}" fill-opacity="0.6"/>'
        f'<text x="{LEFT + 14}" y="{H - 18 + i * 13}" font-size="10">'
        f"{escape(_short(n))}<title>{escape(n)}</title></text>"
        for i, (c, n) in enumerate(((REF, names[0]), (TGT, names[1])))
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
        f'font-family="system-ui,sans-serif" role="img"><title>{escape(title)}</title>'
        f'<text x="{W / 2}" y="15" font-size="12" text-anchor="middle">{escape(title)}</text>'
        f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#99a"/>{body}'
        f'<text x="{LEFT}" y="{TOP + ph + 12}" font-size="9">{escape(x_labels[0])}</text>'
        f'<text x="{LEFT + pw}" y="{TOP + ph + 12}" font-size="9" text-anchor="end">{escape(x_labels[1])}</text>'
        f'<text x="{LEFT - 4}" y="{TOP + 8}" font-size="9" text-anchor="end">{escape(y_labels[1])}</text>'
        f'<text x="{LEFT - 4}" y="{TOP + ph}" font-size="9" text-anchor="end">{escape(y_labels[0])}</text>'
        f"{legend}</svg>"
    )


def _shares(counts: list) -> list[float]:
    total = sum(counts) or 1
    return [c / total for c in counts]


def histogram(title: str, edges: list[float], ref: list, tgt: list, names: tuple[str, str]) -> str:
    """Both sides as shares of their rows, drawn as half-transparent step areas."""
    a, b = _shares(ref), _shares(tgt)
    top = max(a + b) or 1.0
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    lo, hi = edges[0], edges[-1]
    span = (hi - lo) or 1.0

    def area(values: list[float], colour: str) -> str:
        pts = [f"{LEFT},{TOP + ph}"]
        for i, v in enumerate(values):
            x0 = LEFT + pw * (edges[i] - lo) / span
            x1 = LEFT + pw * (edges[i + 1] - lo) / span
            y = TOP + ph * (1 - v / top)
            pts += [f"{x0:.1f},{y:.1f}", f"{x1:.1f},{y:.1f}"]
        pts.append(f"{LEFT + pw},{TOP + ph}")
        return f'<polygon points="{" ".join(pts)}" fill="{colour}" fill-opacity="0.45" stroke="{colour}"/>'

    return _frame(title, area(a, REF) + area(b, TGT), (_num(lo), _num(hi)), ("0", f"{top:.0%}"), names)


def bars(title: str, categories: list, ref: list, tgt: list, names: tuple[str, str]) -> str:
    a, b = _shares(ref), _shares(tgt)
    top = max(a + b) or 1.0
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = pw / max(len(categories), 1)
    body = []
    for i, cat in enumerate(categories):
        for j, (v, colour) in enumerate(((a[i], REF), (b[i], TGT))):
            h = ph * v / top
            x = LEFT + i * slot + slot * (0.1 + 0.4 * j)
            body.append(f'<rect x="{x:.1f}" y="{TOP + ph - h:.1f}" width="{slot * 0.4:.1f}" height="{h:.1f}" '
                        f'fill="{colour}" fill-opacity="0.8"/>')  # fmt: skip
        if len(categories) <= 20:
            body.append(
                f'<text x="{LEFT + (i + 0.5) * slot:.1f}" y="{TOP + ph + 12}" font-size="9" '
                f'text-anchor="middle">{escape(str(cat)[:6])}</text>'
            )
    return _frame(title, "".join(body), ("", ""), ("0", f"{top:.0%}"), names)


def scatter(title: str, ref: list, tgt: list, names: tuple[str, str]) -> str:
    pts = ref + tgt
    if not pts:
        return _frame(title, "", ("", ""), ("", ""), names)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def dots(points: list, colour: str) -> str:
        return "".join(
            f'<circle cx="{LEFT + pw * (x - x0) / ((x1 - x0) or 1):.1f}" '
            f'cy="{TOP + ph * (1 - (y - y0) / ((y1 - y0) or 1)):.1f}" r="1.8" fill="{colour}" fill-opacity="0.5"/>'
            for x, y in points
        )

    return _frame(title, dots(ref, REF) + dots(tgt, TGT), (_num(x0), _num(x1)), (_num(y0), _num(y1)), names)
