"""Classifiers on a pretrained encoder: the pieces both transfer strategies,
the from-scratch baseline and the results benchmark share.

Everything here takes plain iterables of (inputs, class index) batches, so
the same code trains from the Parquet stream or from in-memory tensors.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

import torch
from torch import nn

from datagov.pixels.tensors import to_unit_float
from datagov.training.placement import place
from datagov.training.strategies import STRATEGIES

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


class Standardize(nn.Module):
    """Feature scaling fitted once on the training features and stored with
    the model, so the registered classifier needs no preprocessing."""

    mean: torch.Tensor  # buffers: saved with the weights, moved with the module
    std: torch.Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def fit(self, features: torch.Tensor) -> None:
        self.mean.copy_(features.mean(0))
        self.std.copy_(features.std(0).clamp_min(1e-6))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.mean) / self.std


class Classifier(nn.Module):
    """uint8 or [0, 1] images -> encoder -> standardize -> linear -> logits."""

    def __init__(self, encoder: nn.Module, latent: int, class_names: list[str]) -> None:
        super().__init__()
        self.encoder = encoder
        self.scale = Standardize(latent)
        self.head = nn.Linear(latent, len(class_names))
        self.class_names = list(class_names)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's raw features (before scaling)."""
        return self.encoder(to_unit_float(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale(self.embed(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def latent_size(encoder: nn.Module, example: torch.Tensor) -> int:
    was_training = encoder.training
    encoder.eval()  # batch norm cannot train on one example
    try:
        with torch.no_grad():
            return int(encoder(to_unit_float(example[:1])).shape[1])
    finally:
        encoder.train(was_training)


def reinitialized(module: nn.Module) -> nn.Module:
    """A copy with fresh random weights: the from-scratch baseline."""
    fresh = copy.deepcopy(module)
    for m in fresh.modules():
        reset = getattr(m, "reset_parameters", None)
        if callable(reset):
            reset()
    return fresh


@torch.no_grad()
def extract(fn: Callable[[torch.Tensor], torch.Tensor], batches: Batches, device: torch.device):
    """(fn(inputs) for every batch, targets), concatenated on the CPU."""
    outs, ys = [], []
    for x, y in batches:
        outs.append(fn(x.to(device)).float().cpu())
        ys.append(y)
    return torch.cat(outs), torch.cat(ys)


@dataclass
class Fit:
    best_epoch: int
    epochs_run: int
    best_val_loss: float
    history: list[dict] = field(default_factory=list)


def fit(
    model: nn.Module,
    param_groups: list[dict],
    train: Callable[[int], Batches],
    val: Batches,
    *,
    epochs: int,
    patience: int,
    device: torch.device,
    weight_decay: float = 0.0,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> Fit:
    """Adam on cross-entropy with early stopping on validation loss; the
    model ends with its best epoch's weights. `train(epoch)` gives that
    epoch's batches (each source shuffles its own way)."""
    optimizer = torch.optim.Adam(param_groups, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    best = Fit(best_epoch=-1, epochs_run=0, best_val_loss=float("inf"))
    best_state = copy.deepcopy(model.state_dict())
    for epoch in range(epochs):
        model.train()
        total, count = 0.0, 0
        for x, y in train(epoch):
            if len(y) == 1:
                continue  # batch norm cannot train on one example; one row of an epoch is not missed
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(y)
            count += len(y)
        recalibrate_batch_norm(model, partial(train, epoch), device)
        val_loss, val_acc = evaluate_loss(model, val, device)
        metrics = {"train_loss": total / max(count, 1), "val_loss": val_loss, "val_accuracy": val_acc}
        best.history.append(metrics)
        best.epochs_run = epoch + 1
        if on_epoch:
            on_epoch(epoch, metrics)
        if val_loss < best.best_val_loss:
            best.best_val_loss, best.best_epoch = val_loss, epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - best.best_epoch >= patience:
            break
    model.load_state_dict(best_state)
    return best


RECALIBRATION_BATCHES = 64


@torch.no_grad()
def recalibrate_batch_norm(model: nn.Module, batches: Callable[[], Batches], device: torch.device) -> None:
    """Recompute batch norm's running statistics for the weights as they are
    now, from up to RECALIBRATION_BATCHES training batches (cumulative
    average, as `torch.optim.swa_utils.update_bn`). Running statistics lag the
    weights by their momentum; with few examples and a fast-moving encoder
    the lag dominates, and eval-mode validation and accuracy measure stale
    statistics (a ResNet-18 trained from scratch on 40 digits scored at
    chance). A model without batch norm is left alone, and `batches()` is
    not even called for it (no second read of the epoch's data)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the batches below
    model.train()
    for i, (x, y) in enumerate(batches()):
        if i >= RECALIBRATION_BATCHES:
            break
        if len(y) > 1:
            model(x.to(device, non_blocking=True))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


@dataclass(frozen=True)
class Budget:
    """What every strategy (and the baseline) gets: same epochs, patience, batches."""

    epochs: int = 100
    patience: int = 15
    batch_size: int = 32
    lr: float = 3e-3
    encoder_lr: float = 3e-4
    weight_decay: float = 0.0
    seed: int = 0


def train_classifier(
    strategy: str,
    encoder: nn.Module,
    class_names: list[str],
    train: Callable[[int], Batches],
    train_ordered: Callable[[], Batches],
    val: list[tuple[torch.Tensor, torch.Tensor]],
    budget: Budget,
    device: torch.device,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> tuple[Classifier, Fit]:
    """One classifier on `encoder` (a pretrained autoencoder's encoder).

    finetune: encoder and head end to end, the encoder at `encoder_lr`.
    features: the encoder frozen; features extracted once; a linear head.
    scratch:  the same network from random weights, everything at `lr`.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy {strategy!r} is not one of {tuple(STRATEGIES)}")
    chosen = STRATEGIES[strategy]
    torch.manual_seed(budget.seed)
    encoder = copy.deepcopy(encoder) if chosen.pretrained else reinitialized(encoder)
    first, _ = next(iter(train_ordered()))
    clf = place(Classifier(encoder, latent_size(encoder, first), class_names), device)
    # The scale is fitted on features as training will first see them: a pretrained encoder's batch
    # norm uses its running statistics (eval mode); a fresh one has none yet, so batch statistics.
    clf.train(not chosen.pretrained)
    train_feats, train_y = extract(clf.embed, train_ordered(), device)
    clf.scale.fit(train_feats.to(device))
    fit_budget = partial(fit, epochs=budget.epochs, patience=budget.patience, device=device,
                         weight_decay=budget.weight_decay, on_epoch=on_epoch)  # fmt: skip
    if not chosen.trains_encoder:
        clf.encoder.requires_grad_(False)
        val_feats, val_y = extract(clf.embed, val, device)
        gen = torch.Generator().manual_seed(budget.seed)

        def feature_batches(_epoch: int) -> Batches:
            order = torch.randperm(len(train_y), generator=gen)
            for i in range(0, len(order), budget.batch_size):
                take = order[i : i + budget.batch_size]
                yield train_feats[take], train_y[take]

        head = nn.Sequential(clf.scale, clf.head)
        groups = [{"params": clf.head.parameters(), "lr": budget.lr}]
        result = fit_budget(head, groups, feature_batches, [(val_feats, val_y)])
    else:
        groups = [
            {"params": clf.encoder.parameters(), "lr": budget.encoder_lr if chosen.pretrained else budget.lr},
            {"params": clf.head.parameters(), "lr": budget.lr},
        ]
        result = fit_budget(clf, groups, train, val)
    return clf, result


@torch.no_grad()
def evaluate_loss(model: nn.Module, batches: Batches, device: torch.device) -> tuple[float, float]:
    model.eval()
    total, correct, count = 0.0, 0, 0
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        total += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        count += len(y)
    return total / max(count, 1), correct / max(count, 1)


@dataclass
class Accuracy:
    overall: float
    per_class: dict[str, tuple[int, int]]  # class name -> (correct, total)

    def of(self, name: str) -> float:
        correct, total = self.per_class[name]
        return correct / total if total else float("nan")


@torch.no_grad()
def accuracy(model: nn.Module, batches: Batches, device: torch.device, class_names: list[str]) -> Accuracy:
    model.eval()
    correct = torch.zeros(len(class_names), dtype=torch.long)
    total = torch.zeros(len(class_names), dtype=torch.long)
    for x, y in batches:
        pred = model(x.to(device)).argmax(1).cpu()
        total += torch.bincount(y, minlength=len(class_names))
        correct += torch.bincount(y[pred == y], minlength=len(class_names))
    n = int(total.sum())
    return Accuracy(
        overall=int(correct.sum()) / n if n else float("nan"),
        per_class={name: (int(correct[i]), int(total[i])) for i, name in enumerate(class_names)},
    )
