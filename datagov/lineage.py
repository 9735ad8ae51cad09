"""The lineage graph around one node, and its renderings (tree, Mermaid, DOT).

Nodes are (kind, id): `source` (a path or built-in name), `version`
(`name@digest`), and later `run` and `model`. Version-history edges
(`next-version`) are not followed: lineage is about what data flowed where.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from datagov.catalog.lineage import edges_at
from datagov.catalog.versions import SHORT, resolve

if TYPE_CHECKING:
    from datagov.catalog.db import Connection

Node = tuple[str, str]
HISTORY = "next-version"


@dataclass(frozen=True)
class Edge:
    src: Node
    dst: Node
    relation: str
    params: dict


@dataclass
class Graph:
    focus: Node
    edges: list[Edge] = field(default_factory=list)

    @property
    def nodes(self) -> list[Node]:
        seen = {self.focus: None}
        for e in self.edges:
            seen.setdefault(e.src, None)
            seen.setdefault(e.dst, None)
        return list(seen)

    def parents(self, node: Node) -> list[Edge]:
        return [e for e in self.edges if e.dst == node]

    def children(self, node: Node) -> list[Edge]:
        return [e for e in self.edges if e.src == node]


def short_version(node_id: str) -> str:
    """`name@digest` as people read it: `name@` and the digest's first SHORT characters."""
    name, _, digest = node_id.partition("@")
    return f"{name}@{digest[:SHORT]}"


def label(node: Node) -> str:
    kind, ident = node
    return short_version(ident) if kind == "version" else ident


def _edges(con: Connection, node: Node, direction: str) -> list[Edge]:
    rows = edges_at(con, node, direction, skip_relation=HISTORY)
    return [Edge((r[0], r[1]), (r[2], r[3]), r[4], json.loads(r[5]) if r[5] else {}) for r in rows]


def focus_of(con: Connection, target: str) -> Node:
    """The lineage node a user names: a dataset version (NAME[@DIGEST]), a
    registered model (NAME, NAME@VERSION or models:/NAME/VERSION; the newest
    version when none is given), or a training run (its MLflow run id)."""
    from datagov.catalog.lineage import has_node, model_versions
    from datagov.errors import NotFound

    text = target.removeprefix("models:/")
    if target.startswith("models:/"):
        text = text.replace("/", "@", 1)
    if len(text) == 32 and all(c in "0123456789abcdef" for c in text) and has_node(con, ("run", text)):
        return ("run", text)
    name, _, wanted = text.partition("@")
    if not target.startswith("models:/"):
        try:
            return ("version", resolve(con, text).node_id)
        except NotFound:
            pass
    versions = model_versions(con, name)
    if not versions:
        raise NotFound(
            f"no dataset, registered model or run named {target!r}",
            hint="see `datagov datasets list` and `datagov models list`",
        )
    if wanted and wanted not in versions:
        raise NotFound(f"model {name!r} has no version {wanted} in the lineage (versions: {', '.join(versions)})")
    return ("model", f"{name}/{wanted or versions[-1]}")


def graph_for(con: Connection, target: str) -> Graph:
    """Everything upstream and downstream of a dataset version, model or run."""
    return graph_around(con, focus_of(con, target))


def graph_around(con: Connection, focus: Node) -> Graph:
    """Everything upstream and downstream of a node already found."""
    graph = Graph(focus)
    seen_edges = set()
    for direction in ("up", "down"):
        frontier, visited = [focus], {focus}
        while frontier:
            node = frontier.pop()
            for edge in _edges(con, node, direction):
                key = (edge.src, edge.dst, edge.relation)
                if key not in seen_edges:
                    seen_edges.add(key)
                    graph.edges.append(edge)
                nxt = edge.src if direction == "up" else edge.dst
                if nxt not in visited:
                    visited.add(nxt)
                    frontier.append(nxt)
    return graph


def upstream_edges(con: Connection, node: Node) -> list[Edge]:
    """Every edge on the way up from a version to the sources it came from
    (splits and other derivations, then ingests), nearest first."""
    out, pending, seen = [], [node], {node}
    while pending:
        current = pending.pop(0)
        for edge in _edges(con, current, "up"):
            out.append(edge)
            if edge.src[0] == "version" and edge.src not in seen:
                seen.add(edge.src)
                pending.append(edge.src)
    return out


def to_mermaid(graph: Graph) -> str:
    ids = {node: f"n{i}" for i, node in enumerate(graph.nodes)}
    shapes = {"source": ('[/"', '"/]'), "version": ('["', '"]'), "run": ('(["', '"])'), "model": ('{{"', '"}}')}
    lines = ["flowchart LR"]
    for node, nid in ids.items():
        left, right = shapes.get(node[0], ('["', '"]'))
        text = label(node).replace('"', "#quot;")
        lines.append(f"  {nid}{left}{node[0]}: {text}{right}")
    for e in graph.edges:
        lines.append(f"  {ids[e.src]} -->|{e.relation}| {ids[e.dst]}")
    lines.append(f"  style {ids[graph.focus]} stroke-width:3px")
    return "\n".join(lines) + "\n"


def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: Graph) -> str:
    ids = {node: f"n{i}" for i, node in enumerate(graph.nodes)}
    shapes = {"source": "note", "version": "box", "run": "ellipse", "model": "hexagon"}
    lines = ["digraph lineage {", "  rankdir=LR;"]
    for node, nid in ids.items():
        extra = ", penwidth=3" if node == graph.focus else ""
        lines.append(
            f"  {nid} [label={_dot_str(f'{node[0]}: {label(node)}')}, shape={shapes.get(node[0], 'box')}{extra}];"
        )
    for e in graph.edges:
        lines.append(f"  {ids[e.src]} -> {ids[e.dst]} [label={_dot_str(e.relation)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_tree(graph: Graph):
    """A rich Tree: the focus, what it came from, and what was made from it."""
    from rich.markup import escape
    from rich.text import Text
    from rich.tree import Tree

    def describe(node: Node, relation: str | None = None) -> str:
        via = f" [dim]({escape(relation)})[/dim]" if relation else ""
        return f"[cyan]{node[0]}[/cyan] {escape(label(node))}{via}"

    def markup(text: str) -> Text:  # the console prints plain text; these labels carry their own styling
        return Text.from_markup(text)

    root = Tree(markup(f"[bold]{describe(graph.focus)}[/bold]"))

    def grow(branch, node: Node, step, pick, seen: frozenset) -> None:
        for edge in step(node):
            nxt = pick(edge)
            child = branch.add(markup(describe(nxt, edge.relation)))
            if nxt not in seen:
                grow(child, nxt, step, pick, seen | {nxt})

    for title, step, pick in (("upstream", graph.parents, lambda e: e.src),
                              ("downstream", graph.children, lambda e: e.dst)):  # fmt: skip
        if step(graph.focus):
            grow(root.add(markup(f"[bold]{title}[/bold]")), graph.focus, step, pick, frozenset({graph.focus}))
    return root
