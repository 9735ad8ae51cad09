"""`datagov transfer`: a classifier on a pretrained encoder, gated, logged.

Checks run before any MLflow run starts: the spec, both dataset versions and
their labels, the encoder (exists, right input shape), then the gate on the
training and evaluation versions, and the distribution-match gate (the training
version must have a passing `match` receipt against the encoder's pretraining
data). `finetune` trains encoder and head end to
end (the encoder at a smaller learning rate); `features` freezes the encoder,
extracts features once and trains a linear head. `--baseline` trains the same
classifier from random weights with the same budget, in a nested run, so the
value of pretraining is a number on the parent run (`pretraining_gain`).
The run itself is a `GatedRun` (training/run.py), which owns the order of
gate, records, logging and registration.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from datagov import tags, tracking
from datagov.catalog.versions import now
from datagov.errors import InvalidInput
from datagov.gate import (
    GateDecision,
    check_contamination,
    check_encoder_content,
    check_gate,
    check_match,
    combine,
)
from datagov.governance import record_waiver
from datagov.training.inputs import image_input, label_counts
from datagov.training.records import record_baseline
from datagov.training.run import GatedRun, ModelInput, RunData, require_reason
from datagov.training.spec import TransferSpec, flatten, load_spec
from datagov.workspace import Workspace


@dataclass
class Outcome:
    """One trained classifier's results."""

    label: str  # finetune | features | scratch
    accuracy: float
    per_class: dict[str, float]
    best_epoch: int
    epochs_run: int


@dataclass
class TransferResult:
    run_id: str
    model_name: str
    model_version: str
    alias: str | None  # None when the gate was waived: the alias was not moved
    strategy: str
    outcome: Outcome
    baseline: Outcome | None
    class_counts: dict[str, int]  # eval rows per class
    decision: GateDecision
    waiver_id: str | None
    encoder: str
    device: str
    extra_metrics: dict = field(default_factory=dict)
    waiver_note: str | None = None  # the waiver's reason and who approved it


def run_transfer(
    ws: Workspace,
    spec_path: str | Path,
    overrides: list[str] | None = None,
    *,
    strategy: str | None = None,
    baseline: bool | None = None,
    waive: str | None = None,
    accept_declared: str | None = None,
    progress: bool = True,
) -> TransferResult:
    overrides = list(overrides or [])
    if strategy:
        overrides.append(f"strategy={strategy}")
    if baseline:
        overrides.append("baseline=true")
    spec: TransferSpec = load_spec(spec_path, overrides, TransferSpec)
    require_reason(waive)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise InvalidInput(
            "transfer runs in one process (labelled sets are small); run it without torchrun",
            hint="torchrun is for `datagov pretrain`",
        )
    train_in, eval_in = image_input(ws, spec.data.train), image_input(ws, spec.data.eval)
    labels = _Labels.of(ws, spec, train_in, eval_in)

    from datagov.training.encoders import load_autoencoder, resolve_encoder
    from datagov.training.loop import pick_device

    device = pick_device(spec.train.device)
    tracking.require_registry_matches(ws)  # one name/version never means two models
    tracking.configure(ws)
    source = resolve_encoder(spec.encoder)
    autoencoder, encoder_arch = load_autoencoder(ws, source)
    _check_shapes(source.uri, autoencoder.shape, train_in, eval_in)
    declared = encoder_arch.get("declared")  # from the catalog's record, not from editable MLflow tags
    acceptance = _accept_declared(ws, train_in, source.pinned_uri, declared, accept_declared)
    decision = _ask_gate(ws, spec, train_in, eval_in, source, declared)
    run = _gated_run(ws, spec, spec_path, decision, waive, train_in, eval_in, source, acceptance)
    run.enforce()
    outcome, base = _train_and_register(ws, run, autoencoder, encoder_arch, labels, device, progress)
    assert run.run_id is not None and run.model_version is not None
    return TransferResult(
        run.run_id, run.model_name, run.model_version, run.alias, spec.strategy, outcome, base, labels.eval_rows,
        decision, run.waiver_id, source.pinned_uri, device.type, waiver_note=run.waiver_note,
    )  # fmt: skip


@dataclass
class _Labels:
    classes: list  # the raw label values, sorted
    names: list[str]  # their names, in that order
    eval_rows: dict[str, int]  # eval rows per class name

    @classmethod
    def of(cls, ws, spec: TransferSpec, train_in, eval_in) -> _Labels:
        train = label_counts(ws, train_in.version, spec.data.label_column)
        evaluated = label_counts(ws, eval_in.version, spec.data.label_column)
        if len(train) < 2:
            raise InvalidInput(f"{train_in.version.ref} has {len(train)} class(es); a classifier needs two")
        classes = sorted(set(train) | set(evaluated))
        names = {**{k: v[0] for k, v in evaluated.items()}, **{k: v[0] for k, v in train.items()}}
        return cls(classes, [names[c] for c in classes], {names[c]: evaluated.get(c, ("", 0))[1] for c in classes})


def _gated_run(ws, spec: TransferSpec, spec_path, decision, waive, train_in, eval_in, source, acceptance) -> GatedRun:
    return GatedRun(
        ws, "transfer", spec, spec_path, decision, waive,
        data=[
            RunData(train_in, "trained", (("training", None), ("validation", spec.data.validation_every))),
            RunData(eval_in, "evaluated", (("evaluation", None),)),
        ],
        tags={
            tags.STRATEGY: spec.strategy,
            tags.EVAL_DATASET: eval_in.version.ref,
            tags.EVAL_DIGEST: eval_in.version.digest,
            tags.ENCODER: source.uri,
            tags.ENCODER_VERSION: source.pinned_uri,
            **({tags.ENCODER_PRETRAIN_DIGEST: source.pretrain_digest} if source.pretrain_digest else {}),
            **acceptance,
        },
        models=[ModelInput(source.node, source.tags)],
        waivers=[acceptance[tags.DECLARED_ACCEPTED_ID]] if tags.DECLARED_ACCEPTED_ID in acceptance else [],
        run_name=spec.strategy,
    )  # fmt: skip


def _train_and_register(ws, run: GatedRun, autoencoder, encoder_arch, labels: _Labels, device, progress):
    import torch

    from datagov.training.loop import seed_everything
    from datagov.training.weights import classifier_arch

    spec = run.spec
    train_in, eval_in = (d.input for d in run.data)
    seed_everything(spec.train.seed, device)
    sources = _Sources(ws, train_in, eval_in, spec, torch.tensor(labels.classes))
    with run.started({"device": device.type}):
        model, outcome = _train_one(spec.strategy, autoencoder, sources, labels.names, spec, device, run, progress)
        metrics = _outcome_metrics(outcome)
        base = _baseline(ws, run, autoencoder, sources, labels.names, spec, device, progress) if spec.baseline else None
        if base:
            metrics |= {"baseline_eval_accuracy": base.accuracy, "pretraining_gain": outcome.accuracy - base.accuracy}
        run.log_metrics(metrics)
        run.log_json(
            {"classes": labels.names, "eval_rows": labels.eval_rows, spec.strategy: outcome.per_class,
             **({"baseline": base.per_class} if base else {})},
            "results/per_class_accuracy.json",
        )  # fmt: skip
        run.register(model, classifier_arch(encoder_arch, model.head.in_features, labels.names), metrics)
    return outcome, base


def _baseline(ws, run: GatedRun, autoencoder, sources, class_names, spec, device, progress) -> Outcome:
    """The same classifier from random weights, same budget, in a run nested
    under the transfer run (and an edge between the two in the catalog)."""
    started = now()
    with tracking.nested_run("baseline") as baseline_id:
        tracking.set_tags({tags.STAGE: "transfer-baseline", tags.BASELINE_OF: str(run.run_id)})
        tracking.log_params(flatten(dataclasses.asdict(spec.train)))
        run.log_datasets()
        _, base = _train_one("scratch", autoencoder, sources, class_names, spec, device, run, progress)
        tracking.log_metrics(_outcome_metrics(base))
    record_baseline(ws, str(run.run_id), baseline_id, started, now())
    return base


def _check_shapes(encoder: str, shape, *inputs) -> None:
    for data in inputs:
        if _chw(shape) != _chw(data.shape):
            raise InvalidInput(
                f"the encoder {encoder} takes {shape} images; {data.version.ref} has {data.shape}",
                hint="pretrain an encoder on data of this shape, or resize the images",
            )


def _ask_gate(ws, spec: TransferSpec, train_in, eval_in, source, declared: dict | None) -> GateDecision:
    """Quality receipts of both versions; the train version matches the
    encoder's pretraining data (unknowable when declared: the acceptance
    stands for it); the encoder's own training content meets the audit rule;
    and eval holds no near-copy of what either has seen."""
    from datagov.training.encoders import pretraining_digest

    pretrained_on = pretraining_digest(ws, source)
    references = _contamination_references(spec, train_in, pretrained_on, source.pinned_uri)
    match = (
        [] if declared else [check_match(ws, "transfer", train_in.version.node_id, pretrained_on, source.pinned_uri)]
    )
    return combine(
        "transfer",
        [
            *(check_gate(ws, "transfer", d.version.node_id, spec.data.suites) for d in _distinct(train_in, eval_in)),
            *match,
            check_encoder_content(ws, "transfer", source.node, source.pinned_uri),
            *(
                check_contamination(ws, "transfer", eval_in.version.node_id, digest, role)
                for digest, role in references
                if not (declared and digest is None)
            ),
        ],
    )


def _accept_declared(ws, train_in, encoder: str, declared: dict | None, reason: str | None) -> dict[str, str]:
    """An imported encoder's training data is declared, not verified: refuse
    unless the user accepts that, and record the acceptance like a waiver
    (a row in the catalog, tags on the run and the model) on what it trains."""
    from datagov.gate import Reason

    if declared is None:
        if reason:
            raise InvalidInput(f"--accept-declared: {encoder} was pretrained by datagov; there is nothing to accept")
        return {}
    from datagov.errors import GateRefused

    why = (
        f"{encoder} was imported: its training data is declared ({declared['trained_on']!r}, license "
        f"{declared['license']}), not verified by datagov, so no match or contamination check can cover it"
    )
    if reason is None:
        raise GateRefused(
            f"gate refused transfer on {train_in.version.ref}: {why}",
            hint="pass --accept-declared REASON to transfer from it; the acceptance is recorded on every model it "
            "trains (--waive does not stand for it)",
        )
    if not reason.strip():
        raise InvalidInput("--accept-declared needs a reason")
    said = GateDecision("transfer", train_in.version.ref, train_in.version.digest, allowed=False)
    said.reasons.append(Reason("declared-provenance", why, fix="--accept-declared REASON"))
    accepted = f"declared provenance accepted: {reason}"
    accepted_id = record_waiver(ws, train_in.version.node_id, "transfer", accepted, said)
    return {tags.DECLARED_ENCODER: encoder, tags.DECLARED_ACCEPTED: reason, tags.DECLARED_ACCEPTED_ID: accepted_id}


def _contamination_references(spec, train_in, pretrained_on: str | None, encoder: str) -> list[tuple[str | None, str]]:
    """(reference digest, what it is) for each reference the spec says eval must not overlap."""
    roles = {
        "train": (train_in.version.digest, "fine-tuning data"),
        "encoder": (pretrained_on, f"pretraining data of {encoder}"),
    }
    return [roles[name] for name in dict.fromkeys(spec.data.contamination)]


def _distinct(*inputs):
    seen, out = set(), []
    for i in inputs:
        if i.version.node_id not in seen:
            seen.add(i.version.node_id)
            out.append(i)
    return out


def _chw(shape) -> tuple[int, int, int]:
    return (shape.channels, shape.height, shape.width)


def _log_inputs(ws, train_in, eval_in, every: int) -> None:
    from datagov import tracking

    tracking.log_dataset(ws, train_in.version, "training")
    tracking.log_dataset(ws, train_in.version, "validation", holdout_every=every)
    tracking.log_dataset(ws, eval_in.version, "evaluation")


def _metric_key(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", text)


def _outcome_metrics(outcome: Outcome) -> dict[str, float]:
    return {
        "eval_accuracy": outcome.accuracy,
        "best_epoch": outcome.best_epoch + 1,  # counted from 1, as printed (MLflow's epoch steps count from 0)
        **{f"eval_accuracy.{_metric_key(k)}": v for k, v in outcome.per_class.items()},
    }


class _Sources:
    """The three labelled streams, yielding class indices instead of raw labels."""

    def __init__(self, ws, train_in, eval_in, spec: TransferSpec, classes) -> None:
        from datagov.training.data import ParquetImageStream
        from datagov.training.pixel_cache import ensure_pixels

        stream = partial(
            ParquetImageStream,
            every=spec.data.validation_every,
            batch_size=spec.train.batch_size,
            seed=spec.train.seed,
            label_column=spec.data.label_column,
        )
        cache = {
            d.version.digest: ensure_pixels(ws, d) if spec.train.decode_cache else None for d in (train_in, eval_in)
        }
        train_px, eval_px = cache[train_in.version.digest], cache[eval_in.version.digest]
        files, shape = train_in.files, train_in.shape
        self.train = stream(files, shape, split="train", shuffle=True, pixels=train_px)
        self.train_fixed = stream(files, shape, split="train", shuffle=False, pixels=train_px)
        self.val = stream(files, shape, split="val", shuffle=False, pixels=train_px)
        self.eval = stream(eval_in.files, eval_in.shape, split="all", shuffle=False, pixels=eval_px)
        self.classes = classes
        self.workers = spec.train.workers
        if len(self.val) == 0 or len(self.train) == 0:
            raise InvalidInput(
                f"{train_in.version.ref} has too few rows to hold out every "
                f"{spec.data.validation_every}th for early stopping",
                hint="lower data.validation_every, or label more rows",
            )

    def batches(self, stream, epoch: int = 0):
        from torch.utils.data import DataLoader

        stream.set_epoch(epoch)
        import torch

        workers = 0 if stream.in_memory else self.workers
        for x, y in DataLoader(stream, batch_size=None, num_workers=workers):
            yield x, torch.searchsorted(self.classes, y)


def _train_one(label, autoencoder, sources: _Sources, class_names, spec: TransferSpec, device, run, progress):
    """Train one classifier (finetune, features or the scratch baseline); returns (model, Outcome)."""
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    from datagov.progress import progress_bar
    from datagov.training.classify import Budget, accuracy, train_classifier

    t = spec.train
    budget = Budget(t.epochs, t.patience, t.batch_size, t.lr, t.encoder_lr, t.weight_decay, t.seed)
    bar = progress_bar(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        TextColumn("epoch {task.completed}/{task.total} · val acc {task.fields[acc]}"),
        TimeElapsedColumn(),
        enabled=progress,
    )

    def on_epoch(epoch: int, metrics: dict) -> None:
        run.log_metrics(metrics, step=epoch)
        bar.update(task, advance=1, acc=f"{metrics['val_accuracy']:.3f}")

    with bar:
        task = bar.add_task(label, total=t.epochs, acc="-")
        clf, result = train_classifier(
            label,
            autoencoder.encoder,
            class_names,
            train=lambda epoch: sources.batches(sources.train, epoch),
            train_ordered=lambda: sources.batches(sources.train_fixed),
            val=list(sources.batches(sources.val)),  # labelled sets are small: decoded once
            budget=budget,
            device=device,
            on_epoch=on_epoch,
        )
        bar.update(task, total=result.epochs_run)
    acc = accuracy(clf, sources.batches(sources.eval), device, class_names)
    per_class = {name: acc.of(name) for name in class_names}
    return clf, Outcome(label, acc.overall, per_class, result.best_epoch, result.epochs_run)
