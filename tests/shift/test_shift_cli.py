"""`datagov shift` on the real digits: no drift between splits of one
distribution, drift against rotated and inverted copies; the report in the
catalog, in lineage, as JSON and as HTML that renders."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from datagov.catalog.db import open_catalog
from tests.training.conftest import SPEC, TINY


@pytest.fixture
def pretrained(digits_ws, ws):
    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    assert digits_ws("pretrain", SPEC, *TINY, "--no-progress").exit_code == 0
    return digits_ws


def _shifted_copy(cli, tmp_path, name, transform):
    from sklearn.datasets import load_digits

    d = load_digits()
    images = transform(np.round(d.images * 255 / 16).astype(np.uint8))
    np.savez(tmp_path / f"{name}.npz", images=np.ascontiguousarray(images), y=d.target)
    assert cli("ingest", tmp_path / f"{name}.npz", "--name", name).exit_code == 0


def test_splits_of_one_distribution_do_not_drift(pretrained, ws):
    result = pretrained("shift", "digits-pretrain", "digits-finetune", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["drift"] is False and doc["mode"] == "tests"  # finetune has 175 rows
    assert {c["column"] for c in doc["columns"]} == {"mean", "std"}
    assert all(c["q_value"] is not None and c["psi"] is not None for c in doc["columns"])
    skipped = {s["column"]: s["reason"] for s in doc["skipped"]}
    assert "same constant" in skipped["height"] and "only in the target" in skipped["label"]
    emb = doc["embedding"]
    assert emb["pinned"] == "models:/digits-autoencoder/1" and not emb["drift"]
    assert emb["samples"] == [1231, 175] and len(emb["pca"]["reference"]) == 600
    assert doc["recommendation"]["strategy"] in ("features", "finetune")

    with open_catalog(ws) as con:
        row = con.execute("SELECT id, drift, encoder, report, data FROM drift_reports").fetchall()
        edges = con.execute("SELECT relation FROM lineage WHERE dst_kind = 'drift_report' ORDER BY 1").fetchall()
    assert row == [(doc["id"], False, "models:/digits-autoencoder/1", doc["report"], row[0][4])]
    assert json.loads((ws.root / row[0][4]).read_text())["id"] == doc["id"]
    assert [e[0] for e in edges] == ["embedded", "shift-reference", "shift-target"]
    assert f"drift_report {doc['id']} (shift-target)" in pretrained("lineage", "digits-finetune").stdout


def test_inverted_and_rotated_digits_drift(pretrained, ws, tmp_path):
    _shifted_copy(pretrained, tmp_path, "digits-inverted", lambda x: 255 - x)
    _shifted_copy(pretrained, tmp_path, "digits-rotated", lambda x: np.rot90(x, 1, axes=(1, 2)))

    inverted = pretrained("shift", "digits-pretrain", "digits-inverted", "--out", tmp_path / "inv.html")
    assert inverted.exit_code == 3, inverted.output
    assert "DRIFT" in inverted.stdout and inverted.stderr.startswith("Error: digits-inverted@")
    # Rotation keeps every per-image statistic: only the encoder sees it.
    rotated = pretrained("shift", "digits-pretrain", "digits-rotated", "--json")
    assert rotated.exit_code == 3
    doc = json.loads(rotated.stdout)
    assert not any(c["drift"] for c in doc["columns"])
    assert doc["embedding"]["drift"] and doc["embedding"]["p_value"] < 0.05
    assert doc["embedding"]["recon"]["median"][1] > doc["embedding"]["recon"]["median"][0]
    assert any("embeddings differ" in w for w in doc["why"])

    page = (tmp_path / "inv.html").read_text()
    assert re.search(r"</code>, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, ", page)  # the time says its zone
    assert doc["created"].endswith("+00:00")
    legends = {re.sub(r"@[0-9a-f]{12}$", "@…", t) for t in re.findall(r'font-size="10">([^<]*)<title>', page)}
    assert legends == {"digits-pretrain@…", "digits-inverted@…"}  # whole names: NAME@ and a 12-digit digest
    for plot in ("plot-mean", "plot-std", "plot-pca", "plot-reconstruction"):
        assert f'id="{plot}"><svg' in page
    assert "http://" not in page.replace("http://www.w3.org/", "")  # nothing to fetch


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium to screenshot the page")
def test_report_renders_in_headless_chromium(pretrained, tmp_path):
    assert pretrained("shift", "digits-pretrain", "digits-finetune", "--out", tmp_path / "r.html").exit_code == 0
    shot = tmp_path / "r.png"
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,2000",
         f"--screenshot={shot}", (tmp_path / "r.html").as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    r, b = pixels[..., 0], pixels[..., 2]
    blue = ((b - r) > 30).sum()  # the reference's bars and points (drawn half transparent)
    orange = ((r - b) > 50).sum()  # the target's, and nothing else on the page is orange
    assert blue > 5_000 and orange > 5_000, (blue, orange)


BAD = [
    (("nope", "digits-finetune"), "Error: unknown dataset 'nope'"),
    (("digits-pretrain", "digits-finetune", "--columns", "mean,bogus"), "column 'bogus' is in neither"),
    (("digits-pretrain", "digits-finetune", "--threshold", "mean"), "--threshold takes COLUMN=NUMBER"),
    (("digits-pretrain", "digits-finetune", "--encoder", "models:/nope@x"), "Error: no encoder at models:/nope@x"),
]


def test_bad_input_is_one_clear_error_and_writes_nothing(pretrained, ws):
    for args, message in BAD:
        result = pretrained("shift", *args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.startswith("Error: ") and message in result.stderr, (args, result.stderr)
    with open_catalog(ws) as con:
        assert con.execute("SELECT count(*) FROM drift_reports").fetchone()[0] == 0
    assert not list(ws.reports_dir.glob("shift-*"))
