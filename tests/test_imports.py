"""Imports point down: every `from datagov... import` in the package, at module
level or inside a function, is checked against the layers in
docs/architecture.md. A function-level import does not hide an arrow here."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "datagov"

# unit -> units it must never import (a unit is a subpackage, or a top-level module)
FORBIDDEN = {
    "pixels": {"catalog", "store", "quality", "sources", "near", "shift", "training", "tracking", "cli"},
    "catalog": {"tracking", "training", "sources", "near", "shift", "quality", "cli"},
    "store": {"tracking", "training", "sources", "near", "shift", "quality", "cli"},
    "sources": {"near", "shift", "training", "tracking", "cli"},
    "near": {"training", "shift", "cli"},
    "shift": {"training", "near", "cli"},
    "quality": {"training", "near", "shift", "cli"},
    "training": {"cli"},
    "tracking": {"training", "cli"},
    "lifecycle": {"training", "shift", "cli"},
    "selection": {"training", "shift", "cli"},  # an encoder is handed in, as to near/
    "row_subset": {"near", "shift", "training", "tracking", "quality", "selection", "cli"},
}
KNOWN: set[tuple[str, str]] = set()  # an exception would be named here, and in docs/architecture.md


def _unit(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "datagov" or len(parts) < 2:
        return None
    return parts[1].removesuffix(".py")


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "datagov":  # from datagov import tracking
            yield from (f"datagov.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_no_import_points_up():
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        unit = rel.parts[0].removesuffix(".py")
        if unit == "__main__":
            continue  # `python -m datagov` is the CLI's own entry point
        for module in _imports(path):
            target = _unit(module)
            on_top = {"cli", "web"} - {unit} if unit != "cli" else set()  # the CLI may start the desk
            if target in FORBIDDEN.get(unit, set()) | on_top:
                found.add((rel.as_posix(), target))
    assert found == KNOWN, sorted(found - KNOWN)


def _unit_graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        unit = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for module in _imports(path):
            target = _unit(module)
            if target and target != unit:
                edges.setdefault(unit, set()).add(target)
    return edges


def _reaches(edges: dict[str, set[str]], start: str, goal: str) -> bool:
    stack, seen = [start], set()
    while stack:
        here = stack.pop()
        if here == goal:
            return True
        if here not in seen:
            seen.add(here)
            stack.extend(edges.get(here, ()))
    return False


def test_no_two_packages_import_each_other_even_through_others():
    edges = _unit_graph()
    cycles = sorted({tuple(sorted((a, b))) for a, targets in edges.items() for b in targets if _reaches(edges, b, a)})
    assert cycles == []
