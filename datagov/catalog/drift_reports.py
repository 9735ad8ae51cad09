"""The `drift_reports` table: one row per `datagov shift`, its verdict and
where its JSON and HTML are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from datagov.catalog import rows

if TYPE_CHECKING:
    from datagov.catalog.db import Connection


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


_COLS = rows.column_list(DriftReportRow)


def insert_drift_report(con: Connection, r: DriftReportRow) -> None:
    rows.insert(con, "drift_reports", r, json_columns=["summary"])


def reports_on_target(con: Connection, target_digest: str) -> list[DriftReportRow]:
    """Newest first."""
    found = con.execute(
        f"SELECT {_COLS} FROM drift_reports WHERE target_digest = ? ORDER BY created DESC", [target_digest]
    )
    return rows.read(found, DriftReportRow, json_columns=["summary"])


def report_by_id(con: Connection, report_id: str) -> DriftReportRow | None:
    found = con.execute(f"SELECT {_COLS} FROM drift_reports WHERE id = ?", [report_id])
    return rows.read_one(found, DriftReportRow, json_columns=["summary"])
