"""The impact of lifecycle changes on models: an erasure flags every model
trained on an erased item (and what was built on it), promotion refuses
until retrained or waived, the card says what was removed; deleting data a
model used is refused; retiring a model or its data stops new use; a
license change flags the models that carry it."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from datagov.catalog.db import open_catalog
from datagov.catalog.lifecycle import flags_of
from tests.audit.conftest import QUICK
from tests.conftest import version_rows
from tests.training.conftest import SPEC, TINY, TRANSFER, digits_ws, matched, pretrained  # noqa: F401

pytestmark = pytest.mark.duckdb_file  # trains models: once, on the embedded catalog


@pytest.fixture
def classifier(pretrained):  # noqa: F811
    """The autoencoder (on digits-pretrain) and a classifier transferred from it."""
    result = pretrained("transfer", TRANSFER, *QUICK, "--strategy", "features", "--no-progress")
    assert result.exit_code == 0, result.output
    return pretrained


def test_an_erasure_flags_the_models_trained_on_the_items_until_retrained_or_waived(classifier, ws, tmp_path):
    keys = [row[0] for row in version_rows(ws, "digits-pretrain", "pixel_hash", order_by="path")[:3]]
    takedown = tmp_path / "takedown.txt"
    takedown.write_text("\n".join(keys) + "\n")
    plan = classifier("erase", "--keys", takedown, "--reason", "request 11", "--dry-run", "--no-progress")
    assert plan.exit_code == 0, plan.output
    assert "digits-autoencoder/1" in plan.stdout and "digits-classifier/1" in plan.stdout  # built on it
    done = classifier("erase", "--keys", takedown, "--reason", "request 11", "--purge", "--no-progress")
    assert done.exit_code == 0, done.output
    assert "flagged: digits-autoencoder/1, digits-classifier/1" in done.stdout
    with open_catalog(ws) as con:
        (flag,) = flags_of(con, "digits-autoencoder", "1")
    assert flag.kind == "erasure" and "removed 3 row(s)" in flag.message
    tags = MlflowClient().get_model_version("digits-autoencoder", "1").tags
    assert tags["datagov.flagged"] == "erasure" and tags["datagov.erasure_id"] == flag.source

    refused = classifier("models", "promote", "digits-classifier", "1", "--alias", "candidate")
    assert refused.exit_code == 4 and "is flagged (erasure" in refused.stderr
    card = classifier("models", "card", "digits-classifier", "1")
    assert card.exit_code == 0 and "### Data removed after training" in card.stdout
    assert f"erasure {flag.source}" in card.stdout and "bytes purged, proof recorded" in card.stdout
    assert "deleted since training, not counted" in card.stdout  # the old digits-pretrain is gone

    # Retrained on the new version: the new model version carries no flag.
    retrained = classifier("pretrain", SPEC, *TINY, "--no-progress")
    assert retrained.exit_code == 4 and "never validated against suite 'digits-pretrain'" in retrained.stderr
    assert classifier("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    assert classifier("pretrain", SPEC, *TINY, "register.promote_max.val_loss=9", "--no-progress").exit_code == 0
    assert classifier("models", "promote", "digits-autoencoder", "2", "--alias", "candidate").exit_code == 0
    waived = classifier("models", "promote", "digits-autoencoder", "1", "--alias", "old", "--waive", "audit copy")
    assert waived.exit_code == 0, waived.output


def test_data_a_model_used_cannot_be_deleted_and_retired_things_stop_new_use(classifier, ws):
    refused = classifier("datasets", "delete", "digits-eval", "--reason", "cleanup")
    assert refused.exit_code == 4
    assert "registered model version(s) were trained or evaluated on it (digits-classifier/1)" in refused.stderr
    assert "--force" in refused.stderr

    assert classifier("datasets", "retire", "digits-pretrain", "--reason", "superseded").exit_code == 0
    gone = classifier("pretrain", SPEC, *TINY, "--no-progress")
    assert gone.exit_code == 1 and "every version of 'digits-pretrain' is retired" in gone.stderr
    digest = _digest_of(ws, "digits-pretrain")  # pinned by digest, a retired version reaches the gate, which refuses
    by_digest = classifier("pretrain", SPEC, *TINY, f"data.dataset=digits-pretrain@{digest[:12]}", "--waive", "try",
                           "--no-progress")  # fmt: skip
    assert by_digest.exit_code == 4 and "is retired by" in by_digest.stderr and "superseded" in by_digest.stderr

    assert classifier("models", "retire", "digits-classifier", "1", "--reason", "replaced").exit_code == 0
    assert MlflowClient().get_model_version("digits-classifier", "1").tags["datagov.retired"] == "replaced"
    retired = classifier("models", "promote", "digits-classifier", "1", "--alias", "x", "--waive", "please")
    assert retired.exit_code == 4 and "a waiver does not bring back what was retired" in retired.stderr


def test_a_license_change_flags_the_models_that_carry_it(classifier, ws):
    assert classifier("datasets", "license", "digits", "MIT", "--reason", "recorded").exit_code == 0
    relaxed = classifier("datasets", "license", "digits", "BSD-3-Clause", "--reason", "clarified")
    assert relaxed.exit_code == 0 and "none flagged: the new license adds no restriction" in relaxed.stdout
    restricted = classifier("datasets", "license", "digits", "CC-BY-NC-4.0", "--reason", "upstream changed terms")
    assert restricted.exit_code == 0, restricted.output
    assert "flagged (adds non-commercial" in restricted.stdout and "digits-classifier/1" in restricted.stdout
    with open_catalog(ws) as con:
        (flag,) = flags_of(con, "digits-classifier", "1")
    assert flag.kind == "license" and "upstream changed terms" in flag.message
    refused = classifier("models", "promote", "digits-classifier", "1", "--alias", "candidate")
    assert refused.exit_code == 4 and "license of digits" in refused.stderr
    bad = classifier("datasets", "license", "digits", "not a license", "--reason", "x")
    assert bad.exit_code == 1 and "is not an SPDX license expression" in bad.stderr


def _digest_of(ws, name: str) -> str:
    with open_catalog(ws) as con:
        row = con.execute("SELECT digest FROM versions WHERE dataset = ?", [name]).fetchone()
    return row[0]
