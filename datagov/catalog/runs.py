"""The `runs`, `waivers` and `promotions` tables: training runs, the
waivers that let them past a refusing gate, and alias promotions. The only
module that writes SQL against them; rows come back as dataclasses."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from datagov.catalog.versions import now
from datagov.catalog.chain import seal
from datagov.catalog.db import transaction

RUN_COLUMNS = (
    "run_id, stage, pipeline, experiment, dataset, digest, gate, waiver_id, status, model_name, model_version, "
    "metrics, started, ended"
)


@dataclass(frozen=True)
class RunRow:
    run_id: str  # the MLflow run id
    stage: str  # pretrain | transfer
    pipeline: str  # the spec file
    experiment: str
    dataset: str
    digest: str
    gate: dict  # the gate decision the run started under
    waiver_id: str | None
    status: str  # running | finished | failed | interrupted
    model_name: str | None
    model_version: str | None
    metrics: dict = field(default_factory=dict)
    started: datetime | None = None
    ended: datetime | None = None

    @property
    def model(self) -> str | None:
        return f"{self.model_name}/{self.model_version}" if self.model_name else None


def _run(row: tuple) -> RunRow:
    values = list(row)
    values[6] = json.loads(values[6]) if values[6] else {}
    values[11] = json.loads(values[11]) if values[11] else {}
    return RunRow(*values)


@dataclass(frozen=True)
class WaiverRow:
    id: str
    target: str  # the version node (name@digest) or model version
    stage: str
    reason: str
    who: str
    refused: list  # what the gate said
    created: datetime
    expires: datetime | None
    run_id: str | None

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires < now()


@dataclass(frozen=True)
class PromotionRow:
    id: str
    model_name: str
    model_version: str
    alias: str
    previous_version: str | None
    decision: dict
    waiver_id: str | None
    who: str
    created: datetime


# --- runs


def insert_run(con: duckdb.DuckDBPyConnection, run: RunRow) -> None:
    """A new run, `running`, with this process's pid and host (so a dead one can be closed)."""
    with transaction(con):
        con.execute(
            "INSERT INTO runs (run_id, stage, pipeline, experiment, dataset, digest, gate, waiver_id, status, "
            "started, pid, host) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
            [run.run_id, run.stage, run.pipeline, run.experiment, run.dataset, run.digest, json.dumps(run.gate),
             run.waiver_id, now(), os.getpid(), socket.gethostname()],
        )  # fmt: skip
        seal(con, "run", run.run_id)


def finish_run(
    con: duckdb.DuckDBPyConnection, run_id: str, status: str, model: tuple[str, str] | None, metrics: dict
) -> None:
    name, version = model or (None, None)
    with transaction(con):
        con.execute(
            "UPDATE runs SET status = ?, model_name = ?, model_version = ?, metrics = ?, ended = ? WHERE run_id = ?",
            [status, name, version, json.dumps(metrics), now(), run_id],
        )
        seal(con, "run-end", run_id)


def list_runs(con: duckdb.DuckDBPyConnection, stage: str | None = None, limit: int = 20) -> list[RunRow]:
    rows = con.execute(
        f"SELECT {RUN_COLUMNS} FROM runs WHERE ? IS NULL OR stage = ? ORDER BY started DESC LIMIT ?",
        [stage, stage, limit],
    )
    return [_run(r) for r in rows.fetchall()]


def runs_by_id(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> list[RunRow]:
    if not run_ids:
        return []
    rows = con.execute(
        f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id IN ({', '.join('?' * len(run_ids))}) ORDER BY started",
        list(run_ids),
    )
    return [_run(r) for r in rows.fetchall()]


def newest_pretrained_model(
    con: duckdb.DuckDBPyConnection, digest: str, *, waived: bool = False
) -> tuple[str, str] | None:
    """(model name, version) of the newest finished pretraining run on a
    digest whose gate opened without a waiver (`waived=True`: any)."""
    row = con.execute(
        "SELECT model_name, model_version FROM runs WHERE stage = 'pretrain' AND digest = ? "
        "AND status = 'finished' AND model_name IS NOT NULL AND (? OR waiver_id IS NULL) "
        "ORDER BY started DESC LIMIT 1",
        [digest, waived],
    ).fetchone()
    return (row[0], row[1]) if row else None


def models_trained_on(con: duckdb.DuckDBPyConnection, dataset: str, digest: str) -> list[str]:
    rows = con.execute(
        "SELECT DISTINCT model_name, model_version FROM runs WHERE dataset = ? AND digest = ? "
        "AND model_name IS NOT NULL ORDER BY 1, 2",
        [dataset, digest],
    ).fetchall()
    return [f"{n}/{v}" for n, v in rows]


def running_runs(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int | None, str | None]]:
    """(run id, pid, host) of every run still marked running."""
    return con.execute("SELECT run_id, pid, host FROM runs WHERE status = 'running'").fetchall()


def mark_interrupted(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    with transaction(con):
        con.execute("UPDATE runs SET status = 'interrupted', ended = ? WHERE run_id = ?", [now(), run_id])
        seal(con, "run-end", run_id)


# --- waivers


def insert_waiver(con: duckdb.DuckDBPyConnection, w: WaiverRow) -> None:
    with transaction(con):
        con.execute(
            "INSERT INTO waivers (id, target, stage, reason, who, refused, created, expires, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [w.id, w.target, w.stage, w.reason, w.who, json.dumps(w.refused), w.created, w.expires, w.run_id],
        )
        seal(con, "waiver", w.id)


def attach_waiver(con: duckdb.DuckDBPyConnection, waiver_id: str, run_id: str) -> None:
    con.execute("UPDATE waivers SET run_id = ? WHERE id = ?", [run_id, waiver_id])


def waivers_of_run(con: duckdb.DuckDBPyConnection, run_id: str) -> list[WaiverRow]:
    rows = con.execute(
        "SELECT id, target, stage, reason, who, refused, created, expires, run_id FROM waivers "
        "WHERE run_id = ? ORDER BY created",
        [run_id],
    ).fetchall()
    return [WaiverRow(*r[:5], json.loads(r[5]), *r[6:]) for r in rows]


# --- promotions


def insert_promotion(con: duckdb.DuckDBPyConnection, p: PromotionRow) -> None:
    con.execute(
        "INSERT INTO promotions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [p.id, p.model_name, p.model_version, p.alias, p.previous_version, json.dumps(p.decision), p.waiver_id,
         p.who, p.created],
    )  # fmt: skip


def promotions_of(con: duckdb.DuckDBPyConnection, model_name: str, model_version: str) -> list[PromotionRow]:
    rows = con.execute(
        "SELECT id, model_name, model_version, alias, previous_version, decision, waiver_id, who, created "
        "FROM promotions WHERE model_name = ? AND model_version = ? ORDER BY created",
        [model_name, str(model_version)],
    ).fetchall()
    return [PromotionRow(*r[:5], json.loads(r[5]), *r[6:]) for r in rows]
