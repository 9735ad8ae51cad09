"""Safetensors weights: round trip, and refusal of changed or foreign bytes."""

import hashlib

import pytest
import torch

from datagov import tracking
from datagov.artifacts import ARTIFACT
from datagov.catalog.model_artifacts import ModelArtifact
from datagov.errors import IntegrityError
from datagov.pixels.shape import ImageShape
from datagov.training import weights


def test_build_from_the_recorded_architecture_and_round_trip(tmp_path):
    arch = weights.autoencoder_arch("mlp", ImageShape(1, 8, 8), [16], [8], 4)
    model = weights.build(arch)
    path, sha, size = weights.save_weights(model, tmp_path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha and path.stat().st_size == size
    from safetensors.torch import load

    other = weights.build(arch)
    other.load_state_dict(load(path.read_bytes()))
    x = torch.rand(2, 1, 8, 8)
    assert torch.equal(model(x), other(x))
    clf = weights.build(weights.classifier_arch(arch, 4, ["a", "b"]))
    assert clf.head.out_features == 2


def test_load_refuses_changed_bytes_and_the_wrong_architecture(tmp_path, monkeypatch):
    arch = weights.autoencoder_arch("mlp", ImageShape(1, 8, 8), [16], [8], 4)
    path, sha, size = weights.save_weights(weights.build(arch), tmp_path)
    artifact = ModelArtifact("m", "1", "run", ARTIFACT, sha, size, arch)
    monkeypatch.setattr(tracking, "artifact_bytes", lambda run_id, path_, what: path.read_bytes())
    assert weights.load_verified(artifact) is not None
    wrong = ModelArtifact("m", "1", "run", ARTIFACT, sha, size, {**arch, "latent": 5})
    with pytest.raises(IntegrityError, match="do not fit its recorded architecture"):
        weights.load_verified(wrong)
    path.write_bytes(path.read_bytes()[:-1] + b"\0")
    with pytest.raises(IntegrityError, match="changed since registration"):
        weights.load_verified(artifact)
