"""`datagov pretrain`: gate, stream, train an autoencoder, log and register,
as steps of a `GatedRun` (which owns their order: a refused gate without a
waiver ends the command before an MLflow run exists; once a run starts, any
failure ends it as FAILED and the catalog row says so). Under torchrun every
rank trains on its own shard; rank 0 alone logs, registers and writes the
catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datagov import tags, tracking
from datagov.gate import GateDecision, check_gate
from datagov.training.inputs import image_input
from datagov.training.run import GatedRun, RunData, require_reason
from datagov.training.spec import PretrainSpec, load_spec
from datagov.workspace import Workspace


@dataclass
class PretrainResult:
    run_id: str | None  # None on ranks other than 0
    model_name: str
    model_version: str | None
    alias: str | None  # None when the gate was waived: the alias was not moved
    metrics: dict
    decision: GateDecision
    waiver_id: str | None
    device: str
    world_size: int = 1
    waiver_note: str | None = None  # the waiver's reason and who approved it


def run_pretraining(
    ws: Workspace,
    spec_path: str | Path,
    overrides: list[str] | None = None,
    *,
    waive: str | None = None,
    progress: bool = True,
) -> PretrainResult:
    spec: PretrainSpec = load_spec(spec_path, overrides)
    require_reason(waive)
    data = image_input(ws, spec.data.dataset)
    # The gate is asked about this exact digest: `NAME` resolved twice could
    # name a newer, unchecked version ingested in between.
    decision = check_gate(ws, "pretrain", data.version.node_id, spec.data.suites)
    holdout = spec.data.validation_every
    run = GatedRun(ws, "pretrain", spec, spec_path, decision, waive,
                   data=[RunData(data, "trained", (("training", None), ("validation", holdout)))])  # fmt: skip
    run.enforce()
    tracking.require_registry_matches(ws)  # before any work: one name/version never means two models

    from datagov.training import distributed

    dist = distributed.setup(spec.train.device)
    try:
        return _pretrain_on(ws, run, data, dist, progress)
    finally:
        dist.close()


def _pretrain_on(ws: Workspace, run: GatedRun, data, dist, progress: bool) -> PretrainResult:
    import torch

    from datagov.training import distributed
    from datagov.training.data import ParquetImageStream
    from datagov.training.loop import seed_everything
    from datagov.training.models import build_autoencoder, pick_kind
    from datagov.training.pixel_cache import ensure_pixels
    from datagov.training.placement import place
    from datagov.training.weights import autoencoder_arch

    spec, shape, device = run.spec, data.shape, dist.device
    seed_everything(spec.train.seed, device)
    kind = pick_kind(spec.model.kind, shape)
    model = place(build_autoencoder(kind, shape, spec.model.hidden, spec.model.channels, spec.model.latent), device)
    model = dist.wrap(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.train.lr)
    common = dict(
        every=spec.data.validation_every,
        batch_size=spec.train.batch_size,
        seed=spec.train.seed,
        rank=dist.rank,
        world_size=dist.world_size,
        pixels=ensure_pixels(ws, data) if spec.train.decode_cache else None,
    )
    streams = (
        ParquetImageStream(data.files, shape, split="train", shuffle=True, **common),
        ParquetImageStream(data.files, shape, split="val", shuffle=False, **common),
    )
    fit = dict(model=model, optimizer=optimizer, pretext=_pretext(spec), streams=streams)
    fit |= dict(spec=spec, dist=dist)
    if not dist.is_main:
        metrics = _train(**fit, log=None, progress=False)
        dist.weight_digests(model)  # rank 0 gathers and checks them
        return PretrainResult(None, "", None, run.alias, metrics, run.decision, None, device.type, dist.world_size)

    params = {"model.resolved_kind": kind, "device": device.type, "world_size": dist.world_size}
    with run.started(params):
        metrics = _train(**fit, log=run.log_metrics, progress=progress)
        digests = dist.weight_digests(model)
        if dist.active:
            run.tag({tags.DDP_WEIGHT_DIGESTS: ",".join(d[:16] for d in digests)})
        dist.check_in_sync(digests)
        arch = autoencoder_arch(kind, shape, spec.model.hidden, spec.model.channels, spec.model.latent)
        run.register(distributed.unwrap(model), arch, metrics)
    assert run.run_id is not None and run.model_version is not None
    return PretrainResult(
        run.run_id, run.model_name, run.model_version, run.alias, metrics, run.decision, run.waiver_id,
        device.type, dist.world_size, run.waiver_note,
    )  # fmt: skip


def _pretext(spec: PretrainSpec):
    from datagov.training.pretext import Pretext

    t = spec.train
    return Pretext(t.pretext, t.loss, t.noise, t.mask_ratio, t.patch)


def _train(model, optimizer, pretext, streams, spec, dist, log, progress) -> dict:
    """Train; `log(metrics, step)` records each epoch (None on ranks other than 0)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from torch.utils.data import DataLoader

    from datagov.progress import progress_bar
    from datagov.training.distributed import unwrap
    from datagov.training.loop import run_epoch

    train_stream, val_stream = streams
    bar = progress_bar(
        TextColumn("[bold]epoch {task.fields[epoch]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f} · {task.fields[rate]}"),
        TimeElapsedColumn(),
        enabled=progress,
    )
    workers = 0 if train_stream.in_memory else spec.train.workers
    loader_kw = dict(
        batch_size=None,
        num_workers=workers,
        pin_memory=dist.device.type == "cuda",
        persistent_workers=workers > 0,
    )
    metrics: dict = {}
    # Built once: persistent workers read the epoch from the streams' shared memory.
    train_loader = DataLoader(train_stream, **loader_kw)
    val_loader = DataLoader(val_stream, **loader_kw)
    with bar:
        task = bar.add_task("train", total=len(train_stream), epoch=0, loss=float("nan"), rate="")
        for epoch in range(spec.train.epochs):
            train_stream.set_epoch(epoch)
            # rich's reset replaces every field: give them all, or the columns that read them fail to render
            bar.reset(
                task, total=len(train_stream), epoch=f"{epoch + 1}/{spec.train.epochs}", loss=float("nan"), rate=""
            )

            def tick(_n: int, loss: float) -> None:
                bar.update(task, advance=1, loss=loss)

            with dist.join(model):
                train_loss, n, secs = run_epoch(
                    model,
                    train_loader,
                    dist.device,
                    pretext,
                    optimizer=optimizer,
                    on_batch=tick,
                )
            # Validation on the bare module (no DDP collectives), then summed across ranks.
            val_loss, val_n, _ = run_epoch(unwrap(model), val_loader, dist.device, pretext)
            train_sum, n_all, val_sum, val_all = dist.sum(
                train_loss * n if n else 0.0, n, val_loss * val_n if val_n else 0.0, val_n
            )
            rate = n_all / max(secs, 1e-9)
            bar.update(task, rate=f"{rate:,.0f} samples/s")
            metrics = {"train_loss": train_sum / n_all, "val_loss": val_sum / max(val_all, 1), "samples_per_s": rate}
            if log is not None:
                log(metrics, step=epoch)
    return metrics
