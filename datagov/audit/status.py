"""The latest audit verdict of a version: read by the gate and by promotion."""

from __future__ import annotations

import duckdb


def latest_audit_status(con: duckdb.DuckDBPyConnection, digest: str) -> tuple[str, str] | None:
    """(status, audit id) of the newest finished audit that covered this digest."""
    row = con.execute(
        "SELECT r.status, a.id FROM audit_results r JOIN audits a ON a.id = r.audit_id "
        "WHERE r.digest = ? AND a.status IN ('passed', 'failed') ORDER BY a.started DESC LIMIT 1",
        [digest],
    ).fetchall()
    return (row[0][0], row[0][1]) if row else None
