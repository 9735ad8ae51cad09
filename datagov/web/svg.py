"""A lineage graph as SVG, laid out on the server: columns by depth (sources
left, models right), one box per node, a labelled arrow per edge. Every
label is escaped; links go only to the desk's own pages."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from datagov.lineage import Graph, Node, label

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 180, 34, 80, 18, 12
MAX_LABEL = 26  # characters shown in a box; the full name is in its tooltip
MAX_RELATION = 14  # characters of an edge's label that fit its gap; the whole word is in its tooltip
COLOURS = {"source": "#eef1f6", "version": "#e6f0ff", "run": "#fff4e0", "model": "#e8f6ec", "receipt": "#f4ecfb"}


def depths(graph: Graph) -> dict[Node, int]:
    """Each node's column: the longest path to it from a node with no parents (cycles cut)."""
    parents: dict[Node, list[Node]] = {n: [] for n in graph.nodes}
    for e in graph.edges:
        parents[e.dst].append(e.src)
    out: dict[Node, int] = {}

    def depth(node: Node, trail: frozenset) -> int:
        if node in out:
            return out[node]
        ups = [p for p in parents[node] if p not in trail]
        out[node] = 1 + max((depth(p, trail | {node}) for p in ups), default=-1)
        return out[node]

    for node in graph.nodes:
        depth(node, frozenset())
    return out


def link_of(node: Node) -> str | None:
    """The desk's page for a node, its parts percent-encoded (a model's name is any string)."""
    kind, ident = node
    if kind == "version":
        name, _, digest = ident.partition("@")
        return f"/datasets/{quote(name, safe='')}/{quote(digest, safe='')}"
    if kind == "model":
        name, _, version = ident.rpartition("/")
        return f"/models/{quote(name, safe='')}/{quote(version, safe='')}"
    if kind == "receipt":
        return f"/receipts/{quote(ident, safe='')}"
    return None


def render(graph: Graph) -> str:
    column = depths(graph)
    rows: dict[int, list[Node]] = {}
    for node in graph.nodes:
        rows.setdefault(column[node], []).append(node)
    place = {}
    for col, members in rows.items():
        for i, node in enumerate(sorted(members)):
            place[node] = (PAD + col * (BOX_W + GAP_X), PAD + i * (BOX_H + GAP_Y))
    width = PAD * 2 + (max(rows, default=0) + 1) * (BOX_W + GAP_X) - GAP_X
    height = PAD * 2 + max((len(m) for m in rows.values()), default=1) * (BOX_H + GAP_Y) - GAP_Y
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="lineage graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#8a93a6"/></marker></defs>',
    ]
    parts += [_edge(place[e.src], place[e.dst], e.relation) for e in graph.edges]
    parts += [_box(node, place[node], node == graph.focus) for node in graph.nodes]
    parts.append("</svg>")
    return "".join(parts)


def _edge(src: tuple[int, int], dst: tuple[int, int], relation: str) -> str:
    x1, y1 = src[0] + BOX_W, src[1] + BOX_H // 2
    x2, y2 = dst[0], dst[1] + BOX_H // 2
    if x2 <= x1:  # same column or backwards (a cut cycle): route below
        x1, x2 = src[0] + BOX_W // 2, dst[0] + BOX_W // 2
        y1, y2 = src[1] + BOX_H, dst[1]
    mid = (x1 + x2) // 2
    shown = relation if len(relation) <= MAX_RELATION else relation[: MAX_RELATION - 1] + "…"
    return (
        f'<path d="M {x1} {y1} C {mid} {y1}, {mid} {y2}, {x2} {y2}" fill="none" stroke="#8a93a6" '
        f'marker-end="url(#arrow)"/><text x="{mid}" y="{(y1 + y2) // 2 - 4}" font-size="9" fill="#556" '
        f'text-anchor="middle">{escape(shown)}<title>{escape(relation)}</title></text>'
    )


def _box(node: Node, at: tuple[int, int], focus: bool) -> str:
    x, y = at
    text = label(node)
    shown = text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"
    stroke = "#1d2433" if focus else "#b6bfcf"
    body = (
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="5" fill="{COLOURS.get(node[0], "#fff")}" '
        f'stroke="{stroke}" stroke-width="{2 if focus else 1}"/>'
        f'<text x="{x + 8}" y="{y + 14}" font-size="9" fill="#667">{escape(node[0])}</text>'
        f'<text x="{x + 8}" y="{y + 27}" font-size="12" fill="#1d2433">{escape(shown)}</text>'
        f"<title>{escape(node[0])}: {escape(node[1])}</title>"
    )
    href = link_of(node)
    return f'<a href="{escape(href)}">{body}</a>' if href else body
