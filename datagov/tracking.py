"""MLflow behind one small module. Tracking and registry default to SQLite
under the workspace's catalog/ (MLflow 3 would otherwise use ./mlflow.db in
whatever directory a command runs from); MLFLOW_TRACKING_URI overrides."""

from __future__ import annotations

import os
from typing import Any

from datagov.catalog.versions import Version
from datagov.workspace import Workspace


def tracking_uri(ws: Workspace) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{ws.catalog_dir / 'mlflow.db'}"


def configure(ws: Workspace):
    """Point MLflow at this workspace; returns the mlflow module."""
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
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


_MLFLOW_TYPES = {"BLOB": "binary", "VARCHAR": "string", "BIGINT": "long", "INTEGER": "integer",
                 "DOUBLE": "double", "FLOAT": "float", "BOOLEAN": "boolean"}


def log_dataset(ws: Workspace, version: Version, context: str) -> None:
    """Record a version as an MLflow dataset input, with our digest, without loading it."""
    import mlflow
    from mlflow.data.filesystem_dataset_source import FileSystemDatasetSource
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.types import ColSpec, Schema

    cols = [ColSpec(_MLFLOW_TYPES.get(c["type"].upper(), "string"), c["name"]) for c in version.schema]
    dataset = MetaDataset(FileSystemDatasetSource(str(version.path(ws))), name=version.ref,
                          digest=version.digest, schema=Schema(cols))
    mlflow.log_input(dataset, context=context, tags={"datagov.dataset": version.dataset, "datagov.rows": str(version.rows)})


def flat_params(flat: dict[str, Any]) -> dict[str, str]:
    return {k: str(v)[:500] for k, v in flat.items()}
