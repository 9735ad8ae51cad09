"""The `lineage` table's queries: edges between sources, versions, receipts,
drift reports, runs and models (edges are added by `versions.add_edge`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datagov.catalog.db import Connection


Node = tuple[str, str]  # (kind, id)


def _in(values: list[str]) -> str:
    return ", ".join("?" * len(values)) or "NULL"


def edges_at(
    con: Connection, node: Node, direction: str, *, skip_relation: str
) -> list[tuple[str, str, str, str, str, str | None]]:
    """(src_kind, src_id, dst_kind, dst_id, relation, params JSON) of the
    edges into (`up`) or out of (`down`) a node, oldest first."""
    mine, other = ("dst", "src") if direction == "up" else ("src", "dst")
    return con.execute(
        f"SELECT src_kind, src_id, dst_kind, dst_id, relation, params FROM lineage "
        f"WHERE {mine}_kind = ? AND {mine}_id = ? AND relation <> ? ORDER BY created, {other}_id",
        [node[0], node[1], skip_relation],
    ).fetchall()


def inputs_of_runs(con: Connection, run_ids: list[str]) -> list[tuple[str, str, str, str]]:
    """(src_kind, src_id, run id, relation) of every edge into these runs."""
    return con.execute(
        f"SELECT src_kind, src_id, dst_id, relation FROM lineage WHERE dst_kind = 'run' AND dst_id IN ({_in(run_ids)})",
        list(run_ids),
    ).fetchall()


def models_into_runs(con: Connection, run_ids: list[str]) -> list[str]:
    """Models these runs started from (a transfer's encoder)."""
    rows = con.execute(
        f"SELECT src_id FROM lineage WHERE src_kind = 'model' AND dst_kind = 'run' AND dst_id IN ({_in(run_ids)})",
        list(run_ids),
    )
    return [r[0] for r in rows.fetchall()]


def runs_registering(con: Connection, models: list[str]) -> set[str]:
    """The runs that registered these model versions (NAME/VERSION)."""
    rows = con.execute(
        "SELECT src_id FROM lineage WHERE src_kind = 'run' AND dst_kind = 'model' "
        f"AND relation = 'registered' AND dst_id IN ({_in(models)})",
        list(models),
    )
    return {r[0] for r in rows.fetchall()}


def versions_into_run(con: Connection, run_id: str) -> list[tuple[str, str]]:
    """(version node, relation) of the data a run trained or evaluated on."""
    return con.execute(
        "SELECT src_id, relation FROM lineage WHERE src_kind = 'version' AND dst_kind = 'run' AND dst_id = ? "
        "ORDER BY relation DESC, src_id",
        [run_id],
    ).fetchall()


def trained_versions(con: Connection, node: Node) -> set[str]:
    """Version nodes that trained a model (("model", "NAME/VERSION")) or a run (("run", ID))."""
    kind, ident = node
    rows = con.execute(
        "SELECT DISTINCT t.src_id FROM lineage t JOIN lineage r ON r.src_kind = 'run' AND r.src_id = t.dst_id "
        "WHERE t.src_kind = 'version' AND t.relation = 'trained' AND t.dst_kind = 'run' "
        "AND ((? = 'model' AND r.dst_kind = 'model' AND r.dst_id = ?) OR (? = 'run' AND t.dst_id = ?))",
        [kind, ident, kind, ident],
    )
    return {r[0] for r in rows.fetchall()}


def model_versions(con: Connection, name: str) -> list[str]:
    """Versions (as text) of a registered model that appear in the lineage, lowest first."""
    rows = con.execute(
        "SELECT DISTINCT dst_id FROM lineage WHERE dst_kind = 'model' AND dst_id LIKE ? ESCAPE '\\'",
        [name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"],
    ).fetchall()
    versions = [r[0].rsplit("/", 1)[1] for r in rows if r[0].rsplit("/", 1)[0] == name]
    return sorted((v for v in versions if v.isdigit()), key=int)


def has_node(con: Connection, node: Node) -> bool:
    return (
        con.execute(
            "SELECT 1 FROM lineage WHERE (src_kind = ? AND src_id = ?) OR (dst_kind = ? AND dst_id = ?) LIMIT 1",
            [node[0], node[1], node[0], node[1]],
        ).fetchone()
        is not None
    )


def encoders_of(con: Connection, model: str) -> list[str]:
    """The model versions (NAME/VERSION) the run that registered `model` started from."""
    return sorted(set(models_into_runs(con, sorted(runs_registering(con, [model])))))


def models_built_on(con: Connection, models: set[str]) -> set[str]:
    """Every model version made, directly or through other models, from these
    (a classifier transferred from an encoder), not including them."""
    found: set[str] = set()
    frontier = set(models)
    while frontier:
        rows = con.execute(
            "SELECT DISTINCT r.dst_id FROM lineage i JOIN lineage r ON r.src_kind = 'run' AND r.src_id = i.dst_id "
            "AND r.dst_kind = 'model' AND r.relation = 'registered' "
            f"WHERE i.src_kind = 'model' AND i.dst_kind = 'run' AND i.src_id IN ({_in(sorted(frontier))})",
            sorted(frontier),
        ).fetchall()
        frontier = {r[0] for r in rows} - found - models
        found |= frontier
    return found


def training_versions(con: Connection, model: str) -> dict[str, str]:
    """Version node -> the model version it trained, for a model and every
    encoder it was built from (its training content, transitively)."""
    out: dict[str, str] = {}
    pending, seen = [model], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for node in sorted(trained_versions(con, ("model", current))):
            out.setdefault(node, current)
        pending += encoders_of(con, current)
    return out


def baselines_of(con: Connection, run_ids: list[str]) -> list[tuple[str, str, str]]:
    """(parent run id, baseline run id, params JSON) of the baselines nested in these runs."""
    return con.execute(
        "SELECT src_id, dst_id, params FROM lineage WHERE src_kind = 'run' AND dst_kind = 'run' "
        f"AND relation = 'baseline' AND src_id IN ({_in(run_ids)})",
        list(run_ids),
    ).fetchall()


def contamination_references(con: Connection, receipt_ids: list[str]) -> dict[str, str]:
    """Receipt id -> the version node a contamination receipt checked against."""
    rows = con.execute(
        "SELECT dst_id, src_id FROM lineage WHERE dst_kind = 'receipt' AND relation = 'contamination-reference' "
        f"AND dst_id IN ({_in(receipt_ids)})",
        list(receipt_ids),
    ).fetchall()
    return dict(rows)


def models_fed_by(con: Connection, nodes: list[str]) -> dict[str, set[str]]:
    """Model version (NAME/VERSION) -> the version nodes among `nodes` it was
    trained or evaluated on, directly or through an encoder it was built on."""
    if not nodes:
        return {}
    rows = con.execute(
        "SELECT DISTINCT v.src_id, r.dst_id FROM lineage v JOIN lineage r ON r.src_kind = 'run' "
        "AND r.src_id = v.dst_id AND r.dst_kind = 'model' AND r.relation = 'registered' "
        f"WHERE v.src_kind = 'version' AND v.dst_kind = 'run' AND v.src_id IN ({_in(nodes)})",
        list(nodes),
    ).fetchall()
    out: dict[str, set[str]] = {}
    for node, model in rows:
        out.setdefault(model, set()).add(node)
    for model, held in list(out.items()):
        for built in models_built_on(con, {model}):
            out.setdefault(built, set()).update(held)
    return out


def child_versions(con: Connection, node: str) -> list[str]:
    """Versions (name@digest, still in the catalog) derived from this one: splits, derivations, erasures."""
    rows = con.execute(
        "SELECT DISTINCT l.dst_id FROM lineage l JOIN versions v ON v.dataset || '@' || v.digest = l.dst_id "
        "WHERE l.src_kind = 'version' AND l.src_id = ? AND l.dst_kind = 'version' "
        "AND l.relation NOT IN ('next-version', 'erased') ORDER BY 1",
        [node],
    ).fetchall()
    return [r[0] for r in rows]
