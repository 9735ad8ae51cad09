"""`datagov models import`: a weights file from elsewhere registered as an
encoder whose training data is declared, not verified.

The file is read without running code: safetensors as tensors, a `.pt` or
`.pth` state dict through `torch.load(weights_only=True)` (which refuses
anything but tensors and plain containers). Its tensors must fill the
backbone's encoder exactly (torchvision's keys; the classifier's last layer
becomes the latent layer); the decoder is fresh, since only the encoder transfers. The
result is registered like every datagov model (safetensors, sha256 and
architecture in the catalog), with the declaration in its architecture
record and as MLflow tags: what it was trained on, its license, its source,
the imported file's sha256. A transfer from it then needs
`--accept-declared REASON` (see `transfer.py`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datagov import tags
from datagov.errors import InvalidInput, first_line
from datagov.workspace import Workspace

SAFE_SUFFIXES = (".safetensors", ".pt", ".pth")


@dataclass(frozen=True)
class Declaration:
    trained_on: str
    license: str
    source: str | None

    def as_dict(self, file_name: str, sha256: str) -> dict:
        return {"trained_on": self.trained_on, "license": self.license, "source": self.source,
                "file": file_name, "file_sha256": sha256}  # fmt: skip


MAX_WEIGHTS_BYTES = 4 * 1024**3  # a ResNet-50 is 100 MB; a file this large is not an encoder's weights


def read_state_dict(path: Path) -> tuple[dict, str]:
    """(tensors by name, sha256 of the file's bytes), read once, executing
    nothing: a regular file only (a FIFO or device would block or never
    end), of bounded size, holding floating-point tensors."""
    import io

    import torch

    if path.suffix not in SAFE_SUFFIXES:
        kinds = ", ".join(SAFE_SUFFIXES)
        raise InvalidInput(f"{path.name}: weights must be {kinds} (a state dict, not a pickled module)")
    data = _read_regular_file(path, MAX_WEIGHTS_BYTES)
    sha = hashlib.sha256(data).hexdigest()
    try:
        state: Any
        if path.suffix == ".safetensors":
            from safetensors.torch import load

            state = load(data)
        else:
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # a malformed or pickled file: refused, never run
        raise InvalidInput(f"{path.name} is not a readable state dict: {first_line(exc)}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # the common {"state_dict": ...} checkpoint layout
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InvalidInput(f"{path.name} is not a state dict of tensors")
    # batch norm's step counter is an integer; every weight of a trained network is floating point
    odd = [k for k, v in state.items() if not v.is_floating_point() and not k.endswith("num_batches_tracked")]
    if odd:
        raise InvalidInput(f"{path.name}: {odd[0]} holds {state[odd[0]].dtype} values, not floating-point weights")
    return state, sha


def _read_regular_file(path: Path, limit: int) -> bytes:
    import os
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens without waiting for a writer
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(f"{path} is not a regular file", hint="name the weights file itself")
        if info.st_size > limit:
            raise InvalidInput(f"{path} is {info.st_size:,} bytes, over the {limit:,} a weights file may have")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"{path} grew past {limit:,} bytes while it was read")
    return data


MAX_LATENT = 65_536  # the same bound as a pipeline spec's layer widths


def head_size(state: dict, arch: str) -> int:
    """The latent layer's width: the output size of the architecture's head in `state`."""
    from datagov.training.backbones import BACKBONES

    if arch not in BACKBONES:
        raise InvalidInput(f"--arch {arch!r} is not one of {', '.join(BACKBONES)}")
    head = BACKBONES[arch].head
    if head not in state:
        raise InvalidInput(f"the weights have no {head}: not a torchvision {arch} state dict")
    weight = state[head]
    if weight.ndim != 2:
        raise InvalidInput(f"{head} has shape {tuple(weight.shape)}; a linear layer's weight is 2-D")
    if not 1 <= weight.shape[0] <= MAX_LATENT or weight.shape[1] < 1:
        raise InvalidInput(
            f"{head} has shape {tuple(weight.shape)}: its output width (the latent size) must be "
            f"1..{MAX_LATENT:,} and its input at least 1"
        )
    return int(weight.shape[0])


def build_encoder_from(state: dict, arch: str, shape, latent: int):
    """The autoencoder whose encoder is exactly `state`; a key or shape that does not fit is refused by name."""
    import torch

    from datagov.training.backbones import BackboneAutoencoder

    torch.manual_seed(0)  # the fresh decoder, reproducibly
    try:
        model = BackboneAutoencoder(arch, shape, latent=latent)
    except ValueError as exc:
        raise InvalidInput(f"--shape {shape.channels},{shape.height},{shape.width}: {exc}") from None
    try:
        missing, unexpected = model.encoder.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        first = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), str(exc)[:200])
        raise InvalidInput(
            f"the weights do not fit a {arch} for {shape.channels}x{shape.height}x{shape.width} images: {first}",
            hint="--shape must be the images the weights were trained on (sides up to 32 px use a 3x3 stem)",
        ) from None
    if missing or unexpected:
        raise InvalidInput(
            f"the weights do not fit a {arch}: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )
    return model


def check_request(name: str, declaration: Declaration, alias: str = "imported") -> None:
    """The model name, its alias and the declaration, before any file is read or downloaded."""
    from datagov.catalog.versions import check_name
    from datagov.licenses import classify

    check_name(name, "model")
    check_name(alias, "alias")
    if classify(declaration.license).spdx is None:
        raise InvalidInput(f"--license {declaration.license!r} is not an SPDX expression (e.g. Apache-2.0, CC-BY-4.0)")
    if not declaration.trained_on.strip():
        raise InvalidInput("--trained-on must say what the weights were trained on")


def import_weights(
    ws: Workspace,
    path: Path,
    name: str,
    arch: str,
    shape,
    declaration: Declaration,
    alias: str = "imported",
    check_bytes: Callable[[Path, str], None] | None = None,
) -> str:
    """Register the weights as model `name`; returns its version. `check_bytes(path, sha256)`
    vets the bytes actually read (torchvision's published hash, see `published.py`)."""
    from datagov import tracking
    from datagov.training.records import register_model
    from datagov.training.weights import autoencoder_arch

    check_request(name, declaration, alias)
    state, sha = read_state_dict(path)
    if check_bytes is not None:
        check_bytes(path, sha)
    latent = head_size(state, arch)
    model = build_encoder_from(state, arch, shape, latent)
    declared = declaration.as_dict(path.name, sha)
    record = autoencoder_arch(arch, shape, [], [], latent) | {"declared": declared}
    provenance = {
        tags.STAGE: "import",
        tags.PROVENANCE: "declared",
        tags.DECLARED_TRAINED_ON: declaration.trained_on[:5000],
        tags.DECLARED_LICENSE: declaration.license,
        **({tags.DECLARED_SOURCE: declaration.source} if declaration.source else {}),
    }
    tracking.require_registry_matches(ws)  # one name/version never means two models
    # Not a GatedRun: no data of ours trained these weights, so there is no gate to
    # ask; transfers from them are gated, and must accept the declaration.
    with tracking.started_run(ws, "imports", run_name=f"import {name}"):
        tracking.set_tags(provenance)
        tracking.log_json(declared, "declared-provenance.json")
        return register_model(ws, model, record, name, alias, provenance)
