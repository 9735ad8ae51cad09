"""The `runs`, `waivers` and `promotions` tables: training runs, the
waivers that let them past a refusing gate, and alias promotions. The only
module that writes SQL against them; rows come back as dataclasses."""

from __future__ import annotations

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
    created_by: str | None = field(default=None, compare=False)  # who started it: the OS user, or the login

    @property
    def model(self) -> str | None:
        return f"{self.model_name}/{self.model_version}" if self.model_name else None


RUN_COLUMNS = rows.column_list(RunRow)
RUN_JSON = ("gate", "metrics")


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


WAIVER_COLUMNS = rows.column_list(WaiverRow)
PROMOTION_COLUMNS = rows.column_list(PromotionRow)

# --- runs


def insert_run(con: Connection, run: RunRow) -> None:
    """A new run, `running`, with this process's pid and host (so a dead one can be closed)."""
    with transaction(con):
        con.execute(
            "INSERT INTO runs (run_id, stage, pipeline, experiment, dataset, digest, gate, waiver_id, status, "
            "started, pid, host, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
            [run.run_id, run.stage, run.pipeline, run.experiment, run.dataset, run.digest, json.dumps(run.gate),
             run.waiver_id, now(), os.getpid(), socket.gethostname(), who(con)],
        )  # fmt: skip
        seal(con, "run", run.run_id)


def finish_run(con: Connection, run_id: str, status: str, model: tuple[str, str] | None, metrics: dict) -> None:
    name, version = model or (None, None)
    with transaction(con):
        con.execute(
            "UPDATE runs SET status = ?, model_name = ?, model_version = ?, metrics = ?, ended = ? WHERE run_id = ?",
            [status, name, version, json.dumps(metrics), now(), run_id],
        )
        seal(con, "run-end", run_id)


def run_ids(con: Connection) -> list[str]:
    """Every run's id, oldest first."""
    return [r for (r,) in con.execute("SELECT run_id FROM runs ORDER BY started").fetchall()]


def list_runs(con: Connection, stage: str | None = None, limit: int = 20) -> list[RunRow]:
    found = con.execute(
        f"SELECT {RUN_COLUMNS} FROM runs WHERE ? IS NULL OR stage = ? ORDER BY started DESC LIMIT ?",
        [stage, stage, limit],
    )
    return rows.read(found, RunRow, json_columns=RUN_JSON)


def runs_by_id(con: Connection, run_ids: list[str]) -> list[RunRow]:
    if not run_ids:
        return []
    found = con.execute(
        f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id IN ({', '.join('?' * len(run_ids))}) ORDER BY started",
        list(run_ids),
    )
    return rows.read(found, RunRow, json_columns=RUN_JSON)


def newest_pretrained_model(con: Connection, digest: str, *, waived: bool = False) -> tuple[str, str] | None:
    """(model name, version) of the newest finished pretraining run on a
    digest whose gate opened without a waiver (`waived=True`: any)."""
    row = con.execute(
        "SELECT model_name, model_version FROM runs WHERE stage = 'pretrain' AND digest = ? "
        "AND status = 'finished' AND model_name IS NOT NULL AND (? OR waiver_id IS NULL) "
        "ORDER BY started DESC LIMIT 1",
        [digest, waived],
    ).fetchone()
    return (row[0], row[1]) if row else None


def models_trained_on(con: Connection, dataset: str, digest: str) -> list[str]:
    found = con.execute(
        "SELECT DISTINCT model_name, model_version FROM runs WHERE dataset = ? AND digest = ? "
        "AND model_name IS NOT NULL ORDER BY 1, 2",
        [dataset, digest],
    ).fetchall()
    return [f"{n}/{v}" for n, v in found]


def running_runs(con: Connection) -> list[tuple[str, int | None, str | None]]:
    """(run id, pid, host) of every run still marked running."""
    return con.execute("SELECT run_id, pid, host FROM runs WHERE status = 'running'").fetchall()


def interrupted_runs(con: Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT run_id FROM runs WHERE status = 'interrupted'").fetchall()}


def mark_interrupted(con: Connection, run_id: str) -> None:
    with transaction(con):
        con.execute("UPDATE runs SET status = 'interrupted', ended = ? WHERE run_id = ?", [now(), run_id])
        seal(con, "run-end", run_id)


# --- waivers


def insert_waiver(con: Connection, w: WaiverRow) -> None:
    with transaction(con):
        rows.insert(con, "waivers", w, json_columns=["refused"])
        seal(con, "waiver", w.id)


def attach_waiver(con: Connection, waiver_id: str, run_id: str) -> None:
    con.execute("UPDATE waivers SET run_id = ? WHERE id = ?", [run_id, waiver_id])


def waivers_of_run(con: Connection, run_id: str) -> list[WaiverRow]:
    found = con.execute(f"SELECT {WAIVER_COLUMNS} FROM waivers WHERE run_id = ? ORDER BY created", [run_id])
    return rows.read(found, WaiverRow, json_columns=["refused"])


# --- promotions


def insert_promotion(con: Connection, p: PromotionRow) -> None:
    with transaction(con):
        rows.insert(con, "promotions", p, json_columns=["decision"])
        seal(con, "promotion", p.id)


def promotions_of(con: Connection, model_name: str, model_version: str) -> list[PromotionRow]:
    found = con.execute(
        f"SELECT {PROMOTION_COLUMNS} FROM promotions WHERE model_name = ? AND model_version = ? ORDER BY created",
        [model_name, str(model_version)],
    )
    return rows.read(found, PromotionRow, json_columns=["decision"])
