"""Model weights that cannot run code, and cannot change unseen.

A registered model is a safetensors file (tensors and nothing else: loading
it executes nothing) logged as the run's `model/weights.safetensors`. Its
sha256 and its architecture go into the catalog (`model_artifacts`) at
registration. Loading reads the file once into memory, hashes those bytes,
compares them with the catalog, and only then builds the module from the
catalog's architecture and fills it from the same bytes. A changed,
swapped or pickled artifact is refused by name before anything runs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from datagov.artifacts import check_artifact, describe, find_artifact
from datagov.catalog.model_artifacts import ModelArtifact
from datagov.errors import IntegrityError
from datagov.workspace import Workspace


def autoencoder_arch(kind: str, shape, hidden: list[int], channels: list[int], latent: int) -> dict:
    return {
        "kind": "autoencoder",
        "type": kind,
        "shape": [shape.channels, shape.height, shape.width],
        "hidden": list(hidden),
        "channels": list(channels),
        "latent": latent,
    }


def classifier_arch(encoder_arch: dict, latent: int, class_names: list[str]) -> dict:
    return {"kind": "classifier", "encoder": encoder_arch, "latent": latent, "classes": list(class_names)}


def build(arch: dict):
    """The torch module an architecture record describes, with fresh weights."""
    from datagov.pixels.shape import ImageShape
    from datagov.training.models import build_autoencoder

    if arch.get("kind") == "autoencoder":
        shape = ImageShape(*arch["shape"])
        return build_autoencoder(arch["type"], shape, arch["hidden"], arch["channels"], arch["latent"])
    if arch.get("kind") == "classifier":
        from datagov.training.classify import Classifier

        return Classifier(build(arch["encoder"]).encoder, arch["latent"], arch["classes"])
    raise IntegrityError(f"unknown model architecture record {arch.get('kind')!r}")


def save_weights(model, folder: Path) -> tuple[Path, str, int]:
    """Write the module's state as safetensors; returns (path, sha256, bytes)."""
    from safetensors.torch import save_file

    path = folder / "weights.safetensors"
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path))
    data = path.read_bytes()
    return path, hashlib.sha256(data).hexdigest(), len(data)


def load_verified(artifact: ModelArtifact):
    """The module, built from the catalog's architecture and filled from
    weight bytes whose sha256 matches the catalog; IntegrityError otherwise."""
    data = check_artifact(artifact)
    where = describe(artifact)
    from safetensors import SafetensorError
    from safetensors.torch import load

    model = build(artifact.arch)
    try:
        model.load_state_dict(load(data), strict=True)
    except (SafetensorError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise IntegrityError(f"the weights of {where} do not fit its recorded architecture: {first}") from None
    return model


def load_model(ws: Workspace, name: str, version: str):
    """A registered model version's module, verified (see `load_verified`)."""
    return load_verified(find_artifact(ws, "model", f"{name}/{version}"))
