"""The lifecycle tables: retirements, erasures, model flags and pending store
deletions (migration 13). The only module that writes SQL against them;
each record is sealed in the chain in the transaction that writes it."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from datagov.catalog import rows
from datagov.catalog.chain import seal
from datagov.catalog.versions import RETIRED, now

if TYPE_CHECKING:
    from datagov.catalog.db import Connection

DELETED = "deleted"  # a retirement's action when the version left the catalog (RETIRED: it stays, retired)
ERASURE, LICENSE, DELETION = "erasure", "license", "deletion"  # why a model is flagged


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


@dataclass(frozen=True)
class Retirement:
    id: str
    kind: str  # version | dataset | receipt | suite | model
    target: str  # name@digest | name | receipt id | suite | NAME/VERSION
    action: str  # retired | deleted
    reason: str
    erasure_id: str | None
    created: datetime
    created_by: str | None = field(default=None, compare=False)

    @property
    def said(self) -> str:
        """Who and why, as refusals quote it."""
        return f"by {self.created_by}: {self.reason} ({self.id})"


def add_retirement(
    con: Connection, kind: str, target: str, action: str, reason: str, erasure_id: str | None = None
) -> Retirement:
    row = Retirement(new_id("r"), kind, target, action, reason, erasure_id, now())
    rows.insert(con, "retirements", row)
    seal(con, "retirement", row.id)
    return row


def retirements(con: Connection, kind: str | None = None, target: str | None = None) -> list[Retirement]:
    found = con.execute(
        f"SELECT {rows.column_list(Retirement)} FROM retirements WHERE (? IS NULL OR kind = ?) "
        "AND (? IS NULL OR target = ?) ORDER BY created, id",
        [kind, kind, target, target],
    )
    return rows.read(found, Retirement)


def retired_targets(con: Connection, kind: str) -> dict[str, Retirement]:
    """Target -> its newest retirement, for one kind (receipts, suites, models)."""
    return {r.target: r for r in retirements(con, kind)}


def retire_version(
    con: Connection, dataset: str, digest: str, reason: str, erasure_id: str | None = None
) -> Retirement:
    """Mark a version retired, and record who and why."""
    con.execute("UPDATE versions SET status = ? WHERE dataset = ? AND digest = ?", [RETIRED, dataset, digest])
    return add_retirement(con, "version", f"{dataset}@{digest}", RETIRED, reason, erasure_id)


def delete_version(
    con: Connection, dataset: str, digest: str, reason: str, erasure_id: str | None = None
) -> Retirement:
    """Record who deleted a version and why, then drop its rows (its bytes go after COMMIT)."""
    record = add_retirement(con, "version", f"{dataset}@{digest}", DELETED, reason, erasure_id)
    drop_version_rows(con, dataset, digest, erasure_id)
    return record


@dataclass(frozen=True)
class Erasure:
    id: str
    reason: str
    selector: dict  # how the items were chosen
    items: int
    rows_removed: int
    versions: list  # [{old, new, action, removed, similar, in_place}]
    models: list  # ["NAME/VERSION", ...]
    keys: list  # the erased items' keys
    created: datetime
    created_by: str | None = field(default=None, compare=False)
    purge: dict | None = None
    purged: datetime | None = None

    @property
    def status(self) -> str:
        return "purged" if self.purged else "applied"


_ERASURE_JSON = ("selector", "versions", "models", "keys", "purge")


def add_erasure(con: Connection, erasure: Erasure) -> None:
    rows.insert(con, "erasures", erasure, json_columns=_ERASURE_JSON, skip=("purge", "purged"))
    seal(con, "erasure", erasure.id)


def record_purge(con: Connection, erasure_id: str, proof: dict) -> None:
    con.execute("UPDATE erasures SET purge = ?, purged = ? WHERE id = ?", [json.dumps(proof), now(), erasure_id])
    seal(con, "purge", erasure_id)


def erasures(con: Connection) -> list[Erasure]:
    found = con.execute(f"SELECT {rows.column_list(Erasure)} FROM erasures ORDER BY created DESC, id")
    return [_purge_none(e) for e in rows.read(found, Erasure, json_columns=_ERASURE_JSON)]


def erasure(con: Connection, erasure_id: str) -> Erasure | None:
    found = con.execute(f"SELECT {rows.column_list(Erasure)} FROM erasures WHERE id = ?", [erasure_id])
    one = rows.read_one(found, Erasure, json_columns=_ERASURE_JSON)
    return _purge_none(one) if one else None


def _purge_none(e: Erasure) -> Erasure:
    """`rows.read` turns a NULL JSON column into {}; an erasure not purged has no proof."""
    from dataclasses import replace

    return replace(e, purge=e.purge or None)


@dataclass(frozen=True)
class Flag:
    """Why a model version may not be promoted until retrained or waived."""

    id: str
    model_name: str
    model_version: str
    kind: str  # erasure | license | deletion
    source: str  # the erasure id, or the dataset whose license changed
    message: str
    created: datetime
    created_by: str | None = field(default=None, compare=False)

    @property
    def model(self) -> str:
        return f"{self.model_name}/{self.model_version}"


def add_flag(con: Connection, model: str, kind: str, source: str, message: str) -> Flag:
    name, _, version = model.rpartition("/")
    flag = Flag(new_id("f"), name, version, kind, source, message, now())
    rows.insert(con, "model_flags", flag)
    seal(con, "flag", flag.id)
    return flag


def flags_of(con: Connection, name: str, version: str) -> list[Flag]:
    found = con.execute(
        f"SELECT {rows.column_list(Flag)} FROM model_flags WHERE model_name = ? AND model_version = ? "
        "ORDER BY created, id",
        [name, version],
    )
    return rows.read(found, Flag)


@dataclass(frozen=True)
class StoreDeletion:
    """Bytes no catalog row references any more, to be removed after COMMIT."""

    digest: str
    root: str  # a bucket prefix, or '' for catalog/store/<digest>
    erasure_id: str | None
    files: list  # [{path, sha256, bytes}]
    created: datetime


def add_store_deletion(con: Connection, deletion: StoreDeletion) -> None:
    con.execute(
        "INSERT INTO store_deletions (digest, root, erasure_id, files, created) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        [deletion.digest, deletion.root, deletion.erasure_id, json.dumps(deletion.files), deletion.created],
    )


def store_deletions(con: Connection) -> list[StoreDeletion]:
    found = con.execute(f"SELECT {rows.column_list(StoreDeletion)} FROM store_deletions ORDER BY created, digest, root")
    return rows.read(found, StoreDeletion, json_columns=["files"])


def finish_store_deletion(con: Connection, digest: str, root: str) -> None:
    con.execute("DELETE FROM store_deletions WHERE digest = ? AND root = ?", [digest, root])


def drop_version_rows(con: Connection, dataset: str, digest: str, erasure_id: str | None) -> StoreDeletion | None:
    """Delete one dataset's version from the catalog (its receipts, runs and
    lineage stay: they are history). When no other version holds the same
    stored bytes, they are noted for deletion after COMMIT; files registered
    in place are the user's and are never deleted."""
    from datagov.catalog.locations import IN_PLACE, STORED, file_entries, location_of

    found = location_of(con, digest, dataset)
    files = [{"path": f.path, "sha256": f.sha256, "bytes": f.bytes} for f in file_entries(con, digest)]
    con.execute("DELETE FROM versions WHERE dataset = ? AND digest = ?", [dataset, digest])
    con.execute("DELETE FROM locations WHERE dataset = ? AND digest = ?", [dataset, digest])
    # None: in place (the user's files); '' : catalog/store/<digest>; else a bucket prefix
    root = None if found is not None and found[1] == IN_PLACE else (found[0] if found is not None else "")
    remaining = con.execute(
        "SELECT l.root, l.mode FROM versions v LEFT JOIN locations l ON l.digest = v.digest AND l.dataset = v.dataset "
        "WHERE v.digest = ?",
        [digest],
    ).fetchall()
    if not remaining:
        con.execute("DELETE FROM files WHERE digest = ?", [digest])
        con.execute("DELETE FROM caches WHERE digest = ?", [digest])
    if root is None or any((r or "") == root and (m or STORED) == STORED for r, m in remaining):
        return None  # in place, or the same stored bytes still serve another version
    deletion = StoreDeletion(digest, root, erasure_id, files, now())
    add_store_deletion(con, deletion)
    return deletion


def digests_held(con: Connection) -> set[str]:
    """Every digest some version still holds."""
    return {r[0] for r in con.execute("SELECT DISTINCT digest FROM versions").fetchall()}
