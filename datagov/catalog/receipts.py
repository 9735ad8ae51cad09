"""The `receipts` table: the record of one suite run against one version."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from datagov.catalog import rows
from datagov.catalog.chain import seal
from datagov.catalog.db import transaction
from datagov.catalog.versions import add_edge

if TYPE_CHECKING:
    from datagov.catalog.db import Connection


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
    created_by: str | None = field(default=None, compare=False)  # who ran it (set by the catalog on insert)
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.digest[:12]}"


# Receipts bound to a method's settings and two digests, not to a suite file in
# expectations/: near-duplicate checks and `datagov select`'s match. Nothing
# re-runs them from a suite; only the bytes (re-hashed) could change their answer.
SETTINGS_BOUND = {"contamination": "near-duplicate check", "selection": "selection match"}  # kind: what it checks


def bound_to_settings(r: Receipt) -> bool:
    return r.kind in SETTINGS_BOUND


_COLS = rows.column_list(Receipt, skip=["extra"])  # `extra` is not stored


def insert_receipt(con: Connection, r: Receipt) -> None:
    with transaction(con):
        _insert_receipt(con, r)
        seal(con, "receipt", r.id)


def _insert_receipt(con: Connection, r: Receipt) -> None:
    rows.insert(con, "receipts", r, json_columns=["results"], skip=["extra"])
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


def list_receipts(
    con: Connection,
    *,
    dataset: str | None = None,
    digest: str | None = None,
    suite: str | None = None,
    kind: str | None = None,
    limit: int | None = None,
    include_retired: bool = False,
) -> list[Receipt]:
    """Newest first; retired receipts (`validations retire`) only when asked:
    the gate and audits do not count them."""
    where, args = [], []
    if not include_retired:
        where.append("id NOT IN (SELECT target FROM retirements WHERE kind = 'receipt')")
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
    return rows.read(con.execute(sql, args), Receipt, json_columns=["results"])


def receipt_by_id(con: Connection, receipt_id: str) -> Receipt | None:
    found = con.execute(f"SELECT {_COLS} FROM receipts WHERE id = ?", [receipt_id])
    return rows.read_one(found, Receipt, json_columns=["results"])


def receipts_of_versions(con: Connection, nodes: list[str]) -> list[Receipt]:
    """Receipts of the given version nodes (`name@digest`), oldest first."""
    if not nodes:
        return []
    found = con.execute(
        f"SELECT {_COLS} FROM receipts WHERE dataset || '@' || digest IN ({', '.join('?' * len(nodes))}) "
        "ORDER BY started",
        list(nodes),
    )
    return rows.read(found, Receipt, json_columns=["results"])
