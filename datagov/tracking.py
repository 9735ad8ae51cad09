"""MLflow behind one small module. Tracking and registry default to SQLite
under the workspace's catalog/ (MLflow 3 would otherwise use ./mlflow.db in
whatever directory a command runs from); MLFLOW_TRACKING_URI overrides."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from datagov import tags
from datagov.catalog.versions import Version
from datagov.errors import first_line
from datagov.redact import redact
from datagov.workspace import Workspace

# Read once: mlflow.set_tracking_uri() writes MLFLOW_TRACKING_URI into the
# environment, so reading it later would return our own last workspace's URI.
_USER_TRACKING_URI = os.environ.get("MLFLOW_TRACKING_URI")


def default_uri(ws: Workspace) -> str:
    return f"sqlite:///{ws.catalog_dir / 'mlflow.db'}"


def tracking_uri(ws: Workspace) -> str:
    """MLFLOW_TRACKING_URI, else `[tracking] uri` in datagov.toml (a team's
    MLflow server), else the workspace's own SQLite store."""
    configured = ws.config.get("tracking", {}).get("uri", "")
    if not isinstance(configured, str):
        from datagov.errors import InvalidInput

        raise InvalidInput("[tracking] uri in datagov.toml is not a string")
    return _USER_TRACKING_URI or configured.strip() or default_uri(ws)


_store_ready: set[str] = set()


def _create_store_once(ws: Workspace, mlflow) -> None:
    """Make the SQLite store's tables under a file lock: two processes that
    meet a new workspace would otherwise both create them, and one fails."""
    uri = tracking_uri(ws)
    if uri != default_uri(ws) or uri in _store_ready:
        return
    import fcntl

    ws.catalog_dir.mkdir(parents=True, exist_ok=True)
    with open(ws.catalog_dir / ".mlflow.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        mlflow.MlflowClient().search_experiments(max_results=1)
    _store_ready.add(uri)


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
    _end_interrupted_runs(ws, mlflow)
    _create_store_once(ws, mlflow)
    return mlflow


def _end_interrupted_runs(ws: Workspace, mlflow) -> None:
    """Runs the catalog marked `interrupted` (their process died) that MLflow
    still shows RUNNING are ended KILLED: MLflow's side of the catalog's
    verdict, reconciled here because this is the module that talks to MLflow."""
    if not store_exists(ws):
        return  # nothing was ever logged: do not create the store to find that out
    from datagov.catalog.db import open_catalog
    from datagov.catalog.runs import interrupted_runs

    with open_catalog(ws) as con:
        interrupted = interrupted_runs(con)
    if not interrupted:
        return
    client = mlflow.MlflowClient()
    running = mlflow.search_runs(
        search_all_experiments=True, filter_string="attributes.status = 'RUNNING'", output_format="list"
    )
    for run in running:
        if run.info.run_id in interrupted:
            client.set_terminated(run.info.run_id, status="KILLED")


def experiment_id(ws: Workspace, name: str) -> str:
    import mlflow

    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    if tracking_uri(ws) != default_uri(ws):  # a server keeps artifacts where it was told (S3, proxied)
        return mlflow.create_experiment(name)
    artifacts = (ws.catalog_dir / "mlartifacts" / name).resolve()
    return mlflow.create_experiment(name, artifact_location=artifacts.as_uri())


@contextmanager
def started_run(ws: Workspace, experiment: str, run_name: str | None = None) -> Iterator[str]:
    """An MLflow run in the named experiment, active for the body; yields its
    id. MLflow ends it FAILED when the body raises, FINISHED otherwise."""
    mlflow = configure(ws)
    with mlflow.start_run(experiment_id=experiment_id(ws, experiment), run_name=run_name) as run:
        yield run.info.run_id


@contextmanager
def nested_run(run_name: str) -> Iterator[str]:
    """A run nested in the active one, in the same experiment (MLflow would
    otherwise put it in experiment 0, with artifacts under the current folder)."""
    import mlflow

    parent = mlflow.active_run()
    if parent is None:
        raise RuntimeError("nested_run needs an active run")
    with mlflow.start_run(run_name=run_name, nested=True, experiment_id=parent.info.experiment_id) as run:
        yield run.info.run_id


def log_params(params: dict[str, Any]) -> None:
    import mlflow

    mlflow.log_params(flat_params(params))


def set_tags(values: dict[str, str]) -> None:
    import mlflow

    mlflow.set_tags(values)


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    import mlflow

    mlflow.log_metrics(metrics, step=step)


def log_file(path: str | Path, folder: str) -> None:
    import mlflow

    mlflow.log_artifact(str(path), artifact_path=folder)


def log_json(doc: dict, name: str) -> None:
    import mlflow

    mlflow.log_dict(doc, name)


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
        return locate(ws, con, version.digest, version.dataset).root


def log_dataset(ws: Workspace, version: Version, context: str, holdout_every: int | None = None) -> None:
    """Record a version as an MLflow dataset input, with our digest, without loading it.

    `holdout_every=N` names the validation rows held out of it (every Nth):
    MLflow keeps one input per (name, digest) and run, so the held-out
    subset needs its own name to appear beside the training input."""
    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.types import ColSpec, Schema, TensorSpec

    cols: list[ColSpec | TensorSpec] = [
        ColSpec(_MLFLOW_TYPES.get(c["type"].upper(), "string"), c["name"]) for c in version.schema
    ]
    import warnings

    with warnings.catch_warnings():  # "can be interpreted in multiple ways": both are the local source
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(_version_root(ws, version))
    # MLflow rejects digests over 36 characters: it gets our digest's prefix (144
    # bits; `datagov ... NAME@PREFIX` resolves it) and the full digest as a tag.
    name = f"{version.ref}:holdout-1-in-{holdout_every}" if holdout_every else version.ref
    # MetaDataset is concrete at run time; its stub leaves `profile` abstract
    dataset = MetaDataset(source, name=name, digest=version.digest[:MLFLOW_DIGEST_CHARS], schema=Schema(cols))  # type: ignore[abstract]
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


# The registry: every MlflowClient call datagov makes goes through here.


def registry_client(ws: Workspace):
    """An MlflowClient on this workspace's store, or a clear error naming the URI."""
    from mlflow import MlflowClient

    from datagov.errors import DatagovError, NotFound

    # MLflow retries an unreachable server 7 times with backoff (minutes); a review should say so sooner.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    if not store_exists(ws):
        # reading must not create the store: nothing was ever registered here, or the store was lost
        require_registry_matches(ws)
        raise NotFound("no models are registered in this workspace yet", hint="train one with `datagov pretrain`")
    configure(ws)
    c = MlflowClient()
    try:
        c.search_registered_models(max_results=1)
    except Exception as exc:  # an unreachable server raises requests', urllib3's or MLflow's errors
        first = first_line(getattr(exc, "message", exc))
        shown = redact(tracking_uri(ws))
        raise DatagovError(
            f"cannot reach the MLflow store at {shown}: {first.replace(tracking_uri(ws), shown)}"
        ) from None
    return c


RUNS_PER_SEARCH = 100  # run ids per `run_id IN (...)` search: one request each, not one per run


def run_tag(ws: Workspace, run_ids: list[str], key: str) -> dict[str, str | None]:
    """The value of one tag on each of these MLflow runs (None when absent or the run is gone)."""
    if not run_ids or not store_exists(ws):
        return {}
    import re

    mlflow = configure(ws)
    found: dict[str, str | None] = dict.fromkeys(run_ids)
    asked = [r for r in run_ids if re.fullmatch(r"[0-9a-f]{32}", r)]  # a catalog row is never a filter fragment
    for start in range(0, len(asked), RUNS_PER_SEARCH):
        chunk = asked[start : start + RUNS_PER_SEARCH]
        wanted = "attributes.run_id IN (" + ", ".join(f"'{r}'" for r in chunk) + ")"
        for run in mlflow.search_runs(search_all_experiments=True, filter_string=wanted, output_format="list"):
            found[run.info.run_id] = run.data.tags.get(key)
    return found


def store_exists(ws: Workspace) -> bool:
    """False when the default SQLite store was never made (or was lost); a server is assumed to exist."""
    return tracking_uri(ws) != default_uri(ws) or (ws.catalog_dir / "mlflow.db").exists()


def registered_runs(ws: Workspace, names: list[str]) -> dict[tuple[str, str], str]:
    """(model name, version) -> run id of every registered version of these models."""
    if not store_exists(ws):
        return {}
    from mlflow import MlflowClient

    configure(ws)
    client = MlflowClient()
    return {
        (name, str(v.version)): str(v.run_id)
        for name in names
        for v in client.search_model_versions(f"name = '{name}'")
    }


def require_registry_matches(ws: Workspace) -> None:
    """Refuse when the MLflow store no longer holds the model versions the
    catalog recorded (a lost or replaced catalog/mlflow.db): training on
    would register a second model under a name and version the catalog
    already gives to another."""
    from datagov.catalog.db import open_catalog
    from datagov.catalog.model_artifacts import recorded_versions
    from datagov.errors import IntegrityError

    with open_catalog(ws) as con:
        recorded = recorded_versions(con)
    if not recorded:
        return
    registered = registered_runs(ws, sorted({name for name, _, _ in recorded}))
    wrong = [(n, v, run) for n, v, run in recorded if registered.get((n, v)) != run]
    if not wrong:
        return
    name, version, run = wrong[0]
    other = registered.get((name, version))
    held = f"holds {name}/{version} from another run ({other[:12]})" if other else f"has no {name}/{version}"
    raise IntegrityError(
        f"the MLflow store at {redact(tracking_uri(ws))} does not match this workspace's catalog: it {held}, "
        f"which the catalog recorded from run {run[:12]} ({len(wrong)} of {len(recorded)} model versions differ)",
        hint="restore catalog/mlflow.db and catalog/mlartifacts from a backup, or set MLFLOW_TRACKING_URI to the "
        "store this catalog was used with; nothing is trained or registered until they agree",
    )


def find_model_version(c, name: str, version: str | None):
    """A registered model version (the newest when `version` is None), or NotFound listing what exists."""
    from mlflow.exceptions import MlflowException

    from datagov.errors import NotFound

    try:
        if version is None:
            versions = c.search_model_versions(f"name = '{name}'")
            if not versions:
                raise NotFound(f"unknown model {name!r}", hint="see `datagov models list`")
            newest = max(versions, key=lambda v: int(v.version))
            return c.get_model_version(name, newest.version)  # search results carry no aliases
        return c.get_model_version(name, version)
    except MlflowException:
        known = c.search_model_versions(f"name = '{name}'") if c.search_registered_models(f"name = '{name}'") else []
        if not known:
            raise NotFound(f"unknown model {name!r}", hint="see `datagov models list`") from None
        listed = ", ".join(sorted((str(v.version) for v in known), key=int))
        raise NotFound(f"model {name!r} has no version {version} (versions: {listed})") from None


def alias_target(c, name: str, alias: str) -> str | None:
    """The version an alias points at, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return str(c.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def tag_model_versions(ws: Workspace, tagged: dict[str, dict[str, str]]) -> None:
    """Set tags on model versions ("NAME/VERSION" -> tags); a version deleted
    from the registry since is skipped (the catalog still lists it)."""
    from mlflow.exceptions import MlflowException

    client = configure(ws).MlflowClient()
    for model, values in tagged.items():
        name, version = model.rsplit("/", 1)
        try:
            for key, value in values.items():
                client.set_model_version_tag(name, version, key, value)
        except MlflowException:
            continue


def register_logged_model(model_name: str, alias: str | None, tags: dict[str, str]) -> tuple[str, str]:
    """Register the active run's model as a new version of `model_name`
    through an external LoggedModel the run outputs (its weights stay in the
    run's artifacts), tag it and point `alias` at it; returns (version, run_id)."""
    import contextlib
    import io

    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelOutput

    from datagov.noise import quiet_known_warnings
    from datagov.tags import LOGGED_MODEL

    quiet_known_warnings()  # MLflow's signature check imports pyspark; DDP may have reset the filters by now
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("register_logged_model needs the active run that trained the model")
    client = MlflowClient()
    # An external LoggedModel (its bytes stay in the run's artifacts, as
    # safetensors) makes the model a first-class run output, which a later
    # run can name as its model input (`log_model_input`).
    logged = mlflow.create_external_model(name=model_name, source_run_id=run.info.run_id, tags=tags)
    client.log_outputs(run.info.run_id, [LoggedModelOutput(logged.model_id, 0)])
    # Registered from the LoggedModel (models:/ID), not from the artifact path: MLflow then
    # records the version on the logged model too, and its UI links the two both ways.
    # register_model creates the registered model the first time.
    # The weights datagov loads are still the run's safetensors, found through the catalog.
    with contextlib.redirect_stderr(io.StringIO()):  # MLflow prints "Successfully registered ..." itself
        version = str(mlflow.register_model(f"models:/{logged.model_id}", model_name).version)
    tags = {**tags, LOGGED_MODEL: logged.model_id}
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, value)
    if alias:
        client.set_registered_model_alias(model_name, alias, version)
    return version, run.info.run_id


def log_model_input(run_id: str, model_node: tuple[str, str], model_tags: dict[str, str]) -> None:
    """Name a registered model version as the run's model input (MLflow 3's
    run inputs), when it was registered with a LoggedModel made by the run
    that registered it (the tag is only followed when the two agree)."""
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelInput
    from mlflow.exceptions import MlflowException

    from datagov.tags import LOGGED_MODEL

    logged_id = model_tags.get(LOGGED_MODEL)
    if model_node[0] != "model" or not logged_id:
        return  # a run URI, or registered by another tool: the tags still name it
    client = MlflowClient()
    name, version = model_node[1].rsplit("/", 1)
    try:
        logged = client.get_logged_model(logged_id)
        registering = client.get_model_version(name, version).run_id
    except MlflowException:
        return
    if logged.source_run_id == registering:
        client.log_inputs(run_id, models=[LoggedModelInput(logged_id)])


def resolve_model_uri(uri: str, models, runs) -> tuple[str, str, tuple[str, str], dict[str, str]] | None:
    """(uri, pinned uri, lineage node, tags) of a `models:/` or `runs:/` URI
    (`models`, `runs`: the regex matches), None when it is neither; NotFound
    when the registry has no such thing."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from datagov.errors import NotFound

    client = MlflowClient()
    try:
        if models:
            name = models["name"]
            mv = (
                client.get_model_version_by_alias(name, models["alias"])
                if models["alias"]
                else client.get_model_version(name, models["version"])
            )
            return uri, f"models:/{name}/{mv.version}", ("model", f"{name}/{mv.version}"), mv.tags
        if runs:
            run = client.get_run(runs["run"])
            return uri, uri, ("run", runs["run"]), run.data.tags
    except MlflowException as exc:
        raise NotFound(f"no encoder at {uri}: {first_line(exc.message)}", hint="see `datagov models list`") from None
    return None
