"""The `drift_reports` table: one row per `datagov shift`, its verdict and
where its JSON and HTML are."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import duckdb


@dataclass(frozen=True)
class DriftReportRow:
    id: str
    reference: str  # name@digest
    reference_digest: str
    target: str
    target_digest: str
    drift: bool
    share: float  # of tested columns drifting
    mode: str  # tests | distances
    encoder: str | None  # the pinned model URI, when embeddings were compared
    embedding_drift: bool | None
    recommendation: str | None
    summary: dict
    report: str  # HTML, relative to the workspace
    data: str  # JSON, relative to the workspace
    created: datetime
    duration: float


_COLS = (
    "id, reference, reference_digest, target, target_digest, drift, share, mode, encoder, embedding_drift, "
    "recommendation, summary, report, data, created, duration"
)


def insert_drift_report(con: duckdb.DuckDBPyConnection, r: DriftReportRow) -> None:
    values = [getattr(r, c.strip()) for c in _COLS.split(",")]
    values[11] = json.dumps(r.summary)
    con.execute(f"INSERT INTO drift_reports ({_COLS}) VALUES ({', '.join('?' * len(values))})", values)


def reports_on_target(con: duckdb.DuckDBPyConnection, target_digest: str) -> list[DriftReportRow]:
    """Newest first."""
    rows = con.execute(
        f"SELECT {_COLS} FROM drift_reports WHERE target_digest = ? ORDER BY created DESC", [target_digest]
    ).fetchall()
    return [DriftReportRow(*r[:11], json.loads(r[11]), *r[12:]) for r in rows]
