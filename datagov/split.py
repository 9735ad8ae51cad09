"""Deterministic, stratified splits into child datasets, with duplicate and
contamination reports.

Rows are identified by a key: the pixel hash for images, an MD5 of the whole
row for tables. The same key in two splits is contamination: reported, and
removed with `dedupe` (which keeps each key's first row and records the rest
as rejects).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from datagov.catalog.db import open_catalog, transaction
from datagov.catalog.versions import (
    NewVersion,
    Registered,
    Version,
    check_name,
    dataset_of,
    locate,
    now,
    register,
    replace_rejects,
    resolve,
)
from datagov.errors import InvalidInput
from datagov.row_subset import FILES, copy_rows, register_offsets, row_index_sql
from datagov.sql import sql_ident
from datagov.store import build_manifest, duckdb_connection, scan_memory, staged_version, staging
from datagov.verify import damaged_stored_copy, require_intact, require_unchanged
from datagov.workspace import Workspace

LABEL_COLUMNS_IMAGE = ("label", "label_name")


def parse_into(text: str) -> dict[str, float]:
    """`pretrain=0.7,finetune=0.1,eval=0.2` -> ordered fractions (summing to at most 1)."""
    out: dict[str, float] = {}
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        key = key.strip()
        try:
            frac = float(value)
        except ValueError:
            frac = -1.0
        if not sep or not key or not 0 < frac <= 1:
            raise InvalidInput(f"invalid split {part.strip()!r}: expected NAME=FRACTION with 0 < FRACTION <= 1")
        check_name(key)
        if key in out:
            raise InvalidInput(f"split {key!r} is named twice")
        out[key] = frac
    if sum(out.values()) > 1 + 1e-9:
        raise InvalidInput(f"split fractions add up to {sum(out.values()):g}, more than 1")
    return out


def parse_per_class(text: str | None, splits: dict[str, float]) -> dict[str, int]:
    """`N` caps every split at N rows per class; `finetune=10,eval=50` caps those named."""
    if not text:
        return {}
    if "=" not in text:
        n = _positive_int(text)
        return dict.fromkeys(splits, n)
    caps = {}
    for part in text.split(","):
        key, _, value = part.strip().partition("=")
        if key not in splits:
            raise InvalidInput(f"--per-class names split {key!r}, which is not in --into")
        caps[key] = _positive_int(value)
    return caps


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n <= 0:
        raise InvalidInput(f"invalid per-class count {text!r}: expected a positive whole number")
    return n


@dataclass
class ChildReport:
    split: str
    registered: Registered
    rows: int
    classes: int | None


@dataclass
class SplitReport:
    parent: Version
    children: list[ChildReport]
    duplicate_rows: int  # rows whose key appeared earlier in the parent
    duplicate_groups: int
    overlaps: dict[tuple[str, str], int] = field(default_factory=dict)  # keys in both splits
    removed: int = 0  # rows dropped by dedupe
    unassigned: int = 0  # rows in no split (fractions < 1 or per-class caps)


def _allocate(n: int, fractions: list[float]) -> list[int]:
    """Largest-remainder rounding of n * fractions (never more than n)."""
    raw = [n * f for f in fractions]
    counts = [int(np.floor(r)) for r in raw]
    target = min(n, round(sum(raw)))
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[: max(0, target - sum(counts))]:
        counts[i] += 1
    return counts


def assign(
    labels: np.ndarray | None,
    keep: np.ndarray,
    fractions: dict[str, float],
    caps: dict[str, int],
    seed: int,
) -> np.ndarray:
    """Split index per row (-1: none). Stratified by label when labels exist."""
    n = len(keep)
    out = np.full(n, -1, dtype=np.int64)
    rng = np.random.default_rng(seed)
    names = list(fractions)
    if labels is None:
        strata = [np.flatnonzero(keep)]
    else:
        strata = [np.flatnonzero(keep & (labels == value)) for value in np.unique(labels[keep])]
    for rows in strata:
        rows = rows[rng.permutation(len(rows))]
        counts = _allocate(len(rows), [fractions[s] for s in names])
        start = 0
        for idx, (name, count) in enumerate(zip(names, counts, strict=True)):
            take = min(count, caps[name]) if name in caps and labels is not None else count
            out[rows[start : start + take]] = idx
            start += count
    return out


def _row_table(duck, source: str, files, key_sql: str, label_col: str | None) -> None:
    """`split_rows` (idx, key, label): one row per parent row, idx its place in
    file order (`row_subset`)."""
    register_offsets(duck, files)
    label_sql = sql_ident(label_col) if label_col else "NULL"
    duck.execute(
        f"CREATE TEMP TABLE split_rows AS SELECT {row_index_sql()} AS idx, {key_sql} AS key, "
        f"{label_sql} AS label FROM {source} s JOIN {FILES} f USING (filename)"
    )


def _first_rows_and_labels(duck, labelled: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """For each row in order: the first row with its key, and its class as an
    index into the sorted labels (-1 for a missing label)."""
    # NULLs sort last, so they do not shift the codes of the labels before them
    label_code = "CASE WHEN label IS NULL THEN -1 ELSE dense_rank() OVER (ORDER BY label) - 1 END" if labelled else "0"
    table = duck.sql(
        f"SELECT min(idx) OVER (PARTITION BY key) AS first, {label_code} AS code FROM split_rows ORDER BY idx"
    ).to_arrow_table()
    first = table.column("first").to_numpy()
    return first, table.column("code").to_numpy() if labelled else None


def _overlaps(duck, names: list[str]) -> dict[tuple[str, str], int]:
    """Keys that landed in two splits: {(a, b): how many}."""
    pairs = duck.execute(
        "WITH placed AS (SELECT DISTINCT r.key, w.split FROM split_rows r JOIN split_which w USING (idx) "
        "WHERE w.split >= 0) SELECT a.split, b.split, count(*) FROM placed a JOIN placed b "
        "ON a.key = b.key AND a.split < b.split GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    return {(names[a], names[b]): n for a, b, n in pairs}


def _row_keys_sql(version: Version, modality: str) -> str:
    if modality == "image" and "pixel_hash" in version.columns:
        return "pixel_hash"
    cols = ", ".join(sql_ident(c) for c in version.columns)
    return f"md5_number(CAST(ROW({cols}) AS VARCHAR))"  # 128 bits, as md5, in 16 bytes instead of 32


def _dedupe_mode(dedupe: bool | str | None) -> str | None:
    if dedupe in (None, False, ""):
        return None
    if dedupe is True or dedupe == "exact":
        return "exact"
    if dedupe == "near":
        return "near"
    raise InvalidInput(f"--dedupe {dedupe!r}: use exact or near")


def _near_first_rows(ws: Workspace, parent: Version, first: np.ndarray):
    """`first` (each row's first exact copy) joined with near-duplicate pairs
    (`datagov dedup`'s defaults): each row's first row of its group, and for
    rows in a near pair, (the row it is like, similarity)."""
    from datagov.near.check import first_of_groups, run_check

    pairing = run_check(ws, parent.node_id, None, every_pair=True)[3]
    rows = np.arange(len(first))
    roots = first_of_groups(len(first), np.concatenate([rows, pairing.ref]), np.concatenate([first, pairing.target]))
    near: dict[int, tuple[int, float]] = {}
    for i, j, score in zip(pairing.target.tolist(), pairing.ref.tolist(), pairing.score.tolist(), strict=True):
        near.setdefault(i, (j, score))
        near.setdefault(j, (i, score))
    return roots, near


def _row_names(duck, source: str, rows: list[int]) -> dict[int, str]:
    """The `path` (the source file or key) of each of these rows, by row index."""
    if not rows:
        return {}
    duck.register("split_wanted", pa.table({"idx": np.asarray(rows, np.int64)}))
    found = duck.execute(
        f"SELECT {row_index_sql()} AS idx, s.path FROM {source} s JOIN {FILES} f USING (filename) "
        f"SEMI JOIN split_wanted w ON w.idx = {row_index_sql()}"
    ).fetchall()
    return {int(i): str(p) for i, p in found if p is not None}


def _row_item(row: int, names: dict[int, str]) -> str:
    return f"row {row} ({names[row]})" if row in names else f"row {row}"


def _reject_reason(row: int, first: int, near: dict[int, tuple[int, float]]) -> str:
    if row in near:
        like, score = near[row]
        return f"near-duplicate of row {like} (similarity {score:.4f}); its group's first row is {first}"
    return f"duplicate of row {first}"


def split_version(
    ws: Workspace,
    ref: str,
    into: dict[str, float],
    *,
    per_class: dict[str, int] | None = None,
    drop_labels: list[str] | None = None,
    seed: int = 0,
    dedupe: bool | str = False,
    prefix: str | None = None,
) -> SplitReport:
    """Split a version into child versions. `dedupe`: "exact" (or True) drops
    rows identical to an earlier row; "near" also drops near-duplicates
    (`datagov dedup`'s default method), so no near-copy lands in two splits."""
    started = now()
    mode = _dedupe_mode(dedupe)
    if not 0 <= seed < 2**63:
        raise InvalidInput(f"--seed {seed}: use a whole number from 0 to 2^63-1")
    caps = per_class or {}
    drop = set(drop_labels or [])
    if unknown := drop - set(into):
        raise InvalidInput(f"--drop-labels names {sorted(unknown)}, not in --into")
    with open_catalog(ws) as con:
        parent = resolve(con, ref)
        meta = dataset_of(con, parent)
        located = locate(ws, con, parent.digest, parent.dataset)
    # Children are derived from these bytes; lineage says they come from this digest.
    from datagov.store.leases import hold_read_lease

    hold_read_lease(ws, parent.digest)
    intact = require_intact(ws, parent, located, purpose="split")
    label_col = meta.label_column
    if caps and not label_col:
        raise InvalidInput(f"--per-class needs labels; dataset {parent.dataset!r} has no label column")
    base = prefix or parent.dataset
    child_names = {s: check_name(f"{base}-{s}") for s in into}

    source = intact.files.scan("filename=true, file_row_number=true")
    duck = duckdb_connection(memory_limit=scan_memory())
    try:
        _row_table(duck, source, intact.files, _row_keys_sql(parent, meta.modality), label_col)
        first, labels = _first_rows_and_labels(duck, label_col is not None)
        near: dict[int, tuple[int, float]] = {}
        if mode == "near":
            first, near = _near_first_rows(ws, parent, first)
            duck.register("split_roots", pa.table({"idx": np.arange(len(first)), "root": first}))
            duck.execute(
                "CREATE OR REPLACE TEMP TABLE split_rows AS SELECT r.idx, g.root AS key, r.label "
                "FROM split_rows r JOIN split_roots g USING (idx)"
            )
        n = len(first)
        keep = first == np.arange(n)
        duplicate_rows = n - int(keep.sum())
        duplicate_groups = int(np.unique(first[~keep]).size)
        dup_of = np.flatnonzero(~keep)
        if not mode:
            keep[:] = True
        if labels is not None and keep.any() and (labels[keep] < 0).any():
            raise InvalidInput(f"label column {label_col!r} of {parent.ref} has nulls; cannot stratify")
        which = assign(labels, keep, into, caps, seed)
        names = list(into)
        if empty := [s for i, s in enumerate(names) if not (which == i).any()]:
            raise InvalidInput(
                f"split {empty[0]!r} of {parent.ref} would have no rows ({n:,} rows in all); "
                "an empty version can pass every check, so none is registered",
                hint="raise its fraction or --per-class cap",
            )
        duck.register("split_which", pa.table({"idx": np.arange(n), "split": which}))
        overlaps = _overlaps(duck, names)
        pairs = list(zip(dup_of.tolist(), first[dup_of].tolist(), strict=True)) if mode else []
        names_of = _row_names(duck, source, [i for i, _ in pairs]) if "path" in parent.columns else {}
        rejects = [(_row_item(i, names_of), _reject_reason(i, j, near)) for i, j in pairs]

        children = []
        with staging(ws) as root:
            staged = {}
            for idx, s in enumerate(names):
                folder = root / s
                folder.mkdir()
                excluded = []
                if s in drop and label_col:
                    excluded = [c for c in (label_col, *LABEL_COLUMNS_IMAGE) if c in parent.columns]
                chosen = f"SELECT idx FROM split_which WHERE split = {idx}"
                copy_rows(duck, source, chosen, folder / "part-00000.parquet", excluded, meta.modality)
                staged[s] = build_manifest(folder, duck)
            params_base = {"seed": seed, "fractions": into, "per_class": caps, "dedupe": mode}
            edge_params = {**params_base, "started": started.isoformat()}
            require_unchanged(parent, intact.fingerprints, purpose="register its splits")
            restore = {s: damaged_stored_copy(ws, child_names[s], staged[s].digest) for s in names}  # before the lock
            with ExitStack() as uploads:
                ready = {s: uploads.enter_context(staged_version(ws, root / s, staged[s].digest)) for s in names}
                with open_catalog(ws, write=True) as con, transaction(con):
                    for idx, s in enumerate(names):
                        kept_labels = label_col if s not in drop else None
                        reg = register(
                            ws,
                            con,
                            NewVersion(
                                name=child_names[s],
                                manifest=staged[s],
                                staged=ready[s],
                                modality=meta.modality,
                                source=parent.node_id,
                                format="split",
                                label_column=kept_labels,
                                owner=meta.owner,
                                license=meta.license,
                                description=meta.description or f"{s} split of {parent.dataset}",
                                tags={**meta.tags, "split": s, "parent": parent.dataset},
                                details={
                                    "split": s,
                                    "parent": parent.node_id,
                                    **params_base,
                                    "labels_dropped": s in drop,
                                },
                                stage="split",
                                inputs=[("version", parent.node_id, "split", {**edge_params, "split": s})],
                                restore=restore[s],
                            ),
                        )
                        classes = len(np.unique(labels[which == idx])) if labels is not None and s not in drop else None
                        children.append(ChildReport(s, reg, int((which == idx).sum()), classes))
                    if rejects:  # what dedupe removed is recorded against the parent, once
                        replace_rejects(con, parent.dataset, parent.digest, "split-dedupe", rejects)
    finally:
        duck.close()
    return SplitReport(
        parent=parent,
        children=children,
        duplicate_rows=duplicate_rows,
        duplicate_groups=duplicate_groups,
        overlaps=overlaps,
        removed=int((~keep).sum()),
        unassigned=int(((which == -1) & keep).sum()),
    )
