"""The pipeline spec reference (docs/pipeline-spec.md), generated from the
spec dataclasses themselves: every key, its type, its default and what it
does. A test regenerates it and fails when a key has no description or the
file is stale, so the reference cannot drift from the loader.

    python -m datagov.training.spec_reference > docs/pipeline-spec.md
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from datagov.training.models import CONV_MIN_SIDE
from datagov.training.spec import CHOICES, SPEC_CLASSES

DOCS: dict[str, str] = {
    "name": "The pipeline's name: its MLflow experiment, and the model name unless `register.model_name` is set.",
    "encoder": "The pretrained encoder: `models:/NAME@ALIAS`, `models:/NAME/VERSION` or `runs:/RUN_ID/model`.",
    "strategy": "`finetune` trains the encoder with the head; `features` freezes it and trains a linear head.",
    "baseline": "Also train the same classifier from scratch on the same data (the `pretraining gain`).",
    "data.dataset": "The version to pretrain on: `NAME` (its newest version) or `NAME@DIGEST`.",
    "data.suites": "Suites whose current passing receipts the gate requires for every version used.",
    "data.validation_every": "Every Nth row is held out for the validation loss (2 or more).",
    "data.train": "The labelled version to train the classifier on.",
    "data.eval": "The labelled version accuracy is reported on.",
    "data.label_column": "The integer class column of `data.train` and `data.eval`.",
    "data.contamination": "`train` and/or `encoder`: `data.eval` must hold no near-copy of the fine-tuning data "
    "or of the encoder's pretraining data (a clean `datagov contamination` receipt with default thresholds).",
    "model.kind": f"The autoencoder: `auto` (conv for images of {CONV_MIN_SIDE} px or more a side, else MLP), "
    "`mlp`, `conv`, or a torchvision backbone (`resnet18`, `resnet34`, `mobilenet_v3_small`).",
    "model.hidden": "Widths of the MLP's hidden layers.",
    "model.channels": "Channels of the conv encoder's layers (each halves the image side).",
    "model.latent": "Width of the latent code the encoder produces.",
    "train.epochs": "Passes over the training rows (transfer: the most; early stopping may end sooner).",
    "train.batch_size": "Rows per optimizer step.",
    "train.lr": "Adam's learning rate (transfer: of the head, and of the whole network in the baseline).",
    "train.encoder_lr": "`finetune`: the pretrained encoder's learning rate (slower than the head's).",
    "train.weight_decay": "Adam's weight decay (an L2 penalty on the weights).",
    "train.patience": "Early stopping: epochs without a better validation loss before training stops.",
    "train.loss": "Reconstruction loss: `mse`, or `bce` on pixels scaled to [0, 1].",
    "train.noise": "Denoising: the standard deviation of Gaussian noise added to the inputs (0: none).",
    "train.pretext": "What the autoencoder learns from: `reconstruct` the image (with `train.noise`), `denoise` "
    "(rebuild it from a copy with patches blanked and noise added), or `masked` (MAE-style: blank patches, score "
    "only the blanked pixels).",
    "train.mask_ratio": "`denoise`, `masked`: the share of patches blanked in each image.",
    "train.patch": "`denoise`, `masked`: the side of a blanked patch, in pixels.",
    "train.seed": "Seeds every random choice (weights, shuffling, noise): the same seed, the same run on the CPU.",
    "train.device": "`auto` (CUDA when present), `cpu` or `cuda`.",
    "train.workers": "DataLoader worker processes (0: decode in the training process).",
    "train.decode_cache": "Decode each version's images once into `catalog/cache/<digest>/` (hashed, rebuilt when "
    "changed) instead of every epoch.",
    "register.model_name": "The registered model's name (default: the pipeline's `name`).",
    "register.alias": "The alias the new version takes when the gate opened without a waiver.",
    "register.promote_min": "Metric floors `datagov models promote` enforces, e.g. `{eval_accuracy: 0.75}`.",
    "register.promote_max": "Metric ceilings `datagov models promote` enforces, e.g. `{val_loss: 0.1}`.",
}


def keys(cls: type, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, type, default or `required`) of every leaf of a spec dataclass."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp, path = hints[f.name], f"{prefix}{f.name}"
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            out += keys(tp, f"{path}.")
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = "required"
        out.append((path, tp, default))
    return out


def _type_text(tp: Any) -> str:
    return str(tp).replace("typing.", "") if typing.get_origin(tp) else getattr(tp, "__name__", str(tp))


def _default_text(path: str, default: Any) -> str:
    if default == "required":
        return "required"
    text = f"`{default!r}`".replace("'", '"') if default not in ("", [], {}) else "empty"
    if path in CHOICES:
        text += " (one of " + ", ".join(f"`{c}`" for c in CHOICES[path]) + ")"
    return text


def render_reference() -> str:
    lines = [
        "# Pipeline spec reference",
        "",
        "Generated from `datagov/training/spec.py` by `python -m datagov.training.spec_reference`;",
        "a test fails when it is stale. Any key can be overridden on the command line as",
        "`KEY=VALUE` (lists and maps in YAML's flow style, e.g. `data.suites=[a,b]`).",
    ]
    for command, cls in SPEC_CLASSES.items():
        lines += [
            "",
            f"## `datagov {command}`",
            "",
            "| key | type | default | what it does |",
            "| --- | --- | --- | --- |",
        ]
        for path, tp, default in keys(cls):
            lines.append(f"| `{path}` | {_type_text(tp)} | {_default_text(path, default)} | {DOCS[path]} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_reference(), end="")
