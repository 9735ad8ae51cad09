"""The `chain` table: every record that proves something, sealed in order.

A receipt, a waiver, a training run (when it starts and when it ends), a
registered model's weight record, a finished audit, a promotion, a request
and its approval, a retirement, an erasure (and its purge) and a model's
flag each append one entry:
the SHA-256 of the record's sealed columns, and a hash linking it to the
entry before. `verify` recomputes both, so a record rewritten, deleted or
slipped in behind datagov's back is named, and so is an edited or removed
entry. This does not make the catalog unforgeable: whoever can write it can
rebuild the whole chain. It makes forgery a deliberate rewrite of everything
after the forged record, which the chain head recorded elsewhere (each MLflow
run's `datagov.chain_head` tag) then contradicts.

Only columns that never change once sealed are hashed (a run's start and
its end are two entries), so ordinary updates do not read as tampering.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datagov.catalog.db import Connection


GENESIS = "0" * 64


@dataclass(frozen=True)
class Sealed:
    table: str
    key: str  # an SQL expression naming one row
    columns: tuple[str, ...]
    sealed_when: str = "true"  # rows not yet final are not expected in the chain
    # Columns added after records were first sealed (`created_by`): hashed
    # only when set, so records sealed before they existed still verify.
    added: tuple[str, ...] = ()


SEALED: dict[str, Sealed] = {
    "receipt": Sealed(
        "receipts", "id",
        ("id", "dataset", "digest", "suite", "suite_digest", "kind", "success", "status", "evaluated", "successful",
         "results", "gx_version", "started", "reference_digest"),
    ),
    "waiver": Sealed("waivers", "id", ("id", "target", "stage", "reason", "who", "refused", "created", "expires")),
    "run": Sealed(
        "runs",
        "run_id",
        ("run_id", "stage", "pipeline", "experiment", "dataset", "digest", "gate", "waiver_id", "started"),
        added=("created_by",),
    ),
    "run-end": Sealed(
        "runs", "run_id", ("run_id", "status", "model_name", "model_version", "metrics", "ended"), "status <> 'running'"
    ),
    "model": Sealed(
        "model_artifacts", "model_name || '/' || model_version",
        ("model_name", "model_version", "run_id", "artifact", "sha256", "bytes", "arch"),
        added=("created_by",),
    ),
    "audit": Sealed(
        "audits", "id", ("id", "scope", "status", "versions", "failed", "summary", "started", "ended"),
        "status IN ('passed', 'failed', 'interrupted')", ("created_by",),
    ),
    "promotion": Sealed(
        "promotions", "id",
        ("id", "model_name", "model_version", "alias", "previous_version", "decision", "waiver_id", "who", "created",
         "created_by"),
    ),
    "request": Sealed(
        "promotion_requests", "id",
        ("id", "model_name", "model_version", "alias", "reason", "decision", "requested_by", "created"),
    ),
    "approval": Sealed(
        "approvals", "id", ("id", "request_kind", "request_id", "decision", "reason", "decided_by", "created"),
    ),
    "retirement": Sealed(
        "retirements", "id", ("id", "kind", "target", "action", "reason", "erasure_id", "created", "created_by"),
    ),
    "erasure": Sealed(
        "erasures", "id",
        ("id", "reason", "selector", "items", "rows_removed", "versions", "models", "keys", "created", "created_by"),
    ),
    "purge": Sealed("erasures", "id", ("id", "purge", "purged"), "purged IS NOT NULL"),
    "flag": Sealed(
        "model_flags", "id",
        ("id", "model_name", "model_version", "kind", "source", "message", "created", "created_by"),
    ),
}  # fmt: skip
NEW_IN_12 = ("promotion", "request", "approval")


@dataclass(frozen=True)
class ChainProblem:
    kind: str
    record: str
    problem: str  # rewritten | deleted | unsealed | entry-rewritten | entry-deleted

    def describe(self) -> str:
        what = {
            "rewritten": "was changed after it was sealed",
            "deleted": "was deleted",
            "unsealed": "is not in the chain (written outside datagov)",
            "entry-rewritten": "has a chain entry that was edited",
            "entry-deleted": "follows a chain entry that was removed",
        }[self.problem]
        return f"{self.kind} {self.record} {what}"


def record_hash(con: Connection, kind: str, record: str, *, added: bool = True) -> str | None:
    """The SHA-256 of a record's sealed columns as stored now; None when the row is gone.
    `added=False` for catalogs older than the added columns (migration 11)."""
    spec = SEALED[kind]
    wanted = ", ".join(spec.columns + (spec.added if added else ()))
    row = con.execute(f"SELECT {wanted} FROM {spec.table} WHERE {spec.key} = ?", [record]).fetchone()
    if row is None:
        return None
    values = list(row[: len(spec.columns)])
    values += [[name, value] for name, value in zip(spec.added, row[len(spec.columns) :], strict=False) if value]
    text = json.dumps([plain(v) for v in values], separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def plain(value: object) -> object:
    """A column value as hashed: timestamps as ISO text, JSON text by its meaning."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in "[{":
        try:  # JSON columns: DuckDB may hand them back re-spaced; hash their meaning
            return json.loads(value)
        except ValueError:
            return value
    return value


def _link(prev: str, kind: str, record: str, digest: str) -> str:
    return hashlib.sha256(f"{prev}|{kind}|{record}|{digest}".encode()).hexdigest()


def head(con: Connection) -> tuple[int, str]:
    """(sequence number, hash) of the newest entry; (0, GENESIS) for an empty chain."""
    row = con.execute("SELECT seq, hash FROM chain ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def entry_hashes(con: Connection) -> set[str]:
    """Every entry's hash: a chain head recorded elsewhere must be one of them."""
    return {h for (h,) in con.execute("SELECT hash FROM chain").fetchall()}


def seal(con: Connection, kind: str, record: str, *, added: bool = True) -> str:
    """Append the record's entry; call in the transaction that wrote it. Returns the new head."""
    digest = record_hash(con, kind, record, added=added)
    if digest is None:
        raise ValueError(f"cannot seal {kind} {record}: no such row")
    seq, prev = head(con)
    linked = _link(prev, kind, record, digest)
    con.execute(
        "INSERT INTO chain (seq, kind, record, record_hash, prev, hash, sealed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [seq + 1, kind, record, digest, prev, linked, datetime.now(UTC).replace(tzinfo=None)],
    )
    return linked


def seal_existing(con: Connection) -> int:
    """Seal every final record written before the chain existed (once, when it is created)."""
    sealed = 0
    from datagov.catalog.migrations import has_table

    modern = has_table(con, "approvals")  # schema 12 or later: created_by, requests, approvals
    for kind, spec in SEALED.items():
        if (kind in NEW_IN_12 and not modern) or not has_table(con, spec.table):
            continue  # tables of later migrations start empty
        keys = con.execute(f"SELECT {spec.key} FROM {spec.table} WHERE {spec.sealed_when} ORDER BY 1").fetchall()
        for (key,) in keys:
            seal(con, kind, str(key), added=modern)
            sealed += 1
    return sealed


def seal_new_kinds(con: Connection) -> int:
    """Seal the promotions written before they were sealed (migration 12); the
    requests and approvals are new tables."""
    sealed = 0
    spec = SEALED["promotion"]
    for (key,) in con.execute(f"SELECT {spec.key} FROM {spec.table} ORDER BY created, id").fetchall():
        seal(con, "promotion", str(key))
        sealed += 1
    return sealed


def verify(con: Connection) -> list[ChainProblem]:
    """Every way the catalog's proving records differ from what was sealed."""
    problems: list[ChainProblem] = []
    entries = con.execute("SELECT seq, kind, record, record_hash, prev, hash FROM chain ORDER BY seq").fetchall()
    prev, expected_seq = GENESIS, 1
    newest: dict[tuple[str, str], str] = {}  # a record sealed again (a run ended twice): its newest entry counts
    for seq, kind, record, digest, entry_prev, entry_hash in entries:
        if seq != expected_seq or entry_prev != prev:
            problems.append(ChainProblem(kind, record, "entry-deleted"))
        elif _link(entry_prev, kind, record, digest) != entry_hash:
            problems.append(ChainProblem(kind, record, "entry-rewritten"))
        prev, expected_seq = entry_hash, seq + 1
        newest[kind, record] = digest
    seen = set(newest)
    for (kind, record), digest in newest.items():
        if kind not in SEALED:
            continue
        now = record_hash(con, kind, record)
        if now is None:
            problems.append(ChainProblem(kind, record, "deleted"))
        elif now != digest:
            problems.append(ChainProblem(kind, record, "rewritten"))
    for kind, spec in SEALED.items():
        rows = con.execute(f"SELECT {spec.key} FROM {spec.table} WHERE {spec.sealed_when}").fetchall()
        problems += [ChainProblem(kind, str(key), "unsealed") for (key,) in rows if (kind, str(key)) not in seen]
    return problems
