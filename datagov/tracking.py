"""MLflow behind one small module. Tracking and registry default to SQLite
under the workspace's catalog/ (MLflow 3 would otherwise use ./mlflow.db in
whatever directory a command runs from); MLFLOW_TRACKING_URI overrides."""

from __future__ import annotations

import os
from typing import Any

from datagov import tags
from datagov.catalog.versions import Version
from datagov.workspace import Workspace

# Read once: mlflow.set_tracking_uri() writes MLFLOW_TRACKING_URI into the
# environment, so reading it later would return our own last workspace's URI.
_USER_TRACKING_URI = os.environ.get("MLFLOW_TRACKING_URI")


def default_uri(ws: Workspace) -> str:
    return f"sqlite:///{ws.catalog_dir / 'mlflow.db'}"


def tracking_uri(ws: Workspace) -> str:
    return _USER_TRACKING_URI or default_uri(ws)


def configure(ws: Workspace):
    """Point MLflow at this workspace; returns the mlflow module."""
    import logging

    import mlflow

    # datagov prints what was logged and registered itself; MLflow's own notes
    # (registration chatter, the pickle-format caution) would repeat it.
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = tracking_uri(ws)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow


def experiment_id(ws: Workspace, name: str) -> str:
    import mlflow

    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    artifacts = (ws.catalog_dir / "mlartifacts" / name).resolve()
    return mlflow.create_experiment(name, artifact_location=artifacts.as_uri())


MLFLOW_DIGEST_CHARS = 36  # MLflow's limit for a dataset digest


_MLFLOW_TYPES = {
    "BLOB": "binary",
    "VARCHAR": "string",
    "BIGINT": "long",
    "INTEGER": "integer",
    "DOUBLE": "double",
    "FLOAT": "float",
    "BOOLEAN": "boolean",
}


def _version_root(ws: Workspace, version: Version) -> str:
    """Where the version's files are: a store folder, or a bucket prefix
    (MLflow records the URL as the dataset's source)."""
    from datagov.catalog.db import open_catalog
    from datagov.catalog.locations import locate

    with open_catalog(ws) as con:
        return locate(ws, con, version.digest).root


def log_dataset(ws: Workspace, version: Version, context: str, holdout_every: int | None = None) -> None:
    """Record a version as an MLflow dataset input, with our digest, without loading it.

    `holdout_every=N` names the validation rows held out of it (every Nth):
    MLflow keeps one input per (name, digest) and run, so the held-out
    subset needs its own name to appear beside the training input."""
    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.types import ColSpec, Schema

    cols = [ColSpec(_MLFLOW_TYPES.get(c["type"].upper(), "string"), c["name"]) for c in version.schema]
    import warnings

    with warnings.catch_warnings():  # "can be interpreted in multiple ways": both are the local source
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(_version_root(ws, version))
    # MLflow rejects digests over 36 characters: it gets our digest's prefix (144
    # bits; `datagov ... NAME@PREFIX` resolves it) and the full digest as a tag.
    name = f"{version.ref}:holdout-1-in-{holdout_every}" if holdout_every else version.ref
    dataset = MetaDataset(source, name=name, digest=version.digest[:MLFLOW_DIGEST_CHARS], schema=Schema(cols))
    mlflow.log_input(
        dataset,
        context=context,
        tags={
            tags.DATASET: version.dataset,
            tags.DIGEST: version.digest,
            tags.ROWS: str(version.rows),
            **({tags.HOLDOUT_EVERY: str(holdout_every)} if holdout_every else {}),
        },
    )


def flat_params(flat: dict[str, Any]) -> dict[str, str]:
    return {k: str(v)[:500] for k, v in flat.items()}


def mark_killed(ws: Workspace, run_ids: list[str]) -> None:
    """End MLflow runs whose process died; a run MLflow already ended is left as it is."""
    mlflow = configure(ws)
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    for run_id in run_ids:
        try:
            if client.get_run(run_id).info.status == "RUNNING":
                client.set_terminated(run_id, status="KILLED")
        except MlflowException:
            continue  # the run is not in this tracking store: the catalog row is what we own


def artifact_bytes(run_id: str, path: str, *, what: str) -> bytes:
    """A run artifact's bytes, read once (what a caller hashes is what it uses);
    IntegrityError naming `what` ("the weights of m/1 (...)") when it is gone or not a file."""
    import tempfile
    from pathlib import Path

    import mlflow
    from mlflow.exceptions import MlflowException

    from datagov.errors import IntegrityError

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with tempfile.TemporaryDirectory(prefix="datagov-artifact-") as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=tmp))
        except (MlflowException, OSError) as exc:
            first = str(getattr(exc, "message", exc)).strip().splitlines()[0]
            raise IntegrityError(f"{what} are gone: {first}") from None
        if local.is_symlink() or not local.is_file():
            raise IntegrityError(f"{what} are not a file")
        return local.read_bytes()
