"""`datagov select POOL --target TARGET --size N`: a derived version of POOL
whose rows are drawn to match TARGET (importance.py), with a `selected`
lineage edge from the pool (method, target digest, seed) and a
`selection-target` edge from the target, and a `selection` receipt: how far
the target's feature distribution is from the selection's, against a random
draw of the same size from the pool (it passes only when the selection is
closer)."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from datagov.catalog.db import open_catalog, transaction
from datagov.catalog.receipts import Receipt, insert_receipt
from datagov.catalog.versions import (
    NewVersion,
    Registered,
    Version,
    add_edge,
    check_name,
    dataset_of,
    locate,
    now,
    register,
    resolve,
)
from datagov.errors import InvalidInput
from datagov.row_subset import copy_rows, register_offsets
from datagov.selection import features, importance
from datagov.store import build_manifest, duckdb_connection, scan_memory, staged_version, staging
from datagov.verify import damaged_stored_copy, require_intact, require_unchanged
from datagov.workspace import Workspace

RECEIPT_KIND = "selection"
SUITE = "select-importance"
MAX_SHOWN_LABELS = 10
# Columns that say where a row came from, not what it is: never features.
BOOKKEEPING = {"path", "pixel_hash", "phash", "dhash", "thumb", "image"}

# Embeds every image of a version (`training.embeddings.embed_version`), handed
# in by the caller: selection loads no model itself.
Embedder = Callable[[Version], np.ndarray]


@dataclass
class SelectReport:
    pool: Version
    target: Version
    registered: Registered
    size: int
    method: str  # thumbnail-ngrams | column-hashes | encoder
    kl_selected: float  # KL(target || selection) of the bag features, nats
    kl_random: float  # ... of a random draw of the same size from the pool
    kl_pool: float  # ... of the whole pool
    effective_size: float
    receipt: Receipt
    seconds: float
    labels: list[tuple[str, int, int]] = field(default_factory=list)  # (label, in pool, selected), most selected first

    @property
    def passed(self) -> bool:
        return self.receipt.success


@dataclass
class _Side:
    version: Version
    modality: str
    label_column: str | None
    ids: np.ndarray | None = None  # bag feature ids per row
    labels: list | None = None


def select_version(
    ws: Workspace,
    pool_ref: str,
    target_ref: str,
    size: int,
    *,
    seed: int = 0,
    name: str | None = None,
    encoder_uri: str | None = None,
    embedder: Embedder | None = None,
) -> SelectReport:
    started, clock = now(), time.perf_counter()
    if not 0 <= seed < 2**63:
        raise InvalidInput(f"--seed {seed}: use a whole number from 0 to 2^63-1")
    with open_catalog(ws) as con:
        pool, target = resolve(con, pool_ref), resolve(con, target_ref)
        meta, target_meta = dataset_of(con, pool), dataset_of(con, target)
        located = locate(ws, con, pool.digest, pool.dataset)
        target_files = locate(ws, con, target.digest, target.dataset)
    if not target.rows:
        raise InvalidInput(f"{target.ref} has no rows: there is nothing to match")
    if meta.modality != target_meta.modality:
        raise InvalidInput(f"{pool.ref} holds {meta.modality} rows and {target.ref} {target_meta.modality} rows")
    if not 1 <= size <= pool.rows:
        raise InvalidInput(f"--size {size:,}: {pool.ref} has {pool.rows:,} rows; choose from 1 to {pool.rows:,}")
    out_name = check_name(name or f"{pool.dataset}-for-{target.dataset}")
    if out_name in (pool.dataset, target.dataset):
        raise InvalidInput(f"--name {out_name}: the selection is a new dataset, not a version of its pool or target")
    from datagov.store.leases import hold_read_lease

    hold_read_lease(ws, pool.digest)
    intact = require_intact(ws, pool, located, purpose="select from it")
    pool_side = _Side(pool, meta.modality, meta.label_column)
    target_side = _Side(target, target_meta.modality, target_meta.label_column)
    size_of = _read_features(ws, pool_side, intact.files, target_side, target_files)
    assert pool_side.ids is not None and target_side.ids is not None
    if embedder is not None:
        method = "encoder"
        log_w = importance.embedding_log_weights(embedder(pool), embedder(target))
    else:
        method = "thumbnail-ngrams" if meta.modality == "image" else "column-hashes"
        log_w = importance.bag_log_weights(pool_side.ids, target_side.ids, size_of)
    chosen = importance.gumbel_top_k(log_w, size, seed)
    random = np.sort(np.random.default_rng(seed).choice(pool.rows, size, replace=False))
    kl = {
        key: importance.bag_kl(target_side.ids, pool_side.ids[rows], size_of)
        for key, rows in (("selected", chosen), ("random", random), ("pool", np.arange(pool.rows)))
    }
    settings = {
        "method": method,
        "size": size,
        "seed": seed,
        "target": target.node_id,
        "features": "thumbnail-ngrams" if meta.modality == "image" else "column-hashes",
        **({"encoder": encoder_uri} if encoder_uri else {}),
    }
    ess = importance.effective_size(log_w)
    registered, receipt = _write(ws, pool, target, meta, intact, chosen, out_name, settings, kl, ess, started)
    return SelectReport(
        pool, target, registered, size, method, kl["selected"], kl["random"], kl["pool"], ess, receipt,
        time.perf_counter() - clock, _label_mix(pool_side.labels, chosen),
    )  # fmt: skip


def _read_features(ws: Workspace, pool: _Side, pool_files, target: _Side, target_files) -> int:
    """Fill each side's bag feature ids (and the pool's labels); returns the feature space's size."""
    if pool.modality == "image":
        from datagov.near.rows import read_rows

        for side, files in ((pool, pool_files), (target, target_files)):
            rows = read_rows(ws, side.version, files, modality="image", label_column=side.label_column,
                             text_columns=[])  # fmt: skip
            if rows.images is None:
                raise InvalidInput(f"{side.version.ref} has no images to select by")
            side.ids = features.image_ngrams(rows.images.thumbs)
            side.labels = rows.labels.tolist() if rows.labels is not None and side is pool else None
        return features.IMAGE_FEATURES
    return _table_features(ws, pool, pool_files, target, target_files)


def _table_features(ws: Workspace, pool: _Side, pool_files, target: _Side, target_files) -> int:
    types = {c["name"]: str(c.get("type", "")).upper() for c in pool.version.schema}
    target_types = {c["name"]: str(c.get("type", "")).upper() for c in target.version.schema}
    labels = {pool.label_column, target.label_column}
    shared = [c for c in pool.version.columns if c in target_types and c not in BOOKKEEPING and c not in labels]
    if not shared:
        raise InvalidInput(
            f"{pool.version.ref} and {target.version.ref} share no columns to compare",
            hint=f"columns: {', '.join(pool.version.columns)} and {', '.join(target.version.columns)}",
        )
    numeric = [_is_number(types[c]) and _is_number(target_types[c]) for c in shared]
    target_intact = require_intact(ws, target.version, target_files, purpose="select for it")
    pool_table = _read(ws, pool, pool_files, [*shared, *([pool.label_column] if pool.label_column else [])])
    target_table = _read(ws, target, target_intact.files, shared)
    pool.ids, target.ids, size = features.table_features(
        [pool_table.column(c) for c in shared], [target_table.column(c) for c in shared], numeric
    )
    if pool.label_column:
        pool.labels = pool_table.column(pool.label_column).to_pylist()
    return size


def _read(ws: Workspace, side: _Side, files, columns: list[str]):
    from datagov.sql import sql_ident

    duck = duckdb_connection(memory_limit=scan_memory())
    try:
        cols = ", ".join(sql_ident(c) for c in columns)
        return duck.sql(f"SELECT {cols} FROM {files.scan()}").to_arrow_table()
    finally:
        duck.close()


def _is_number(sql_type: str) -> bool:
    return sql_type.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE",
                                "DECIMAL", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "REAL"))  # fmt: skip


def _label_mix(labels: list | None, chosen: np.ndarray) -> list[tuple[str, int, int]]:
    if labels is None:
        return []
    in_pool = Counter(str(v) for v in labels)
    picked = Counter(str(labels[i]) for i in chosen.tolist())
    order = sorted(in_pool, key=lambda k: (-picked[k], -in_pool[k], k))
    return [(k, in_pool[k], picked[k]) for k in order]


def _write(ws, pool, target, meta, intact, chosen, out_name, settings, kl, ess, started):
    """Stage the chosen rows, then register the version and its receipt in one transaction."""
    import pyarrow as pa

    edge = {**settings, "target_digest": target.digest, "started": started.isoformat()}
    duck = duckdb_connection(memory_limit=scan_memory())
    try:
        with staging(ws) as root:
            register_offsets(duck, intact.files)
            duck.register("select_rows", pa.table({"idx": chosen.astype(np.int64)}))
            source = intact.files.scan("filename=true, file_row_number=true")
            copy_rows(duck, source, "SELECT idx FROM select_rows", root / "part-00000.parquet", [], meta.modality)
            manifest = build_manifest(root, duck)
            require_unchanged(pool, intact.fingerprints, purpose="register the selection")
            restore = damaged_stored_copy(ws, out_name, manifest.digest)
            staged_ctx = staged_version(ws, root, manifest.digest)
            with staged_ctx as staged, open_catalog(ws, write=True) as con, transaction(con):
                registered = register(ws, con, NewVersion(
                    name=out_name, manifest=manifest, staged=staged, modality=meta.modality,
                    source=pool.node_id, format="select", label_column=meta.label_column, owner=meta.owner,
                    license=meta.license,
                    description=f"{settings['size']:,} rows of {pool.dataset} chosen to match {target.dataset}",
                    tags={**meta.tags, "selected-for": target.dataset, "parent": pool.dataset},
                    details={"selected_from": pool.node_id, **settings},
                    stage="select",
                    inputs=[("version", pool.node_id, "selected", edge),
                            ("version", target.node_id, "selection-target", edge)],
                    restore=restore,
                ))  # fmt: skip
                receipt = _receipt(registered.version, target, settings, kl, ess, started)
                insert_receipt(con, receipt)
                add_edge(con, "version", target.node_id, "receipt", receipt.id, "selection-reference")
    finally:
        duck.close()
    return registered, receipt


def _receipt(version: Version, target: Version, settings: dict, kl: dict, ess: float, started) -> Receipt:
    passed = kl["selected"] < kl["random"]
    result = {
        "type": "importance_resampling",
        "success": passed,
        "column": None,
        "kwargs": settings,
        "result": {
            "observed_value": round(kl["selected"], 6),
            "kl_random": round(kl["random"], 6),
            "kl_pool": round(kl["pool"], 6),
            "effective_size": round(ess, 1),
            "rows": settings["size"],
        },
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    return Receipt(
        id=f"r-{secrets.token_hex(6)}", dataset=version.dataset, digest=version.digest, suite=SUITE,
        suite_digest=digest, kind=RECEIPT_KIND, success=passed, status="passed" if passed else "failed",
        evaluated=1, successful=int(passed), results=[result], gx_version="-", started=started,
        duration=(now() - started).total_seconds(), reference_digest=target.digest,
    )  # fmt: skip
