"""Hugging Face `datasets` Parquet: image structs become image versions,
class-label columns keep their names and gain their class names."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import catalog_counts, png_bytes, version_rows

FINE = ["apple", "bee", "cat", "dog"]
COARSE = ["plant", "animal"]
IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def hf_metadata() -> dict:
    features = {
        "img": {"_type": "Image"},
        "fine_label": {"_type": "ClassLabel", "names": FINE},
        "coarse_label": {"_type": "ClassLabel", "names": COARSE},
        "caption": {"dtype": "string", "_type": "Value"},
    }
    return {b"huggingface": json.dumps({"info": {"features": features}}).encode()}


def pixels_of(fine: int) -> np.ndarray:
    """An image whose brightness says its label, so misaligned rows show."""
    return np.full((4, 3, 3), 40 * fine + 10, dtype=np.uint8)


def write_hf(path, n=10, broken=()):
    fine = [i % 4 for i in range(n)]
    images = [
        {"bytes": png_bytes(pixels_of(f))[: (20 if i in broken else None)], "path": f"img-{i}.png"}
        for i, f in enumerate(fine)
    ]
    table = pa.table(
        {
            "img": pa.array(images, IMAGE),
            "fine_label": fine,
            "coarse_label": [0 if f == 0 else 1 for f in fine],
            "caption": [f"picture {i}" for i in range(n)],
        }
    )
    pq.write_table(table.replace_schema_metadata(hf_metadata()), path)
    return path


def rows(ws, name, columns):
    return version_rows(ws, name, columns)


def test_image_structs_become_an_image_version_with_class_names(cli, ws, tmp_path):
    source = write_hf(tmp_path / "train-00000-of-00001.parquet")
    result = cli("ingest", source, "--name", "hf", "--no-progress")
    assert result.exit_code == 0, result.output
    show = cli("datasets", "show", "hf", "--json")
    doc = json.loads(show.output)
    assert doc["dataset"]["modality"] == "image" and doc["dataset"]["label_column"] == "fine_label"
    columns = [c["name"] for c in doc["version"]["schema"]]
    assert columns == [
        "image", "format", "path", "fine_label", "coarse_label", "caption", "fine_label_name", "coarse_label_name",
        "height", "width", "channels", "mean", "std", "pixel_hash", "phash", "dhash", "thumb",
    ]  # fmt: skip
    got = rows(ws, "hf", "path, fine_label, fine_label_name, coarse_label_name, caption, mean, channels, image")
    assert len(got) == 10
    for i, (path, fine, fine_name, coarse_name, caption, mean, channels, image) in enumerate(got):
        assert (path, caption, fine) == (f"img-{i}.png", f"picture {i}", i % 4)
        assert fine_name == FINE[fine] and coarse_name == COARSE[0 if fine == 0 else 1]
        assert channels == 3 and abs(mean - (40 * fine + 10) / 255) < 1e-12
        assert image == png_bytes(pixels_of(fine))


def test_a_broken_image_is_refused_or_skipped_with_its_row(cli, ws, tmp_path):
    source = write_hf(tmp_path / "train.parquet", n=2200, broken={3, 2100})
    result = cli("ingest", source, "--name", "hf", "--no-progress", "--workers", "2")
    assert result.exit_code == 1 and "cannot decode image 'img-3.png' of column 'img'" in result.output
    assert catalog_counts(ws)["versions"] == 0
    result = cli("ingest", source, "--name", "hf", "--no-progress", "--workers", "2", "--skip-bad")
    assert result.exit_code == 0, result.output
    got = rows(ws, "hf", "path, fine_label, mean")
    assert len(got) == 2198 and {p for p, _, _ in got}.isdisjoint({"img-3.png", "img-2100.png"})
    for path, fine, mean in got:  # every kept row beside its own image, across worker chunks
        assert int(path[4:-4]) % 4 == fine and abs(mean - (40 * fine + 10) / 255) < 1e-12


def test_a_column_datagov_computes_is_refused(cli, tmp_path):
    table = pa.table({"img": pa.array([{"bytes": png_bytes(pixels_of(1)), "path": "a.png"}], IMAGE), "width": [3]})
    pq.write_table(table, tmp_path / "x.parquet")
    result = cli("ingest", tmp_path / "x.parquet", "--name", "hf", "--no-progress")
    assert result.exit_code == 1 and "has column(s) width, which datagov computes for images" in result.output


def write_with_features(path, features: dict | bytes, **columns):
    """One image row plus `columns`, under the given `huggingface` features."""
    table = pa.table({"img": pa.array([{"bytes": png_bytes(pixels_of(1)), "path": "a.png"}], IMAGE), **columns})
    raw = features if isinstance(features, bytes) else json.dumps({"info": {"features": features}}).encode()
    pq.write_table(table.replace_schema_metadata({b"huggingface": raw}), path)
    return path


LABEL = {"img": {"_type": "Image"}, "label": {"_type": "ClassLabel", "names": ["a", "b"]}}


@pytest.mark.parametrize(
    "features, columns, says",
    [
        (LABEL, {"label": [1], "label_name": ["forged"]}, "label_name, which datagov computes"),
        ({**LABEL, "label": {"_type": "ClassLabel", "names": 5}}, {"label": [1]}, "not a list of strings"),
        ({**LABEL, "label": {"_type": "ClassLabel", "names": None}}, {"label": [1]}, "not a list of strings"),
        ({**LABEL, "label": {"_type": "ClassLabel", "names": [{"x": 1}]}}, {"label": [1]}, "not a list of strings"),
        (LABEL, {"label": ["b"]}, "is string, not integer class ids"),
        (LABEL, {"label": [1.0]}, "is double, not integer class ids"),
        (b'{"info": {"features": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}", {"label": [1]}, "nests too deeply"),
        (b"{nope", {"label": [1]}, "is not a JSON object"),
    ],
    ids=["computed-name-clash", "names-5", "names-null", "names-objects", "on-strings", "on-floats", "deep", "bad"],
)
def test_untrustworthy_class_label_metadata_is_refused(cli, ws, tmp_path, features, columns, says):
    source = write_with_features(tmp_path / "x.parquet", features, **columns)
    before = catalog_counts(ws)
    result = cli("ingest", source, "--name", "x", "--no-progress")
    assert result.exit_code == 1, result.output
    assert says in result.stderr and "Traceback" not in result.output
    assert catalog_counts(ws) == before
