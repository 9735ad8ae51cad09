"""The `receipts` table: the record of one suite run against one version."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from datagov.catalog.versions import add_edge
from datagov.catalog.chain import seal
from datagov.catalog.db import transaction


@dataclass
class Receipt:
    id: str
    dataset: str
    digest: str
    suite: str
    suite_digest: str
    kind: str
    success: bool
    status: str
    evaluated: int
    successful: int
    results: list[dict]
    gx_version: str
    started: datetime
    duration: float
    report: str | None = None
    reference_digest: str | None = None
    engine: str = "duckdb"  # what evaluated the suite: duckdb | spark
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.digest[:12]}"


_COLS = (
    "id, dataset, digest, suite, suite_digest, kind, success, status, evaluated, successful, results, "
    "gx_version, started, duration, report, reference_digest, engine"
)


def insert_receipt(con: duckdb.DuckDBPyConnection, r: Receipt) -> None:
    with transaction(con):
        _insert_receipt(con, r)
        seal(con, "receipt", r.id)


def _insert_receipt(con: duckdb.DuckDBPyConnection, r: Receipt) -> None:
    con.execute(
        f"INSERT INTO receipts ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            r.id,
            r.dataset,
            r.digest,
            r.suite,
            r.suite_digest,
            r.kind,
            r.success,
            r.status,
            r.evaluated,
            r.successful,
            json.dumps(r.results, default=str),
            r.gx_version,
            r.started,
            r.duration,
            r.report,
            r.reference_digest,
            r.engine,
        ],
    )
    add_edge(
        con,
        "version",
        f"{r.dataset}@{r.digest}",
        "receipt",
        r.id,
        "validated",
        params={"suite": r.suite, "kind": r.kind, "status": r.status},
        at=r.started,
    )


def _receipt(row: tuple) -> Receipt:
    values = list(row)
    values[10] = json.loads(values[10])
    return Receipt(*values)


def list_receipts(
    con: duckdb.DuckDBPyConnection,
    *,
    dataset: str | None = None,
    digest: str | None = None,
    suite: str | None = None,
    kind: str | None = None,
    limit: int | None = None,
) -> list[Receipt]:
    """Newest first."""
    where, args = [], []
    for col, value in (("dataset", dataset), ("digest", digest), ("suite", suite), ("kind", kind)):
        if value is not None:
            where.append(f"{col} = ?")
            args.append(value)
    sql = f"SELECT {_COLS} FROM receipts"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY started DESC, id"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [_receipt(r) for r in con.execute(sql, args).fetchall()]


def receipt_by_id(con: duckdb.DuckDBPyConnection, receipt_id: str) -> Receipt | None:
    row = con.execute(f"SELECT {_COLS} FROM receipts WHERE id = ?", [receipt_id]).fetchone()
    return _receipt(row) if row else None


def receipts_of_versions(con: duckdb.DuckDBPyConnection, nodes: list[str]) -> list[Receipt]:
    """Receipts of the given version nodes (`name@digest`), oldest first."""
    if not nodes:
        return []
    rows = con.execute(
        f"SELECT {_COLS} FROM receipts WHERE dataset || '@' || digest IN ({', '.join('?' * len(nodes))}) "
        "ORDER BY started",
        list(nodes),
    )
    return [_receipt(r) for r in rows.fetchall()]
