"""datagov against a team's MLflow: a real `mlflow server` on 127.0.0.1 with
its backend store on PostgreSQL and its artifacts in the S3-compatible
server, named by `[tracking] uri`, beside a PostgreSQL catalog. Runs, dataset
inputs, LoggedModels, the registry and aliases go there, and weights are
still checked against the sha256 the catalog holds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from datagov.layout import init_workspace
from tests.conftest import REPO, S3_ENV, Cli, _free_port, set_setting, use_postgres_catalog, wait_for_port
from tests.training.conftest import SPEC, TINY

pytestmark = pytest.mark.slow


@pytest.fixture
def mlflow_server(pg_cluster, bucket, s3_server, tmp_path):
    """`mlflow server` with a PostgreSQL backend store and S3 artifacts; yields its URL."""
    name = f"mlflow_{os.getpid()}_{time.monotonic_ns() % 100000}"
    store = pg_cluster.create_database(name).replace("postgresql://", "postgresql+psycopg://", 1)
    port = _free_port()
    env = {**os.environ, **S3_ENV, "MLFLOW_S3_ENDPOINT_URL": s3_server, "AWS_ENDPOINT_URL": s3_server}
    env.pop("MLFLOW_TRACKING_URI", None)
    log = open(tmp_path / "mlflow-server.log", "w")  # noqa: SIM115  # closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", store, "--artifacts-destination", f"{bucket}/mlartifacts", "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        wait_for_port(port, proc, 120, "mlflow server", tmp_path / "mlflow-server.log")
    except RuntimeError:
        log.close()
        raise
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        pg_cluster.drop_database(name)


def test_training_registry_and_weights_through_a_team_mlflow(tmp_path, pg_database, mlflow_server, bucket, s3_server):
    workspace, _ = init_workspace(tmp_path / "ws")
    set_setting(workspace.root, "tracking", "uri", f'"{mlflow_server}"')
    ws = use_postgres_catalog(workspace.root, pg_database)
    assert ws.config["tracking"]["uri"] == mlflow_server
    cli = Cli(ws)
    for suite in ("digits-pretrain", "digits-labelled"):
        shutil.copy(REPO / "expectations" / f"{suite}.json", ws.expectations_dir)
    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    into = "pretrain=0.7,finetune=0.1,eval=0.2"
    assert cli("split", "digits", "--into", into, "--drop-labels", "pretrain", "--dedupe", "near").exit_code == 0
    assert cli("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    trained = cli("pretrain", SPEC, *TINY, "--no-progress")
    assert trained.exit_code == 0, trained.output
    assert not (ws.catalog_dir / "mlflow.db").exists() and not (ws.catalog_dir / "mlartifacts").exists()

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    version = client.get_model_version("digits-autoencoder", "1")
    run = client.get_run(version.run_id)
    assert any(d.dataset.name.startswith("digits-pretrain@") for d in run.inputs.dataset_inputs)
    assert client.get_registered_model("digits-autoencoder").aliases == {"latest-validated": "1"}
    assert client.search_logged_models(experiment_ids=[run.info.experiment_id])  # the LoggedModel is there
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # proxied by the server, stored in the bucket
    objects = _bucket_keys(s3_server, bucket)
    assert any(k.endswith(".safetensors") for k in objects), objects

    review = cli("models", "review", "digits-autoencoder", "1")
    assert review.exit_code == 0 and "Weights: verified" in review.output

    # the weights in the bucket are replaced behind datagov's back: the sha256 the catalog holds catches it
    weights = next(k for k in objects if k.endswith(".safetensors"))
    _overwrite(s3_server, bucket, weights)
    tampered = cli("models", "review", "digits-autoencoder", "1")
    assert "Weights: verified" not in tampered.output, tampered.output


def _bucket_keys(endpoint: str, bucket: str) -> list[str]:
    from pyarrow import fs

    s3 = fs.S3FileSystem(endpoint_override=endpoint.split("//")[1], scheme="http", access_key="testing",
                         secret_key="testing", region="us-east-1")  # fmt: skip
    infos = s3.get_file_info(fs.FileSelector(bucket.removeprefix("s3://"), recursive=True))
    return [i.path for i in infos if i.type == fs.FileType.File]


def _overwrite(endpoint: str, bucket: str, key: str) -> None:
    from pyarrow import fs

    s3 = fs.S3FileSystem(endpoint_override=endpoint.split("//")[1], scheme="http", access_key="testing",
                         secret_key="testing", region="us-east-1")  # fmt: skip
    data = s3.open_input_stream(key).read()
    with s3.open_output_stream(key) as out:
        out.write(data[:-8] + bytes(8))
