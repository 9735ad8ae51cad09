"""Finding and loading a pretrained encoder from MLflow.

A URI is resolved to one concrete model version (or run) first, so the
lineage and tags name exactly what was loaded even if an alias moves while
transfer runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from datagov import tags
from datagov.errors import InvalidInput
from datagov.pixels.shape import ImageShape

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
        return self.tags.get(tags.DIGEST)


def check_encoder_uri(uri: str) -> str:
    """The URI, when it has a model URI's form (checked before any store is opened)."""
    if _MODELS.match(uri) or _RUNS.match(uri):
        return uri
    raise InvalidInput(
        f"encoder {uri!r} is not a model URI",
        hint="use models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN_ID/model",
    )


def resolve_encoder(uri: str) -> EncoderSource:
    from datagov import tracking

    check_encoder_uri(uri)
    found = tracking.resolve_model_uri(uri, _MODELS.match(uri), _RUNS.match(uri))
    if found is not None:
        return EncoderSource(*found)
    raise InvalidInput(f"encoder {uri!r} was not found", hint="see `datagov models list`")


def load_autoencoder(ws, source: EncoderSource):
    """(the pretrained autoencoder module on the CPU, its architecture record):
    safetensors bytes checked against the sha256 the catalog recorded at
    registration, the module built from the catalog's architecture."""
    from datagov.training.weights import find_artifact, load_verified

    artifact = find_artifact(ws, *source.node)
    if artifact.arch.get("kind") != "autoencoder":
        raise InvalidInput(
            f"{source.uri} is a {artifact.arch.get('kind')}, not an autoencoder; use a pretrained encoder"
        )
    return load_verified(artifact), artifact.arch


def pretraining_digest(ws, source: EncoderSource) -> str | None:
    """The digest of the data the encoder was pretrained on, from the catalog's
    lineage (version -trained-> run -registered-> model), else from the
    model's `datagov.digest` tag (an encoder registered by another workspace).
    The two must agree: a tag that contradicts the lineage is refused."""
    from datagov.catalog.db import open_catalog
    from datagov.catalog.lineage import trained_versions
    from datagov.errors import IntegrityError

    with open_catalog(ws) as con:
        nodes = trained_versions(con, source.node)
    digests = {node.rpartition("@")[2] for node in nodes}
    if len(digests) > 1:
        raise IntegrityError(f"lineage says {source.pinned_uri} was trained on several versions: {sorted(digests)}")
    found = next(iter(digests), None)
    tagged = source.pretrain_digest
    if found and tagged and found != tagged:
        raise IntegrityError(
            f"{source.pinned_uri} is tagged datagov.digest={tagged[:12]} but the catalog's lineage says it was "
            f"pretrained on {found[:12]}"
        )
    return found or tagged


@dataclass(frozen=True)
class LoadedEncoder:
    """A registered autoencoder ready to embed images: resolved, its weights
    verified against the catalog, its input shape checked against the
    versions it will see. `shift` and `near` receive it; they never load one."""

    model: Any  # the autoencoder in eval mode; `model.encoder(x)` embeds, `model(x)` reconstructs
    uri: str  # as the user wrote it
    pinned_uri: str  # models:/NAME/VERSION
    node: tuple[str, str]  # its lineage node
    shape: ImageShape


def encoder_for_images(ws, uri: str, versions: list) -> LoadedEncoder:
    """Resolve `uri`, load its verified weights, and refuse a version whose
    images are not the shape it takes: before any work, so a receipt naming an
    encoder names one that exists with the bytes the catalog recorded."""
    from datagov.catalog.images import image_shape
    from datagov.tracking import registry_client

    check_encoder_uri(uri)
    registry_client(ws)  # refuses a store that was never made (or lost) instead of creating one
    source = resolve_encoder(uri)
    from datagov.training.placement import place

    model = place(load_autoencoder(ws, source)[0]).eval()
    for version in versions:
        shape = image_shape(ws, version)
        if str(model.shape) != str(shape):
            raise InvalidInput(f"the encoder {uri} takes {model.shape} images; {version.ref} has {shape}")
    return LoadedEncoder(model, uri, source.pinned_uri, source.node, model.shape)
