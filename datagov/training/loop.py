"""The autoencoder training loop, shared by pretraining stages."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn

from datagov.errors import InvalidInput
from datagov.pixels.tensors import to_unit_float
from datagov.training.pretext import Pretext


def pick_device(requested: str) -> torch.device:
    if requested == "cuda" or (requested == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise InvalidInput(
                "train.device=cuda, but no CUDA device is available here",
                hint="use train.device=auto (CUDA when present, CPU otherwise)",
            )
        return torch.device("cuda")
    return torch.device("cpu")


def seed_everything(seed: int, device: torch.device) -> None:
    torch.manual_seed(seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)  # tests compare losses across runs


def run_epoch(
    model: nn.Module,
    batches,
    device: torch.device,
    pretext: Pretext,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    on_batch: Callable[[int, float], None] | None = None,
) -> tuple[float, int, float]:
    """(mean loss, samples, seconds). Trains when an optimizer is given."""
    training = optimizer is not None
    model.train(training)
    total, count, start = 0.0, 0, time.perf_counter()
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    )
    with torch.set_grad_enabled(training):
        for images, _labels in batches:
            if training and images.shape[0] == 1:
                continue  # batch norm cannot train on one example; one row of an epoch is not missed
            images = to_unit_float(images.to(device, non_blocking=True))
            loss = pretext.step(model, images, training, autocast)
            if optimizer is not None:  # training
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            n = images.shape[0]
            total += float(loss.detach()) * n
            count += n
            if on_batch:
                on_batch(n, float(loss.detach()))
    return (total / count if count else float("nan")), count, time.perf_counter() - start
