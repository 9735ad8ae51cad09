"""`datagov select`: importance resampling into a derived version, with real
DuckDB, Parquet and the catalog (both backends where the fixture runs them)."""

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datagov.catalog.db import open_catalog
from datagov.catalog.receipts import list_receipts
from tests.conftest import version_rows
from tests.training.conftest import SPEC, TINY


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images * 16).clip(0, 255).astype(np.uint8), d.target


@pytest.fixture
def mixed(cli, ws, tmp_path):
    """A pool of digits and random-noise images (label 10), and a target of zeros and ones."""
    x, y = _digits()
    noise = np.random.default_rng(0).integers(0, 256, (400, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "pool.npz", images=np.concatenate([x, noise]), label=np.concatenate([y, np.full(400, 10)]))
    np.savez(tmp_path / "target.npz", images=x[y < 2][:150], label=y[y < 2][:150])
    assert cli("ingest", tmp_path / "pool.npz", "--name", "pool").exit_code == 0
    assert cli("ingest", tmp_path / "target.npz", "--name", "target").exit_code == 0
    return cli


def test_selection_matches_the_target_and_records_how(mixed, ws):
    result = mixed("select", "pool", "--target", "target", "--size", "300", "--seed", "3", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    chosen = dict((d["label"], d["selected"]) for d in doc["labels"])
    # zeros and ones; of the 400 noise images a random draw would take ~55
    assert chosen["0"] + chosen["1"] > 0.6 * 300 and chosen["10"] <= 5
    assert doc["kl_selected"] < doc["kl_random"] <= doc["kl_pool"] * 1.5
    labels = [r[0] for r in version_rows(ws, "pool-for-target", "label")]
    assert len(labels) == 300 and sorted(chosen.items()) == sorted(
        (str(k), labels.count(k)) for k in set(labels) | {int(k) for k in chosen}
    )
    with open_catalog(ws) as con:
        target = con.execute("SELECT digest FROM versions WHERE dataset = 'target'").fetchone()[0]
        edges = con.execute(
            "SELECT src_id, relation, params FROM lineage WHERE dst_id LIKE 'pool-for-target@%' "
            "AND src_kind = 'version' ORDER BY relation"
        ).fetchall()
        [receipt] = list_receipts(con, dataset="pool-for-target", kind="selection")
    relations = {
        relation: (src, json.loads(params) if isinstance(params, str) else params) for src, relation, params in edges
    }
    src, params = relations["selected"]
    assert src.startswith("pool@") and params["method"] == "thumbnail-ngrams" and params["seed"] == 3
    assert params["target_digest"] == target and relations["selection-target"][0] == f"target@{target}"
    assert receipt.success and receipt.reference_digest == target and receipt.digest == doc["digest"]
    assert receipt.results[0]["result"]["kl_random"] == pytest.approx(doc["kl_random"], abs=1e-6)


def test_a_choice_larger_than_the_weights_draw_on_says_so(mixed):
    small = mixed("select", "pool", "--target", "target", "--size", "20", "--seed", "3", "--name", "small")
    large = mixed("select", "pool", "--target", "target", "--size", "1500", "--seed", "3", "--name", "large")
    assert small.exit_code == 0 and large.exit_code == 0, large.output
    drawn_on = int(re.search(r"the weights draw on ~([\d,]+) rows", large.stdout)[1].replace(",", ""))
    assert 20 <= drawn_on < 1500  # the weights are the same: only the size differs
    assert "note:" not in small.stdout
    assert "note: the weights draw on fewer rows than the 1,500 chosen" in " ".join(large.stdout.split())


def test_the_same_seed_draws_the_same_rows_and_another_seed_others(mixed):
    first = json.loads(mixed("select", "pool", "--target", "target", "--size", "200", "--json").stdout)
    again = json.loads(mixed("select", "pool", "--target", "target", "--size", "200", "--json").stdout)
    other = mixed("select", "pool", "--target", "target", "--size", "200", "--seed", "9", "--json", "--name", "other")
    assert first["digest"] == again["digest"] and again["created"] is False
    assert json.loads(other.stdout)["digest"] != first["digest"]


def test_a_pool_with_nothing_closer_than_random_fails_the_receipt(cli, ws, tmp_path):
    """Identical pool rows weigh the same: the draw is random, and the receipt says it did not match."""
    same = np.tile(np.arange(64, dtype=np.uint8).reshape(1, 8, 8), (50, 1, 1))
    np.savez(tmp_path / "flat.npz", images=same, label=np.zeros(50, dtype=np.int64))
    x, y = _digits()
    np.savez(tmp_path / "target.npz", images=x[:40], label=y[:40])
    assert cli("ingest", tmp_path / "flat.npz", "--name", "flat").exit_code == 0
    assert cli("ingest", tmp_path / "target.npz", "--name", "target").exit_code == 0
    result = cli("select", "flat", "--target", "target", "--size", "10")
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("Error: the 10 rows chosen from flat@") and "no closer to target@" in result.stderr
    with open_catalog(ws) as con:
        [receipt] = list_receipts(con, dataset="flat-for-target", kind="selection")
    assert not receipt.success and receipt.status == "failed"


def test_tables_are_compared_by_hashed_column_values(cli, ws, tmp_path):
    rng = np.random.default_rng(0)
    n = 2000
    city = rng.choice(["oslo", "lima", "pune", "kyiv"], n)
    size = np.where(city == "oslo", rng.normal(10, 1, n), rng.normal(50, 5, n))
    pq.write_table(pa.table({"city": city, "size": size, "id": np.arange(n)}), tmp_path / "pool.parquet")
    wanted = rng.normal(10, 1, 100)
    pq.write_table(pa.table({"city": ["oslo"] * 100, "size": wanted}), tmp_path / "target.parquet")
    assert cli("ingest", tmp_path / "pool.parquet", "--name", "people").exit_code == 0
    assert cli("ingest", tmp_path / "target.parquet", "--name", "oslo").exit_code == 0
    result = cli("select", "people", "--target", "oslo", "--size", "200", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["method"] == "column-hashes"
    cities = [r[0] for r in version_rows(ws, "people-for-oslo", "city")]
    assert len(cities) == 200 and cities.count("oslo") >= 190


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "5000"], "Error: --size 5,000: pool@"),
        (["--size", "0"], "Error: --size 0: pool@"),
        (["--size", "5", "--name", "pool"], "Error: --name pool: the selection is a new dataset"),
        (["--size", "5", "--name", "../x"], "Error: "),
        (["--size", "5", "--encoder", "file:///etc/passwd"], "Error: encoder 'file:///etc/passwd' is not a model URI"),
    ],
)
def test_bad_requests_are_refused_and_write_nothing(mixed, ws, args, message):
    result = mixed("select", "pool", "--target", "target", *args)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(message) and "Traceback" not in result.output
    with open_catalog(ws) as con:
        made = con.execute("SELECT count(*) FROM datasets WHERE name NOT IN ('pool', 'target')").fetchone()
    assert made == (0,)


def test_an_encoder_compares_by_its_embeddings(digits_ws, ws, tmp_path):
    x, y = _digits()
    np.savez(tmp_path / "zeros.npz", images=x[y == 0][:60], label=y[y == 0][:60])
    np.savez(tmp_path / "big.npz", images=np.zeros((4, 16, 16), np.uint8), label=np.zeros(4, np.int64))
    for name in ("zeros", "big"):
        assert digits_ws("ingest", tmp_path / f"{name}.npz", "--name", name).exit_code == 0
    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    assert digits_ws("pretrain", SPEC, *TINY, "--no-progress").exit_code == 0
    uri = "models:/digits-autoencoder@latest-validated"
    result = digits_ws("select", "digits-pretrain", "--target", "zeros", "--size", "100", "--encoder", uri, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["method"] == "encoder" and doc["kl_selected"] < doc["kl_random"]
    with open_catalog(ws) as con:
        [params] = con.execute(
            "SELECT params FROM lineage WHERE relation = 'selected' AND dst_id = ?",
            [f"{doc['dataset']}@{doc['digest']}"],
        ).fetchone()
    assert (json.loads(params) if isinstance(params, str) else params)["encoder"] == uri
    refused = digits_ws("select", "digits-pretrain", "--target", "big", "--size", "10", "--encoder", uri)
    assert refused.exit_code == 1 and refused.stderr.startswith(f"Error: the encoder {uri} takes 1x8x8 images; big@")


def test_an_audit_does_not_look_for_a_suite_file_behind_a_selection_receipt(mixed, ws):
    """The receipt is bound to its method and two digests: the audit re-hashes the bytes, re-runs nothing."""
    assert mixed("select", "pool", "--target", "target", "--size", "200").exit_code == 0
    audit = mixed("audit", "run")
    assert "unknown suite 'select-importance'" not in audit.output, audit.output
    assert audit.exit_code == 0, audit.output
    listed = mixed("validations", "list", "pool-for-target")
    assert listed.exit_code == 0 and "same (method)" in listed.output
