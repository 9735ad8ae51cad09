"""Finding and loading a pretrained encoder from MLflow.

A URI is resolved to one concrete model version (or run) first, so the
lineage and tags name exactly what was loaded even if an alias moves while
transfer runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from datagov.errors import InvalidInput, NotFound

_MODELS = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")
_RUNS = re.compile(r"^runs:/(?P<run>[0-9a-f]{32})/(?P<path>.+)$")


@dataclass
class EncoderSource:
    uri: str  # as the user wrote it
    pinned_uri: str  # models:/NAME/VERSION or runs:/RUN/PATH
    node: tuple[str, str]  # its lineage node: ("model", "NAME/VERSION") or ("run", RUN)
    tags: dict[str, str] = field(default_factory=dict)  # the model version's (or run's) tags

    @property
    def pretrain_digest(self) -> str | None:
        """The digest of the data it was pretrained on, when datagov trained it."""
        return self.tags.get("datagov.digest")


def resolve_encoder(uri: str) -> EncoderSource:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    try:
        if m := _MODELS.match(uri):
            name = m["name"]
            mv = (
                client.get_model_version_by_alias(name, m["alias"])
                if m["alias"]
                else client.get_model_version(name, m["version"])
            )
            return EncoderSource(uri, f"models:/{name}/{mv.version}", ("model", f"{name}/{mv.version}"), mv.tags)
        if m := _RUNS.match(uri):
            run = client.get_run(m["run"])
            return EncoderSource(uri, uri, ("run", m["run"]), run.data.tags)
    except MlflowException as exc:
        first = str(exc.message).strip().splitlines()[0]
        raise NotFound(
            f"no encoder at {uri}: {first}", hint="list registered models in the MLflow UI or with `mlflow models`"
        ) from None
    raise InvalidInput(
        f"encoder {uri!r} is not a model URI",
        hint="use models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN_ID/model",
    )


def load_autoencoder(source: EncoderSource):
    """The pretrained autoencoder module, on the CPU."""
    import mlflow.pytorch
    from mlflow.exceptions import MlflowException

    try:
        model = mlflow.pytorch.load_model(source.pinned_uri, map_location="cpu")
    except (MlflowException, OSError) as exc:
        raise NotFound(f"cannot load the encoder {source.uri}: {exc}") from None
    if not (hasattr(model, "encoder") and hasattr(model, "shape")):
        raise InvalidInput(f"{source.uri} is not a datagov autoencoder (no .encoder and .shape)")
    return model
