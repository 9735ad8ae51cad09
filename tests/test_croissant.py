"""`datagov datasets croissant`: Croissant 1.1 JSON-LD validated by mlcroissant
(the reference reader) and read back through it, equal to the stored rows;
files, license, creator and the Responsible-AI fields checked against the
catalog they came from."""

import hashlib
import io
import json
import logging

import mlcroissant as mlc
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from datagov.catalog.db import open_catalog
from tests.conftest import version_rows
from tests.training.conftest import digits_ws  # noqa: F401


def _load(path):
    """The document as mlcroissant reads it: no errors allowed (warnings are only advice)."""
    dataset = mlc.Dataset(jsonld=str(path))
    assert not dataset.metadata.issues.errors, dataset.metadata.issues.report()
    return dataset


def _files(ws, name):
    with open_catalog(ws) as con:
        return con.execute(
            "SELECT f.path, f.sha256, f.bytes FROM files f JOIN versions v ON v.digest = f.digest "
            "WHERE v.dataset = ? ORDER BY f.path",
            [name],
        ).fetchall()


@pytest.fixture
def table(cli, tmp_path):
    data = pa.table({
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "score": pa.array([0.5, 1.25, -2.0, 3.5]),
        "text": ["alpha", "beta", "gamma", "delta"],
        "ok": [True, False, True, True],
    })  # fmt: skip
    pq.write_table(data, tmp_path / "t.parquet")
    result = cli("ingest", tmp_path / "t.parquet", "--name", "tiny", "--owner", "alice", "--license", "CC-BY-NC-4.0",
                 "--description", "four rows")  # fmt: skip
    assert result.exit_code == 0, result.output
    return cli


def test_a_table_reads_back_through_mlcroissant_equal_to_the_stored_rows(table, ws, tmp_path):
    out = tmp_path / "tiny.json"
    result = table("datasets", "croissant", "tiny", "--out", out)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["conformsTo"][0] == "http://mlcommons.org/croissant/1.1"
    assert doc["license"] == "https://spdx.org/licenses/CC-BY-NC-4.0.html"
    assert doc["creator"] == {"@type": "sc:Person", "name": "alice"} and doc["description"] == "four rows"
    (stored,) = _files(ws, "tiny")
    (file_object,) = doc["distribution"]
    assert (file_object["@id"], file_object["sha256"]) == stored[:2]
    with open(file_object["contentUrl"], "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == stored[1]  # the bytes it names are the bytes cataloged

    dataset = _load(out)
    assert dataset.metadata.version == "1.0.0"
    types = {f.name: f.data_types for f in dataset.metadata.record_sets[0].fields}
    assert types["id"] == [mlc.DataType.INTEGER] and types["score"] == [mlc.DataType.FLOAT]
    records = [
        (r["records/id"], r["records/score"], r["records/text"].decode(), bool(r["records/ok"]))
        for r in dataset.records("records")
    ]
    assert records == version_rows(ws, "tiny", "id, score, text, ok", order_by="id")


def test_images_lineage_and_checks_are_described_truthfully(digits_ws, ws, tmp_path):  # noqa: F811
    assert digits_ws("validate", "digits-eval", "--suite", "digits-labelled").exit_code == 0
    checked = digits_ws("contamination", "digits-pretrain", "digits-eval")
    assert checked.exit_code == 0, checked.output
    out = tmp_path / "eval.json"
    assert digits_ws("datasets", "croissant", "digits-eval", "--out", out).exit_code == 0
    doc = json.loads(out.read_text())
    # none declared: Croissant requires both, so the document says they are unknown rather than invent them
    assert doc["license"] == "https://spdx.org/licenses/NOASSERTION"
    assert doc["creator"]["name"] == "unknown: no owner is recorded in the datagov catalog"
    assert "http://mlcommons.org/croissant/RAI/1.0" in doc["conformsTo"]

    rai = doc["rai:dataCollection"]
    assert "is the 'eval' split of digits@" in rai and "was ingested by datagov from sklearn:digits" in rai
    assert doc["rai:dataCollectionRawData"] == "sklearn:digits"
    steps = " ".join(doc["rai:dataPreprocessingProtocol"])
    assert "dropping near duplicates first" in steps
    with open_catalog(ws) as con:
        removed = con.execute("SELECT count(*) FROM rejects WHERE dataset = 'digits'").fetchone()[0]
    assert removed > 0 and f"{removed} item(s) removed from digits@" in steps
    checks = doc["rai:dataLimitations"]
    assert any(c.startswith("Great Expectations suite 'digits-labelled' (quality)") and "passed" in c for c in checks)
    assert any(c.startswith("Near-duplicate check against version") and "0 of 354 rows flagged" in c for c in checks)

    logging.getLogger("absl").setLevel(logging.ERROR)
    dataset = _load(out)
    fields = {f.name: f.data_types for f in dataset.metadata.record_sets[0].fields}
    assert fields["image"] == [mlc.DataType.IMAGE_OBJECT]
    records = list(dataset.records("records"))
    stored = version_rows(ws, "digits-eval", "image, label")
    assert len(records) == len(stored) == 354
    for record, (image, label) in zip(records, stored, strict=True):
        assert record["records/label"] == label
        assert np.array_equal(np.asarray(record["records/image"]), np.asarray(Image.open(io.BytesIO(image))))


def test_bad_input_is_one_error_and_writes_nothing(table, tmp_path):
    for args, message in (
        (["nope"], "Error: unknown dataset 'nope'"),
        (["tiny", "--out", tmp_path], "Error: cannot write"),
    ):
        result = table("datasets", "croissant", *args)
        assert result.exit_code == 1 and result.stderr.startswith(message), result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet", "ws"]


def test_a_version_keeps_its_number_when_newer_ones_arrive(table, ws, tmp_path):
    first = json.loads(table("datasets", "croissant", "tiny").stdout)
    pq.write_table(pa.table({"id": [9]}), tmp_path / "t2.parquet")
    assert table("ingest", tmp_path / "t2.parquet", "--name", "tiny").exit_code == 0
    again = json.loads(table("datasets", "croissant", first["identifier"]).stdout)
    newest = json.loads(table("datasets", "croissant", "tiny").stdout)
    assert first["version"] == again["version"] == "1.0.0" and newest["version"] == "2.0.0"
