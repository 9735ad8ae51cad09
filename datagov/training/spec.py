"""Pipeline specs: YAML into typed dataclasses, `key=value` overrides, and
every problem reported at once with its key path (torchtune's habit)."""

from __future__ import annotations

import dataclasses
import itertools
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from datagov.errors import InvalidInput
from datagov.textfiles import read_utf8
from datagov.training.backbone_names import MODEL_KINDS
from datagov.training.pretext import PRETEXTS
from datagov.training.strategies import OFFERED


@dataclass
class DataSpec:
    dataset: str  # NAME or NAME@DIGEST
    suites: list[str] = field(default_factory=list)
    validation_every: int = 10  # every Nth row is held out for validation loss


@dataclass
class ModelSpec:
    kind: str = "auto"  # one of MODEL_KINDS: auto | mlp | conv | a backbone name
    hidden: list[int] = field(default_factory=lambda: [256, 128])
    channels: list[int] = field(default_factory=lambda: [32, 64])
    latent: int = 32


@dataclass
class TrainSpec:
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    loss: str = "mse"  # mse | bce
    noise: float = 0.0  # denoising: std of Gaussian noise added to inputs
    pretext: str = "reconstruct"  # reconstruct | denoise | masked (training/pretext.py)
    mask_ratio: float = 0.5  # denoise, masked: the share of patches blanked
    patch: int = 4  # denoise, masked: a blanked patch's side in pixels
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    workers: int = 0
    decode_cache: bool = True  # decode each version once into catalog/cache/ (training/pixel_cache.py)


@dataclass
class RegisterSpec:
    model_name: str = ""
    alias: str = "latest-validated"
    # `datagov models promote` moves an alias only while these hold (metric name: bound).
    promote_min: dict[str, float] = field(default_factory=dict)
    promote_max: dict[str, float] = field(default_factory=dict)


@dataclass
class PretrainSpec:
    name: str
    data: DataSpec
    model: ModelSpec = field(default_factory=ModelSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    register: RegisterSpec = field(default_factory=RegisterSpec)


@dataclass
class TransferDataSpec:
    train: str  # the labelled target version: NAME or NAME@DIGEST
    eval: str  # where accuracy is reported
    suites: list[str] = field(default_factory=list)
    label_column: str = "label"
    validation_every: int = 5  # every Nth training row is held out for early stopping
    # eval must hold no near-copy of these: `train` (the fine-tuning data) and/or
    # `encoder` (the encoder's pretraining data); each needs a clean
    # `datagov contamination` receipt made with the default thresholds
    contamination: list[str] = field(default_factory=list)


@dataclass
class TransferTrainSpec:
    epochs: int = 100
    batch_size: int = 32
    lr: float = 3e-3  # the classifier head (and the whole network in the baseline)
    encoder_lr: float = 3e-4  # finetune: the pretrained encoder learns slower
    weight_decay: float = 0.0
    patience: int = 15  # early stopping: epochs without a better validation loss
    seed: int = 0
    device: str = "auto"
    workers: int = 0
    decode_cache: bool = True


@dataclass
class TransferSpec:
    name: str
    encoder: str  # models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN_ID/model
    data: TransferDataSpec
    strategy: str = "finetune"  # finetune | features
    baseline: bool = False  # also train the same classifier from scratch
    train: TransferTrainSpec = field(default_factory=TransferTrainSpec)
    register: RegisterSpec = field(default_factory=RegisterSpec)


SPEC_CLASSES = {"pretrain": PretrainSpec, "transfer": TransferSpec}  # by the command that runs them

CHOICES = {
    "model.kind": MODEL_KINDS,
    "train.loss": ("mse", "bce"),
    "train.pretext": PRETEXTS,
    "train.device": ("auto", "cpu", "cuda"),
    "strategy": OFFERED,
}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _convert(value: Any, tp: Any, path: str, errors: list[str]) -> Any:
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a mapping, got {type(value).__name__}")
            return None
        return _build(tp, value, path, errors)
    if origin is list:
        (inner,) = typing.get_args(tp)
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list of {_type_name(inner)}, got {type(value).__name__}")
            return None
        return [_convert(v, inner, f"{path}[{i}]", errors) for i, v in enumerate(value)]
    if origin is dict:
        _, inner = typing.get_args(tp)
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a mapping of {_type_name(inner)}, got {type(value).__name__}")
            return None
        return {str(k): _convert(v, inner, f"{path}.{k}", errors) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and (not isinstance(value, tp) or (tp is int and isinstance(value, bool))):
        errors.append(f"{path}: expected {tp.__name__}, got {type(value).__name__} ({value!r})")
        return None
    return value


def _build(cls: type, raw: dict, prefix: str, errors: list[str]) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            errors.append(f"{prefix + '.' if prefix else ''}{key}: unknown key (known: {', '.join(fields)})")
    kwargs = {}
    for name, f in fields.items():
        path = f"{prefix}.{name}" if prefix else name
        if name in raw:
            kwargs[name] = _convert(raw[name], hints[name], path, errors)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            errors.append(f"{path}: required")
            kwargs[name] = None
    try:
        return cls(**kwargs)
    except TypeError as exc:  # only reachable with errors already recorded
        errors.append(f"{prefix or cls.__name__}: {exc}")
        return None


def apply_overrides(raw: dict, overrides: list[str], errors: list[str]) -> dict:
    """`train.epochs=3` sets raw["train"]["epochs"] = 3 (values parsed as YAML)."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            errors.append(f"override {item!r}: expected KEY=VALUE, e.g. train.epochs=3")
            continue
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                errors.append(f"override {item!r}: {part} is not a mapping")
                break
        else:
            node[parts[-1]] = yaml.safe_load(text) if text else ""
    return raw


MAX_SPEC_BYTES = 1 << 20
# (least, most) for numbers; the upper bounds keep a typo from allocating
# terabytes or spinning for ever before anything useful happens.
CONTAMINATION_REFERENCES = ("train", "encoder")  # what eval is checked against
BOUNDS: dict[str, tuple[float, float]] = {
    "train.epochs": (1, 100_000),
    "train.batch_size": (1, 1 << 20),
    "train.patience": (1, 100_000),
    "train.workers": (0, 256),
    "train.seed": (0, 2**32 - 1),
    "train.noise": (0, 100),
    "train.mask_ratio": (0.01, 0.99),  # all or nothing masked teaches nothing
    "train.patch": (1, 1024),
    "train.weight_decay": (0, 100),
    "model.latent": (1, 65_536),
    "data.validation_every": (2, 1 << 30),  # 1 would hold out every row
}
POSITIVE = ("train.lr", "train.encoder_lr")
LAYER_BOUNDS = {"model.hidden": 65_536, "model.channels": 4_096}
MAX_PARAMETERS = 2_000_000_000


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors and aliases: a few lines of aliases can
    expand to gigabytes (the "billion laughs"), and specs do not need them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in pipeline specs", event.start_mark
            )
        return super().compose_node(parent, index)


def read_yaml(path: Path) -> Any:
    text = read_utf8(path, f"pipeline spec {path}", MAX_SPEC_BYTES)
    try:
        return yaml.load(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"pipeline spec {path} is not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise InvalidInput(f"pipeline spec {path} nests too deeply") from None


def _check_values(flat: dict[str, Any], errors: list[str]) -> None:
    from datagov.catalog.versions import check_name, parse_ref
    from datagov.errors import DatagovError

    for key, allowed in CHOICES.items():
        if key in flat and flat[key] not in allowed:
            errors.append(f"{key}: {flat[key]!r} is not one of {', '.join(allowed)}")
    if not flat.get("data.suites"):
        errors.append("data.suites: name at least one suite; training data must pass checks")
    for i, item in enumerate(flat.get("data.contamination") or []):
        if item not in CONTAMINATION_REFERENCES:
            errors.append(f"data.contamination[{i}]: {item!r} is not one of {', '.join(CONTAMINATION_REFERENCES)}")
    for key, (least, most) in BOUNDS.items():
        value = flat.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            if value < least:
                errors.append(f"{key}: must be at least {least:g}")
            elif value > most:
                errors.append(f"{key}: must be at most {most:,}")
    for key in POSITIVE:
        value = flat.get(key)
        if isinstance(value, float) and not 0 < value < 1e3:
            errors.append(f"{key}: must be a positive number below 1000")
    for key, most in LAYER_BOUNDS.items():
        for i, width in enumerate(flat.get(key) or []):
            if isinstance(width, int) and not 1 <= width <= most:
                errors.append(f"{key}[{i}]: must be between 1 and {most:,}")
    checks = [("name", "pipeline"), ("register.model_name", "model"), ("register.alias", "alias")]
    checks += [(f"data.suites[{i}]", "suite") for i in range(len(flat.get("data.suites") or []))]
    for key, what in checks:
        value = flat["data.suites"][int(key[12:-1])] if key.startswith("data.suites[") else flat.get(key)
        if isinstance(value, str) and (value or key != "register.model_name"):
            try:
                check_name(value, what)
            except DatagovError as exc:
                errors.append(f"{key}: {exc.message}")
    for key in ("data.dataset", "data.train", "data.eval"):
        if isinstance(flat.get(key), str):
            try:
                parse_ref(flat[key])
            except DatagovError as exc:
                errors.append(f"{key}: {exc.message}")


def _parameters(flat: dict[str, Any]) -> int:
    """A rough count of the largest layer stack's weights (MLP widths)."""
    widths = [w for w in flat.get("model.hidden") or [] if isinstance(w, int)]
    latent = flat.get("model.latent")
    dims: list[int] = [4096, *widths, latent if isinstance(latent, int) else 1]
    return 2 * sum(a * b for a, b in itertools.pairwise(dims))


def load_spec(path: str | Path, overrides: list[str] | None = None, cls: type = PretrainSpec) -> Any:
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"pipeline spec not found: {path}")
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise InvalidInput(f"pipeline spec {path} must be a mapping at the top level")
    errors: list[str] = []
    raw = apply_overrides(raw, overrides or [], errors)
    spec = _build(cls, raw, "", errors)
    if spec is not None:
        flat = flatten(dataclasses.asdict(spec))
        _check_values(flat, errors)
        if _parameters(flat) > MAX_PARAMETERS:
            errors.append(f"model.hidden: {flat.get('model.hidden')} makes a model of over {MAX_PARAMETERS:,} weights")
    if errors:
        raise InvalidInput(f"pipeline spec {path} has {len(errors)} problem(s):\n  " + "\n  ".join(errors))
    return spec


def flatten(doc: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in doc.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out
