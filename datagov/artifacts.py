"""Registered model artifacts as governance sees them: the weight file's
record in the catalog, and whether its bytes still match it. No torch here:
review and promotion check weights without importing training."""

from __future__ import annotations

import hashlib

from datagov import tracking
from datagov.catalog.db import open_catalog
from datagov.catalog.model_artifacts import ModelArtifact, artifact_of, artifact_of_run, record_artifact
from datagov.errors import IntegrityError, NotFound
from datagov.workspace import Workspace

ARTIFACT = "model/weights.safetensors"


def record(ws: Workspace, artifact: ModelArtifact) -> None:
    with open_catalog(ws, write=True) as con:
        record_artifact(con, artifact)


def find_artifact(ws: Workspace, kind: str, ident: str) -> ModelArtifact:
    """The catalog's record for a model version ("model", "NAME/VERSION") or run."""
    with open_catalog(ws) as con:
        if kind == "model":
            name, _, version = ident.rpartition("/")
            found = artifact_of(con, name, version)
        else:
            found = artifact_of_run(con, ident)
    if found is None:
        raise NotFound(
            f"{kind} {ident} has no weights recorded in this workspace's catalog, so its bytes cannot be checked",
            hint="use a model registered by `datagov pretrain` or `datagov transfer` in this workspace",
        )
    return found


def check_artifact(artifact: ModelArtifact) -> bytes:
    """The weight bytes, once their sha256 matches the catalog; IntegrityError otherwise."""
    data = tracking.artifact_bytes(artifact.run_id, artifact.artifact, what=f"the weights of {describe(artifact)}")
    actual = hashlib.sha256(data).hexdigest()
    if actual != artifact.sha256:
        raise IntegrityError(
            f"the weights of {describe(artifact)} changed since registration: sha256 {actual[:12]}…, catalog says "
            f"{artifact.sha256[:12]}…; refusing to load them",
            hint="restore the artifact, or train and register the model again",
        )
    return data


def describe(artifact: ModelArtifact) -> str:
    return f"{artifact.model_name}/{artifact.model_version} ({artifact.artifact})"
