"""What every training stage leaves behind: the catalog's runs rows and
lineage edges, and the registered MLflow model version (refusals and waivers
are `datagov.governance`'s).

Shared by pretrain and transfer so both leave the same kind of record.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from datagov import tags as tag_keys
from datagov.catalog import chain, runs
from datagov.catalog.db import open_catalog, transaction
from datagov.catalog.runs import RunRow
from datagov.catalog.versions import Version, add_edge
from datagov.workspace import Workspace


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
    waivers: list[str] | None = None,
) -> str:
    """The runs row (status running) and the edges into the run:
    `inputs` is [((kind, id), relation)], e.g. (("version", v.node_id), "trained").
    Returns the catalog's chain head with the run sealed in it, for the run's
    tags: an anchor outside the catalog that a rewritten chain contradicts."""
    row = RunRow(run_id, stage, str(spec_path), experiment, version.dataset, version.digest, gate_doc, waiver_id,
                 "running", None, None)  # fmt: skip
    with open_catalog(ws, write=True) as con, transaction(con):
        runs.insert_run(con, row)
        for attached in [*([waiver_id] if waiver_id else []), *(waivers or [])]:
            runs.attach_waiver(con, attached, run_id)
        for (kind, ident), relation in inputs:
            add_edge(con, kind, ident, "run", run_id, relation, params={"stage": stage})
        return chain.head(con)[1]


def record_baseline(ws: Workspace, run_id: str, baseline_id: str, started: datetime, ended: datetime) -> None:
    """The scratch baseline nested in a transfer run: an edge between the two
    runs (its times on it), so lineage exports show it under its parent."""
    with open_catalog(ws, write=True) as con:
        add_edge(con, "run", run_id, "run", baseline_id, "baseline",
                 params={"started": started.isoformat(), "ended": ended.isoformat()})  # fmt: skip


def finish_run(
    ws: Workspace, run_id: str, status: str, model_name: str | None, model_version: str | None, metrics: dict
) -> None:
    with open_catalog(ws, write=True) as con, transaction(con):
        registered = (model_name, model_version) if model_name and model_version else None
        runs.finish_run(con, run_id, status, registered, metrics)
        if model_name:
            add_edge(con, "run", run_id, "model", f"{model_name}/{model_version}", "registered")


def register_model(ws: Workspace, model, arch: dict, model_name: str, alias: str | None, tags: dict[str, str]) -> str:
    """Log a torch module's weights as safetensors, register them as a new
    version, record their sha256 and architecture in the catalog, tag the
    version and point the alias at it; returns the version number.

    No pickle anywhere: MLflow's pytorch flavour stores the module with
    pickle (loading it runs whatever the file says), and its pt2 format cannot
    be trained further, which transfer needs."""
    import tempfile

    from datagov import artifacts, tracking
    from datagov.catalog.model_artifacts import ModelArtifact
    from datagov.training import weights

    with tempfile.TemporaryDirectory(prefix="datagov-model-") as tmp:
        path, sha, size = weights.save_weights(model, Path(tmp))
        tracking.log_file(path, "model")
    tracking.log_json({"format": "safetensors", "sha256": sha, "arch": arch}, "model/datagov-model.json")
    version, run_id = tracking.register_logged_model(model_name, alias, {**tags, tag_keys.WEIGHTS_SHA256: sha})
    artifacts.record(ws, ModelArtifact(model_name, version, run_id, artifacts.ARTIFACT, sha, size, arch))
    return version
