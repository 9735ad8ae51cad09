"""The encoder's LoggedModel becomes a run's model input only when it is the
one the registering run made: a model version tag pointing at another run's
LoggedModel (a careless or hostile edit in MLflow) is not followed."""

import json

from mlflow import MlflowClient

from datagov import tracking
from datagov.tags import LOGGED_MODEL


def test_a_logged_model_tag_pointing_elsewhere_is_not_followed(ws):
    mlflow = tracking.configure(ws)
    experiment = tracking.experiment_id(ws, "t")
    with mlflow.start_run(experiment_id=experiment) as encoder_run:
        version, _ = tracking.register_logged_model("enc", "candidate", {})
    with mlflow.start_run(experiment_id=experiment) as other_run:
        foreign = mlflow.create_external_model(name="other", source_run_id=other_run.info.run_id)
    client = MlflowClient()
    own = client.get_model_version("enc", version).tags[LOGGED_MODEL]
    assert client.get_logged_model(own).source_run_id == encoder_run.info.run_id
    # registered from the LoggedModel: the registry and the logged model name each other (the UI's links)
    assert client.get_model_version("enc", version).source == f"models:/{own}"
    assert json.loads(client.get_logged_model(own).tags["mlflow.modelVersions"]) == [{"name": "enc", "version": 1}]

    with mlflow.start_run(experiment_id=experiment) as forged:
        tracking.log_model_input(forged.info.run_id, ("model", f"enc/{version}"), {LOGGED_MODEL: foreign.model_id})
    assert client.get_run(forged.info.run_id).inputs.model_inputs == []

    with mlflow.start_run(experiment_id=experiment) as honest:
        tracking.log_model_input(honest.info.run_id, ("model", f"enc/{version}"), {LOGGED_MODEL: own})
    assert [m.model_id for m in client.get_run(honest.info.run_id).inputs.model_inputs] == [own]


def test_credentials_in_the_tracking_uri_are_never_echoed(cli, ws, monkeypatch):
    import socket

    from datagov import tracking

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(tracking, "_USER_TRACKING_URI", f"http://admin:s3cret@127.0.0.1:{port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    result = cli("models", "list")
    assert result.exit_code == 1, result.output
    assert f"cannot reach the MLflow store at http://***@127.0.0.1:{port}" in result.stderr
    assert "s3cret" not in result.output
