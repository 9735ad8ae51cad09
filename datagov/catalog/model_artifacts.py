"""The `model_artifacts` table: each registered model's weight file, its
sha256 and its architecture (the only source the loader builds from)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from datagov.catalog.chain import seal
from datagov.catalog.db import transaction
from datagov.catalog.rows import column_list, read_one
from datagov.catalog.team import who
from datagov.catalog.versions import now

if TYPE_CHECKING:
    from datagov.catalog.db import Connection


@dataclass(frozen=True)
class ModelArtifact:
    model_name: str
    model_version: str
    run_id: str
    artifact: str  # path inside the run's artifacts, e.g. model/weights.safetensors
    sha256: str
    bytes: int
    arch: dict


def record_artifact(con: Connection, a: ModelArtifact) -> None:
    with transaction(con):
        con.execute(
            "INSERT INTO model_artifacts (model_name, model_version, run_id, artifact, sha256, bytes, arch, created, "
            "created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                a.model_name,
                a.model_version,
                a.run_id,
                a.artifact,
                a.sha256,
                a.bytes,
                json.dumps(a.arch),
                now(),
                who(con),
            ],
        )
        seal(con, "model", f"{a.model_name}/{a.model_version}")


_COLUMNS = column_list(ModelArtifact)


def artifact_of(con: Connection, model_name: str, model_version: str) -> ModelArtifact | None:
    found = con.execute(
        f"SELECT {_COLUMNS} FROM model_artifacts WHERE model_name = ? AND model_version = ?",
        [model_name, str(model_version)],
    )
    return read_one(found, ModelArtifact, json_columns=["arch"])


def artifact_of_run(con: Connection, run_id: str) -> ModelArtifact | None:
    found = con.execute(
        f"SELECT {_COLUMNS} FROM model_artifacts WHERE run_id = ? ORDER BY created DESC LIMIT 1", [run_id]
    )
    return read_one(found, ModelArtifact, json_columns=["arch"])


def recorded_versions(con: Connection) -> list[tuple[str, str, str]]:
    """(model name, version, run id) of every model version the catalog recorded."""
    rows = con.execute("SELECT model_name, model_version, run_id FROM model_artifacts ORDER BY 1, 2").fetchall()
    return [(str(n), str(v), str(r)) for n, v, r in rows]
