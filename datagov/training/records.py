"""What every training stage leaves behind: refusals, waivers, the catalog's
runs rows and lineage edges, and the registered MLflow model version.

Shared by pretrain and transfer so both leave the same kind of record.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import io
import json
import secrets
from datetime import timedelta
from pathlib import Path

from datagov.catalog.db import open_catalog, transaction
from datagov.catalog.versions import Version, add_edge, now
from datagov.errors import GateRefused
from datagov.gate import GateDecision
from datagov.workspace import Workspace


def refuse(decision: GateDecision) -> GateRefused:
    lines = [f"{r.message}" + (f"\n      fix: {r.fix}" if r.fix else "") for r in decision.reasons]
    return GateRefused(
        f"gate refused {decision.stage} on {decision.version_ref}: {len(decision.reasons)} problem(s)",
        hint="\n    ".join(["", *lines]) + "\n  or pass --waive REASON to run anyway (recorded)",
    )


def gate_document(decision: GateDecision, waiver_id: str | None, waive: str | None) -> dict:
    """The gate decision as logged (MLflow artifact) and stored (runs.gate)."""
    return {
        "allowed": decision.allowed,
        "reasons": [dataclasses.asdict(r) for r in decision.reasons],
        "receipts": decision.receipt_ids,
        "waiver": waiver_id,
        "waiver_reason": waive,
    }


def record_waiver(ws: Workspace, target: str, stage: str, reason: str, decision: GateDecision) -> str:
    waiver_id = f"w-{secrets.token_hex(6)}"
    at = now()
    refused = [dataclasses.asdict(r) for r in decision.reasons]
    with open_catalog(ws, write=True) as con:
        con.execute(
            "INSERT INTO waivers VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            [
                waiver_id,
                target,
                stage,
                reason,
                getpass.getuser(),
                json.dumps(refused),
                at,
                at + timedelta(days=ws.waiver_days),
            ],
        )
    return waiver_id


def record_run(
    ws: Workspace,
    run_id: str,
    stage: str,
    spec_path: str | Path,
    experiment: str,
    version: Version,
    gate_doc: dict,
    waiver_id: str | None,
    inputs: list[tuple[tuple[str, str], str]],
) -> None:
    """The runs row (status running) and the edges into the run:
    `inputs` is [((kind, id), relation)], e.g. (("version", v.node_id), "trained")."""
    with open_catalog(ws, write=True) as con, transaction(con):
        con.execute(
            "INSERT INTO runs (run_id, stage, pipeline, experiment, dataset, digest, gate, waiver_id, status, "
            "started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
            [run_id, stage, str(spec_path), experiment, version.dataset, version.digest, json.dumps(gate_doc),
             waiver_id, now()],
        )  # fmt: skip
        if waiver_id:
            con.execute("UPDATE waivers SET run_id = ? WHERE id = ?", [run_id, waiver_id])
        for (kind, ident), relation in inputs:
            add_edge(con, kind, ident, "run", run_id, relation, params={"stage": stage})


def finish_run(
    ws: Workspace, run_id: str, status: str, model_name: str | None, model_version: str | None, metrics: dict
) -> None:
    with open_catalog(ws, write=True) as con, transaction(con):
        con.execute(
            "UPDATE runs SET status = ?, model_name = ?, model_version = ?, metrics = ?, ended = ? WHERE run_id = ?",
            [status, model_name, model_version, json.dumps(metrics), now(), run_id],
        )
        if model_name:
            add_edge(con, "run", run_id, "model", f"{model_name}/{model_version}", "registered")


def register_model(model, example, model_name: str, alias: str, tags: dict[str, str], mlflow) -> str:
    """Log and register a torch module, tag the new version and point the
    alias at it; returns the version number."""
    info = _log_model(model, example, model_name, mlflow)
    _tag_version(model_name, info.registered_model_version, alias, tags)
    return str(info.registered_model_version)


def _log_model(model, example, model_name: str, mlflow):
    """Log and register a torch module with signature and input example."""
    import mlflow.pytorch
    import torch
    from mlflow.models import infer_signature

    model = model.cpu().eval()
    with torch.no_grad():
        output = model(torch.from_numpy(example)).numpy()
    # pickle, not MLflow 3's default pt2: transfer loads the module back and
    # trains it further, which an exported program cannot do. MLflow prints
    # registration notes on stderr (not through logging); datagov reports them.
    with contextlib.redirect_stderr(io.StringIO()):
        return mlflow.pytorch.log_model(
            model,
            name="model",
            input_example=example,
            signature=infer_signature(example, output),
            serialization_format="pickle",
            registered_model_name=model_name,
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
        )


def _tag_version(name: str, version_number, alias: str, tags: dict[str, str]) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version_number), key, value)
    client.set_registered_model_alias(name, alias, str(version_number))
