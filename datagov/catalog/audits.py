"""The `audits` and `audit_results` tables. An audit row is written
`running` first and finished in one transaction with its results; a killed
audit stays `running` until the next one marks it `interrupted`."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from datagov.catalog import rows
from datagov.catalog.chain import seal
from datagov.catalog.db import transaction
from datagov.catalog.team import who
from datagov.catalog.versions import now

if TYPE_CHECKING:
    from datagov.catalog.db import Connection


@dataclass(frozen=True)
class AuditRow:
    id: str
    scope: str | None  # a dataset name, or None for everything
    status: str  # running | passed | failed | interrupted
    versions: int | None
    failed: int | None
    started: datetime
    ended: datetime | None
    report: str | None
    summary: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AuditResultRow:
    audit_id: str
    version: str  # name@digest
    digest: str
    status: str  # passed | failed | unvalidated | never-passed
    findings: list[dict]
    profile: dict | None
    receipts: dict  # {"written": [...], "reused": [...]}
    models: list[str]


def latest_audit_status(con: Connection, digest: str) -> tuple[str, str] | None:
    """(status, audit id) of the newest finished audit that covered this digest."""
    row = con.execute(
        "SELECT r.status, a.id FROM audit_results r JOIN audits a ON a.id = r.audit_id "
        "WHERE r.digest = ? AND a.status IN ('passed', 'failed') ORDER BY a.started DESC LIMIT 1",
        [digest],
    ).fetchall()
    return (row[0][0], row[0][1]) if row else None


def running_audits(con: Connection) -> list[tuple[str, int, str]]:
    """(id, pid, host) of every audit still marked running."""
    return con.execute("SELECT id, pid, host FROM audits WHERE status = 'running'").fetchall()


def mark_interrupted(con: Connection, audit_id: str) -> None:
    with transaction(con):
        con.execute("UPDATE audits SET status = 'interrupted', ended = ? WHERE id = ?", [now(), audit_id])
        seal(con, "audit", audit_id)


def start_audit(con: Connection, audit_id: str, scope: str | None, started: datetime) -> None:
    con.execute(
        "INSERT INTO audits (id, scope, status, pid, host, started, created_by) VALUES (?, ?, 'running', ?, ?, ?, ?)",
        [audit_id, scope, os.getpid(), socket.gethostname(), started, who(con)],
    )


def insert_result(con: Connection, r: AuditResultRow) -> None:
    # an empty profile is stored as NULL: previous_profiles looks for rows that took one
    row = r if r.profile else dataclasses.replace(r, profile=None)
    rows.insert(con, "audit_results", row, json_columns=["findings", "profile", "receipts", "models"])


def finish_audit(con: Connection, row: AuditRow) -> None:
    with transaction(con):
        con.execute(
            "UPDATE audits SET status = ?, versions = ?, failed = ?, summary = ?, report = ?, ended = ? WHERE id = ?",
            [row.status, row.versions, row.failed, json.dumps(row.summary), row.report, row.ended, row.id],
        )
        seal(con, "audit", row.id)


def previous_profiles(con: Connection) -> dict[str, dict]:
    """Each version's profile from the newest finished audit that took one."""
    found = con.execute(
        "SELECT r.version, r.profile FROM audit_results r JOIN audits a ON a.id = r.audit_id "
        "WHERE a.status IN ('passed', 'failed') AND r.profile IS NOT NULL ORDER BY a.started"
    ).fetchall()
    return {version: json.loads(profile) for version, profile in found}  # newest wins


def audit_history(con: Connection, limit: int = 20) -> list[AuditRow]:
    found = con.execute(f"SELECT {rows.column_list(AuditRow)} FROM audits ORDER BY started DESC LIMIT ?", [limit])
    return rows.read(found, AuditRow, json_columns=["summary"])


def audit_by_id(con: Connection, audit_id: str) -> AuditRow | None:
    found = con.execute(f"SELECT {rows.column_list(AuditRow)} FROM audits WHERE id = ?", [audit_id])
    return rows.read_one(found, AuditRow, json_columns=["summary"])


def results_of(con: Connection, audit_id: str) -> list[AuditResultRow]:
    """One audit's verdict on each version it covered, failures first."""
    found = con.execute(
        f"SELECT {rows.column_list(AuditResultRow)} FROM audit_results WHERE audit_id = ? "
        "ORDER BY status = 'passed', version",
        [audit_id],
    )
    return rows.read(found, AuditResultRow, json_columns=["findings", "profile", "receipts", "models"])


def audited_versions(con: Connection, dataset: str | None) -> list[tuple[str, str]]:
    """(dataset, digest) of every version in use (not retired) with receipts
    or that trained a registered model (of one dataset, or all), oldest first."""
    return [
        (name, digest)
        for name, digest, _ in con.execute(
            "SELECT DISTINCT v.dataset, v.digest, v.created FROM versions v WHERE (? IS NULL OR v.dataset = ?) "
            "AND v.status <> 'retired' AND ("
            " EXISTS (SELECT 1 FROM receipts r WHERE r.digest = v.digest AND r.dataset = v.dataset)"
            " OR EXISTS (SELECT 1 FROM runs u WHERE u.digest = v.digest AND u.dataset = v.dataset"
            "            AND u.model_name IS NOT NULL)) ORDER BY v.created, v.dataset",
            [dataset, dataset],
        ).fetchall()
    ]
