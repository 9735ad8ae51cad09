"""`datagov models card` and the `[promote]` license policy: the training
content of a classifier, through its splits and its encoder's pretraining,
with every license in it; protected aliases refused while it carries an
unknown or restrictive license."""

import json

from datagov.catalog.db import open_catalog


def _policy(ws, refuse=None):
    """Protect @production in the workspace's datagov.toml (as `datagov init` wrote it)."""
    path = ws.root / "datagov.toml"
    text = path.read_text().replace("protected_aliases = []", 'protected_aliases = ["production"]')
    if refuse is not None:
        text = text.replace('refuse_licenses = ["unknown", "non-commercial", "no-derivatives"]', refuse)
    path.write_text(text)


def _card(cli, *args):
    result = cli("models", "card", "digits-classifier", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _relicense(cli, license_):
    """Record a license on the source dataset (same bytes: only the dataset's record changes)."""
    assert cli("ingest", "sklearn:digits", "--name", "digits", "--license", license_).exit_code == 0


def test_the_card_lists_the_transitive_training_content_and_every_license(trained, ws, tmp_path):
    card = _card(trained)
    assert card["uri"] == "models:/digits-classifier/1"
    assert card["dependencies"] == ["models:/digits-autoencoder/1"]
    content = {(c["role"], c["ref"].split("@")[0], c["used_by"]) for c in card["content"]}
    assert content == {
        ("trained", "digits-finetune", "models:/digits-classifier/1"),
        ("evaluated", "digits-eval", "models:/digits-classifier/1"),
        ("trained", "digits-pretrain", "models:/digits-autoencoder/1"),  # the encoder's pretraining data
    }
    with open_catalog(ws) as con:
        rows = dict(con.execute("SELECT dataset, rows FROM versions").fetchall())
    for entry in card["content"]:
        assert entry["rows"] == rows[entry["dataset"]]
        assert entry["sources"] == ["sklearn:digits"] and entry["derived_from"][0].startswith("digits@")
        assert [lic["version"].split("@")[0] for lic in entry["licenses"]] == [entry["dataset"], "digits"]
    trained_on = next(c for c in card["content"] if c["dataset"] == "digits-finetune")
    assert {r["suite"]: r["now"] for r in trained_on["receipts"]} == {
        "digits-labelled": "holds", "digits-pretrain-match": "holds"
    }  # fmt: skip
    # No license was recorded anywhere in this workspace: the card says so and flags it.
    assert card["license_flags"] == {"unknown": sorted(
        c["ref"] for c in card["content"] if c["role"] == "trained")}  # fmt: skip

    _relicense(trained, "CC-BY-NC-4.0")
    card = _card(trained)
    assert card["license_flags"] == {"non-commercial": [c["ref"] for c in card["content"] if c["role"] == "trained"]}
    markdown = trained("models", "card", "digits-classifier", "1", "--out", tmp_path / "card.md")
    assert markdown.exit_code == 0 and "License flags: non-commercial" in markdown.stdout
    text = (tmp_path / "card.md").read_text()
    for heading in ("## 1. General information", "## 2. Data sources", "## 3. Data processing"):
        assert heading in text
    assert "CC-BY-NC-4.0" in text and "- **non-commercial**:" in text
    assert "publicly available (scikit-learn's bundled data)" in text
    assert "Provider name and contact: unknown" in text  # not in datagov's records: not invented


def test_protected_aliases_are_refused_for_restrictive_or_unknown_licenses(trained, ws):
    _policy(ws)
    refused = trained("models", "promote", "digits-classifier", "1", "--alias", "production")
    assert refused.exit_code == 4
    assert "license unknown ([promote] in datagov.toml refuses it for @production)" in refused.stderr
    assert trained("models", "promote", "digits-classifier", "1", "--alias", "staging").exit_code == 0

    _relicense(trained, "CC-BY-NC-4.0")
    refused = trained("models", "promote", "digits-classifier", "1", "--alias", "production")
    assert refused.exit_code == 4 and "license non-commercial" in refused.stderr
    assert "digits-pretrain@" in refused.stderr  # reached through the encoder

    _relicense(trained, "CC-BY-4.0 OR CC-BY-NC-4.0")  # a choice that is not restrictive
    allowed = trained("models", "promote", "digits-classifier", "1", "--alias", "production")
    assert allowed.exit_code == 0, allowed.output


def test_bad_input_is_one_clear_error(trained, ws, tmp_path):
    for args, message in (
        (["nope"], "Error: unknown model 'nope'"),
        (["digits-classifier", "9"], "Error: model 'digits-classifier' has no version 9 (versions: 1)"),
        (["digits-classifier", "--format", "pdf"], "Error: unknown card format 'pdf'"),
        (["digits-classifier", "--out", tmp_path], "Error: cannot write"),
    ):
        result = trained("models", "card", *args)
        assert result.exit_code == 1 and result.stderr.startswith(message), result.stderr
    _policy(ws, refuse='refuse_licenses = ["copyleft"]')
    bad = trained("models", "promote", "digits-classifier", "1", "--alias", "production")
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: [promote] refuse_licenses in datagov.toml names")
