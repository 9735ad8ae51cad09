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
from tests.sources.test_tabular import latest_digest
from tests.sources.test_webdataset import sample_pixels, write_shards
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
    checks = [a["description"] for a in doc["dqv:hasQualityAnnotation"]]
    assert any(c.startswith("Great Expectations suite 'digits-labelled' (quality)") and "passed" in c for c in checks)
    assert any(c.startswith("Near-duplicate check against version") and "0 of 354 rows flagged" in c for c in checks)
    assert "rai:dataLimitations" not in doc  # passed checks found nothing: they are not limitations
    (parent,) = doc["prov:wasDerivedFrom"]
    assert parent["@id"].endswith(f"/digits@{latest_digest(ws, 'digits')}") and parent["name"].startswith("digits@")
    (activity,) = doc["prov:wasGeneratedBy"]
    assert activity["name"] == "datagov split" and "split=eval" in activity["description"]

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


def _written_elsewhere_beside_a_planted_file(table, name, folder):
    """The document written in a folder of its own, beside a Parquet file that is not the version's."""
    folder.mkdir()
    pq.write_table(pa.table({"id": [999], "score": [0.0], "text": ["planted"], "ok": [False]}), folder / "x.parquet")
    out = folder / "doc.json"
    assert table("datasets", "croissant", name, "--out", out).exit_code == 0
    return out, json.loads(out.read_text())


def test_a_version_of_several_files_reads_exactly_its_own_rows_wherever_the_document_is(table, ws, tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(3):
        rows = pa.table({"id": pa.array([10 * i + j for j in range(4)], pa.int64()), "score": [1.0 * i] * 4,
                         "text": [f"p{i}"] * 4, "ok": [True] * 4})  # fmt: skip
        pq.write_table(rows, parts / f"part-{i}.parquet")
    assert table("ingest", parts, "--name", "parts", "--in-place").exit_code == 0  # kept as the three files
    out, doc = _written_elsewhere_beside_a_planted_file(table, "parts", tmp_path / "elsewhere")
    names = [r["name"] for r in doc["recordSet"]]
    assert names == ["records-1", "records-2", "records-3"]
    dataset = _load(out)
    read = sorted(r[f"{n}/id"] for n in names for r in dataset.records(n))
    assert read == [r[0] for r in version_rows(ws, "parts", "id", order_by="id")]  # the 12 rows, none planted


def test_shards_registered_in_place_read_as_samples_with_their_labels(table, ws, tmp_path):
    root = write_shards(tmp_path / "wds")
    assert table("ingest", root, "--name", "web", "--in-place").exit_code == 0
    out, doc = _written_elsewhere_beside_a_planted_file(table, "web", tmp_path / "elsewhere")
    assert [r["name"] for r in doc["recordSet"]] == ["samples", "labels"]
    logging.getLogger("absl").setLevel(logging.ERROR)
    records = {r["samples/key"].decode(): r for r in _load(out).records("samples")}
    assert sorted(records) == [f"s{i // 4}/{i:05d}" for i in range(12)]
    for key, record in records.items():
        i = int(key.split("/")[1])
        assert record["samples/label"] == i % 3
        pixels = np.asarray(record["samples/image"].convert("L"))
        if i % 3 != 2:  # the PNGs are lossless: the very pixels written
            assert np.array_equal(pixels, sample_pixels(i))


def test_a_failed_check_is_a_limitation_and_a_passed_one_is_not(table, ws, tmp_path):
    assert table("expectations", "suggest", "tiny", "--suite", "tiny").exit_code == 0
    assert table("validate", "tiny", "--suite", "tiny").exit_code == 0
    first_ref = f"tiny@{latest_digest(ws, 'tiny')}"
    pq.write_table(pa.table({"id": pa.array([1, 1, 1], pa.int64()), "score": [99.0, 98.0, 97.0],
                             "text": ["x", "y", "z"], "ok": [True, True, True]}), tmp_path / "t2.parquet")  # fmt: skip
    assert table("ingest", tmp_path / "t2.parquet", "--name", "tiny").exit_code == 0
    assert table("validate", "tiny", "--suite", "tiny").exit_code == 3
    first, newest = (json.loads(table("datasets", "croissant", ref).stdout) for ref in (first_ref, "tiny"))
    assert "rai:dataLimitations" not in first and "passed" in first["dqv:hasQualityAnnotation"][0]["description"]
    (limitation,) = newest["rai:dataLimitations"]
    assert limitation.startswith("Great Expectations suite 'tiny' (quality)") and "FAILED" in limitation
