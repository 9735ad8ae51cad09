"""`datagov erase`: remove items (and their near-copies) from every version
that holds them, flag the models trained on them, and optionally purge the
old bytes with a proof.

1. `erase_select.select` finds the items and, in each version searched,
   the rows that hold one;
2. the newest version in use of each affected dataset is written again
   without those rows (a new version, lineage edge `erased`); every
   affected version is retired (older ones are history, the new one
   replaces the newest);
3. every model version whose training content held an item is flagged;
4. all of it, and the erasure record, in one catalog transaction: a failure
   or a kill before COMMIT leaves nothing half-done;
5. `--purge` then deletes the old versions and their bytes (`purge.py`).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

from datagov import faults
from datagov.catalog.db import open_catalog, transaction
from datagov.catalog.lifecycle import ERASURE, Erasure, add_erasure, new_id, retire_version
from datagov.catalog.lineage import models_fed_by
from datagov.catalog.versions import RETIRED, NewVersion, Version, dataset_of, latest, now, register, resolve
from datagov.errors import InvalidInput
from datagov.lifecycle.erase_select import IMAGE_KEY, Selection, Selector, VersionHits, select
from datagov.lifecycle.retire import require_reason
from datagov.sql import key_table, sql_ident, sql_str
from datagov.store import build_manifest, duckdb_connection, parquet_options, scan_memory, staged_version, staging
from datagov.verify import require_unchanged
from datagov.workspace import Workspace

REWRITE, RETIRE, WAS_RETIRED = "rewrite", "retire", "was retired"


@dataclass
class Planned:
    hits: VersionHits
    action: str  # rewrite | retire | was retired
    new: Version | None = None  # the version written without the items

    @property
    def old(self) -> Version:
        return self.hits.version


@dataclass
class ErasureResult:
    selection: Selection
    planned: list[Planned]
    models: dict[str, set[str]]  # model version -> the affected version nodes it was trained or evaluated on
    id: str | None = None  # None for a dry run
    purge: dict | None = None
    flagged: list[str] = field(default_factory=list)

    @property
    def rows_removed(self) -> int:
        return sum(p.hits.removed for p in self.planned)


def plan(ws: Workspace, selection: Selection) -> list[Planned]:
    """What happens to each affected version; refuses a rewrite that would leave no rows."""
    out = []
    with open_catalog(ws) as con:
        for hits in selection.affected:
            v = hits.version
            newest = latest(con, v.dataset)
            if v.status == RETIRED:
                action = WAS_RETIRED
            elif newest is not None and newest.digest == v.digest:
                action = REWRITE
            else:
                action = RETIRE
            if action == REWRITE and hits.removed >= hits.total:
                raise InvalidInput(
                    f"erasing would empty {v.ref}: all {hits.total:,} of its rows are among the items",
                    hint=f"delete the version instead: datagov datasets delete {v.ref} --reason ...",
                )
            out.append(Planned(hits, action))
    return out


def erase(
    ws: Workspace, selector: Selector, reason: str | None, *, dry_run: bool = False, purge: bool = False,
    on_version=None,
) -> ErasureResult:  # fmt: skip
    from datagov.lifecycle.flags import tag_flagged

    why = require_reason(reason)
    selection = select(ws, selector, on_version)
    planned = plan(ws, selection)
    with open_catalog(ws) as con:
        models = models_fed_by(con, [p.old.node_id for p in planned])
    result = ErasureResult(selection, planned, models)
    if dry_run:
        return result
    if purge:  # before anything changes: a purge that would have to wait is refused whole
        from datagov.lifecycle.removal import refuse_busy
        from datagov.store.leases import no_readers

        with no_readers(ws, [p.old.digest for p in planned]) as busy:
            refuse_busy(busy, "erase --purge", "datagov erase ... --purge")
    result.id = new_id("e")
    flags = _apply(ws, result, why)
    result.flagged = sorted({f.model for f in flags})
    tag_flagged(ws, flags)
    if purge:
        from datagov.lifecycle.purge import purge_erasure

        result.purge = purge_erasure(ws, result.id)
    return result


def _apply(ws: Workspace, result: ErasureResult, why: str) -> list:
    """Write the new versions, retire the old, record the erasure, flag the models: one transaction."""
    from datagov.lifecycle.flags import flag_models

    assert result.id is not None
    keys = sorted(result.selection.keys)
    rewrites = [p for p in result.planned if p.action == REWRITE]
    with staging(ws) as root:
        manifests = _write_all(root, rewrites, keys)
        for p in result.planned:
            require_unchanged(p.old, p.hits.intact.fingerprints, purpose="erase items from it")
        with ExitStack() as uploads:
            ready = {
                node: uploads.enter_context(staged_version(ws, folder, m.digest))
                for node, (folder, m) in manifests.items()
            }
            with open_catalog(ws, write=True) as con, transaction(con):
                for p in result.planned:
                    _still_as_planned(con, p)
                for p in rewrites:
                    p.new = _register_new(ws, con, p, manifests[p.old.node_id][1], ready[p.old.node_id], result.id)
                for p in result.planned:
                    if p.action != WAS_RETIRED:
                        retire_version(con, p.old.dataset, p.old.digest, f"erasure {result.id}: {why}", result.id)
                add_erasure(con, _record(result, why, keys))
                faults.point("erase:before-commit")
                return flag_models(con, _flag_messages(result), ERASURE, result.id)


def _write_all(root, rewrites: list[Planned], keys: list[str]) -> dict:
    """Every rewrite, two at a time: one COPY leaves a core idle while it encodes and writes."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, min(2, os.cpu_count() or 1))) as pool:
        written = list(pool.map(lambda item: _write_without(root, item[1], keys, item[0]), enumerate(rewrites)))
    return {p.old.node_id: out for p, out in zip(rewrites, written, strict=True)}


def _write_without(root, p: Planned, keys: list[str], index: int):
    """The version's rows less those whose key is erased, in their order, as split writes them."""
    folder = root / f"erase-{index}"
    folder.mkdir()
    duck = duckdb_connection(memory_limit=scan_memory())
    try:
        key_table(duck, "erase_keys", keys)
        key = sql_ident(p.hits.key_column)
        modality = "image" if p.hits.key_column == IMAGE_KEY else "table"
        duck.execute(
            f"COPY (SELECT * FROM {p.hits.intact.files.scan()} WHERE {key} IS NULL OR CAST({key} AS VARCHAR) "
            f"NOT IN (SELECT key FROM erase_keys)) TO {sql_str(str(folder / 'part-00000.parquet'))} "
            f"({parquet_options(modality)})"
        )
        return folder, build_manifest(folder, duck)
    finally:
        duck.close()


def _still_as_planned(con, p: Planned) -> None:
    """Between the search and the lock, another process may have retired or rewritten a version."""
    now_ = resolve(con, p.old.node_id)
    newest = latest(con, p.old.dataset)
    moved = p.action == REWRITE and (newest is None or newest.digest != p.old.digest)
    if now_.status != p.old.status or moved:
        raise InvalidInput(
            f"{p.old.ref} changed while the erasure was prepared (retired, or a newer version was added)",
            hint="run the same datagov erase command again",
        )


def _register_new(ws: Workspace, con, p: Planned, manifest, staged, erasure_id: str) -> Version:
    meta = dataset_of(con, p.old)
    params = {"erasure": erasure_id, "removed": p.hits.removed}
    registered = register(
        ws,
        con,
        NewVersion(
            name=p.old.dataset,
            manifest=manifest,
            staged=staged,
            modality=meta.modality,
            source=meta.source or p.old.node_id,
            format=p.old.format or "erasure",
            label_column=meta.label_column,
            details={**p.old.details, "erasure": erasure_id, "erased_from": p.old.node_id, "removed": p.hits.removed},
            stage="erase",
            inputs=[("version", p.old.node_id, "erased", params)],
        ),
    )
    return registered.version


def _record(result: ErasureResult, why: str, keys: list[str]) -> Erasure:
    assert result.id is not None
    versions = [
        {"old": p.old.node_id, "new": p.new.node_id if p.new else None, "action": p.action,
         "removed": p.hits.removed, "similar": p.hits.similar[:20], "in_place": p.hits.in_place}
        for p in result.planned
    ]  # fmt: skip
    return Erasure(result.id, why, result.selection.document(), len(keys), result.rows_removed, versions,
                   sorted(result.models), keys, now())  # fmt: skip


def _flag_messages(result: ErasureResult) -> dict[str, str]:
    from datagov.lineage import short_version

    removed = {p.old.node_id: p.hits.removed for p in result.planned}
    return {
        model: f"erasure {result.id} removed {sum(removed[n] for n in nodes):,} row(s) from its training content "
        f"({', '.join(short_version(n) for n in sorted(nodes))})"
        for model, nodes in result.models.items()
    }
