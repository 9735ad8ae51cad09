"""`datagov pretrain`: gate, stream, train an autoencoder, log and register.

Order matters: the gate is asked before anything is trained, and a refused
gate without a waiver ends the command before an MLflow run exists. Once a
run starts, any failure ends it as FAILED and the catalog row says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import io
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from datagov.catalog.db import open_catalog, transaction
from datagov.catalog.versions import Version, add_edge, files_of, now, resolve
from datagov.errors import GateRefused, InvalidInput
from datagov.gate import GateDecision, check_gate
from datagov.sql import sql_str
from datagov.store import duckdb_connection, parquet_glob, version_dir
from datagov.training.spec import PretrainSpec, flatten, load_spec
from datagov.workspace import Workspace


@dataclass
class PretrainResult:
    run_id: str
    model_name: str
    model_version: str
    alias: str
    metrics: dict
    decision: GateDecision
    waiver_id: str | None
    device: str


def refuse(decision: GateDecision) -> GateRefused:
    lines = [f"{r.message}" + (f"\n      fix: {r.fix}" if r.fix else "") for r in decision.reasons]
    return GateRefused(
        f"gate refused {decision.stage} on {decision.version_ref}: {len(decision.reasons)} problem(s)",
        hint="\n    ".join(["", *lines]) + "\n  or pass --waive REASON to run anyway (recorded)",
    )


def image_shape(ws: Workspace, version: Version):
    """The one (C, H, W) shared by every image, or an error saying otherwise."""
    from datagov.training.data import ImageShape

    if "image" not in version.columns:
        raise InvalidInput(f"{version.ref} has no image column; pretraining needs an image dataset")
    con = duckdb_connection()
    try:
        rows = con.execute(
            f"SELECT DISTINCT channels, height, width FROM read_parquet({sql_str(parquet_glob(ws, version.digest))})"
        ).fetchall()
    finally:
        con.close()
    if len(rows) != 1:
        raise InvalidInput(f"{version.ref} mixes image shapes {sorted(rows)[:5]}; resize them to one shape first")
    return ImageShape(*rows[0])


def record_waiver(ws: Workspace, version: Version, stage: str, reason: str, decision: GateDecision) -> str:
    waiver_id = f"w-{secrets.token_hex(6)}"
    refused = [dataclasses.asdict(r) for r in decision.reasons]
    with open_catalog(ws, write=True) as con:
        con.execute(
            "INSERT INTO waivers VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
            [waiver_id, version.node_id, stage, reason, getpass.getuser(), json.dumps(refused), now()],
        )
    return waiver_id


def pretrain(
    ws: Workspace,
    spec_path: str | Path,
    overrides: list[str] | None = None,
    *,
    waive: str | None = None,
    progress: bool = True,
) -> PretrainResult:
    spec: PretrainSpec = load_spec(spec_path, overrides)
    with open_catalog(ws) as con:
        version = resolve(con, spec.data.dataset)
        manifest = files_of(con, version.digest)
    # The gate is asked about this exact digest: `NAME` resolved twice could
    # name a newer, unchecked version ingested in between.
    decision = check_gate(ws, "pretrain", version.node_id, spec.data.suites)
    if not decision.allowed and not waive:
        raise refuse(decision)
    if waive is not None and not waive.strip():
        raise InvalidInput("--waive needs a reason")

    import torch

    from datagov import tracking
    from datagov.training.data import ParquetImageStream
    from datagov.training.loop import pick_device, reconstruction_loss, seed_everything
    from datagov.training.models import build_autoencoder, pick_kind

    device = pick_device(spec.train.device)
    shape = image_shape(ws, version)
    files = [str(version_dir(ws, version.digest) / f[0]) for f in manifest]
    waiver_id = record_waiver(ws, version, "pretrain", waive, decision) if not decision.allowed else None
    seed_everything(spec.train.seed, device)
    kind = pick_kind(spec.model.kind, shape)
    model = build_autoencoder(kind, shape, spec.model.hidden, spec.model.channels, spec.model.latent).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.train.lr)
    loss_fn = reconstruction_loss(spec.train.loss)
    common = dict(every=spec.data.validation_every, batch_size=spec.train.batch_size, seed=spec.train.seed)
    train_stream = ParquetImageStream(files, shape, split="train", shuffle=True, **common)
    val_stream = ParquetImageStream(files, shape, split="val", shuffle=False, **common)
    loader_kw = dict(
        batch_size=None,
        num_workers=spec.train.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=spec.train.workers > 0,
    )

    mlflow = tracking.configure(ws)
    model_name = spec.register.model_name or spec.name
    flat = flatten(dataclasses.asdict(spec))
    gate_doc = {
        "allowed": decision.allowed,
        "reasons": [dataclasses.asdict(r) for r in decision.reasons],
        "receipts": decision.receipt_ids,
        "waiver": waiver_id,
        "waiver_reason": waive,
    }
    provenance = {  # on the run and on the registered model version
        "datagov.stage": "pretrain",
        "datagov.dataset": version.ref,
        "datagov.digest": version.digest,
        "datagov.suites": ",".join(spec.data.suites),
        "datagov.receipts": ",".join(decision.receipt_ids),
        **({"datagov.waiver": waive, "datagov.waiver_id": waiver_id} if waiver_id else {}),
    }
    started = now()
    with mlflow.start_run(experiment_id=tracking.experiment_id(ws, spec.name)) as run:
        run_id = run.info.run_id
        _record_run(ws, run_id, spec_path, spec.name, version, gate_doc, waiver_id, started)
        try:
            mlflow.log_params(tracking.flat_params({**flat, "model.resolved_kind": kind, "device": device.type}))
            mlflow.set_tags({**provenance, "datagov.gate": "open" if decision.allowed else "waived"})
            mlflow.log_artifact(str(spec_path), artifact_path="pipeline")
            mlflow.log_dict(gate_doc, "gate/decision.json")
            tracking.log_dataset(ws, version, "training")
            tracking.log_dataset(ws, version, "validation")
            metrics = _train(
                model, optimizer, loss_fn, train_stream, val_stream, loader_kw, device, spec, mlflow, progress
            )
            info = _log_model(model, shape, model_name, mlflow)
            _tag_version(model_name, info.registered_model_version, spec.register.alias, provenance)
        except BaseException:
            _finish_run(ws, run_id, "failed", None, None, {})
            raise
    _finish_run(ws, run_id, "finished", model_name, str(info.registered_model_version), metrics)
    return PretrainResult(
        run_id,
        model_name,
        str(info.registered_model_version),
        spec.register.alias,
        metrics,
        decision,
        waiver_id,
        device.type,
    )


def _train(model, optimizer, loss_fn, train_stream, val_stream, loader_kw, device, spec, mlflow, progress) -> dict:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from torch.utils.data import DataLoader

    from datagov.progress import progress_bar
    from datagov.training.loop import run_epoch

    bar = progress_bar(
        TextColumn("[bold]epoch {task.fields[epoch]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f} · {task.fields[rate]}"),
        TimeElapsedColumn(),
        enabled=progress,
    )
    metrics: dict = {}
    # Built once: persistent workers read the epoch from the streams' shared memory.
    train_loader = DataLoader(train_stream, **loader_kw)
    val_loader = DataLoader(val_stream, **loader_kw)
    with bar:
        task = bar.add_task("train", total=len(train_stream), epoch=0, loss=float("nan"), rate="")
        for epoch in range(spec.train.epochs):
            train_stream.set_epoch(epoch)
            bar.reset(task, total=len(train_stream), epoch=f"{epoch + 1}/{spec.train.epochs}")

            def tick(_n: int, loss: float) -> None:
                bar.update(task, advance=1, loss=loss)

            train_loss, n, secs = run_epoch(
                model,
                train_loader,
                device,
                loss_fn,
                optimizer=optimizer,
                noise=spec.train.noise,
                on_batch=tick,
            )
            val_loss, _, _ = run_epoch(model, val_loader, device, loss_fn)
            bar.update(task, rate=f"{n / max(secs, 1e-9):,.0f} samples/s")
            metrics = {"train_loss": train_loss, "val_loss": val_loss, "samples_per_s": n / max(secs, 1e-9)}
            mlflow.log_metrics(metrics, step=epoch)
    return metrics


def _log_model(model, shape, model_name: str, mlflow):
    import mlflow.pytorch
    import numpy as np
    import torch
    from mlflow.models import infer_signature

    model = model.cpu().eval()
    example = np.zeros((2, shape.channels, shape.height, shape.width), dtype=np.float32)
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


def _record_run(ws, run_id, spec_path, experiment, version: Version, gate_doc, waiver_id, started) -> None:
    with open_catalog(ws, write=True) as con, transaction(con):
        con.execute(
            "INSERT INTO runs (run_id, stage, pipeline, experiment, dataset, digest, gate, waiver_id, status, "
            "started) VALUES (?, 'pretrain', ?, ?, ?, ?, ?, ?, 'running', ?)",
            [
                run_id,
                str(spec_path),
                experiment,
                version.dataset,
                version.digest,
                json.dumps(gate_doc),
                waiver_id,
                started,
            ],
        )
        if waiver_id:
            con.execute("UPDATE waivers SET run_id = ? WHERE id = ?", [run_id, waiver_id])
        add_edge(con, "version", version.node_id, "run", run_id, "trained", params={"stage": "pretrain"})


def _finish_run(ws, run_id, status, model_name, model_version, metrics) -> None:
    with open_catalog(ws, write=True) as con, transaction(con):
        con.execute(
            "UPDATE runs SET status = ?, model_name = ?, model_version = ?, metrics = ?, ended = ? WHERE run_id = ?",
            [status, model_name, model_version, json.dumps(metrics), now(), run_id],
        )
        if model_name:
            add_edge(con, "run", run_id, "model", f"{model_name}/{model_version}", "registered")
