"""Attacks on a workspace with a registered model: swapped weights, a
tampered pixel cache, a failed audit, a killed training, a borrowed store."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time

import pytest

from datagov.catalog.db import open_catalog
from datagov.catalog.versions import resolve
from tests.training.conftest import SPEC, TINY, TRANSFER, digits_ws, matched, mlflow_runs, pretrained  # noqa: F401

QUICK = ["train.epochs=2", "train.patience=1", "train.device=cpu"]


class Payload:
    """Unpickling this runs a command: what a swapped model artifact carries."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def weights_file(ws, name="digits-autoencoder", version="1"):
    from datagov.artifacts import find_artifact

    art = find_artifact(ws, "model", f"{name}/{version}")
    return next((ws.catalog_dir / "mlartifacts").rglob(f"{art.run_id}/artifacts/{art.artifact}"))


def one_error(result) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


def test_a_pickled_artifact_is_refused_and_runs_nothing(pretrained, ws, tmp_path):  # noqa: F811
    marker = tmp_path / "pwned"
    weights_file(ws).write_bytes(pickle.dumps(Payload(str(marker))))
    runs_before = len(mlflow_runs(ws))
    shift = pretrained("shift", "digits-pretrain", "digits-finetune", "--encoder", "models:/digits-autoencoder/1")
    assert shift.exit_code == 3
    assert "the weights of digits-autoencoder/1 (model/weights.safetensors) changed since registration" in one_error(
        shift
    )
    transfer = pretrained("transfer", TRANSFER, *QUICK, "--no-progress")
    assert transfer.exit_code == 3 and "refusing to load them" in one_error(transfer)
    with open_catalog(ws) as con:
        receipts = con.execute("SELECT count(*) FROM receipts").fetchone()[0]
    check = pretrained("contamination", "digits-finetune", "digits-eval", "--encoder", "models:/digits-autoencoder/1")
    assert check.exit_code == 3 and "refusing to load them" in one_error(check)  # even with no pair to embed
    with open_catalog(ws) as con:
        assert con.execute("SELECT count(*) FROM receipts").fetchone()[0] == receipts
    review = pretrained("models", "review", "digits-autoencoder", "1")
    assert review.exit_code == 0 and "changed since registration" in review.stdout
    promote = pretrained("models", "promote", "digits-autoencoder", "1", "--alias", "prod")
    assert promote.exit_code == 3 and "changed since registration" in promote.stderr  # no waiver covers it
    waived = pretrained("models", "promote", "digits-autoencoder", "1", "--alias", "prod", "--waive", "trust me")
    assert waived.exit_code == 3 and "a waiver never makes changed bytes count" in waived.stderr
    assert not marker.exists()
    assert len(mlflow_runs(ws)) == runs_before
    with open_catalog(ws) as con:
        assert con.execute("SELECT count(*) FROM drift_reports").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM model_artifacts").fetchone()[0] == 1


def test_registered_weights_are_safetensors_with_their_hash_in_the_catalog(pretrained, ws):  # noqa: F811
    import hashlib

    path = weights_file(ws)
    with open_catalog(ws) as con:
        sha, arch = con.execute("SELECT sha256, arch FROM model_artifacts").fetchone()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    assert b"pickle" not in path.read_bytes() and path.read_bytes()[8:9] == b"{"  # safetensors: a JSON header
    assert '"kind": "autoencoder"' in arch
    assert not list(path.parent.glob("*.pkl")) and not list(path.parent.glob("*.pt*"))


def test_a_zeroed_pixel_cache_is_caught_and_rebuilt(pretrained, ws):  # noqa: F811
    with open_catalog(ws) as con:
        digest = resolve(con, "digits-pretrain").digest
    cache = next((ws.cache_dir / digest).glob("pixels-*.u8"))
    good = cache.read_bytes()
    cache.write_bytes(bytes(len(good)))
    verify = pretrained("datasets", "verify", "digits-pretrain")
    assert verify.exit_code == 3 and "cache/pixels-1x8x8.u8" in verify.stderr
    assert not cache.exists()  # removed: the next use rebuilds it
    cache.write_bytes(bytes(len(good)))
    trained = pretrained("pretrain", SPEC, *TINY, "--no-progress")
    assert trained.exit_code == 0, trained.output
    assert "differs from its recorded sha256; rebuilding it" in trained.stderr
    assert cache.read_bytes() == good  # trained on the real pixels, not on zeros


def fail_an_audit_of_the_pretraining_data(cli, ws) -> str:
    """Flip a byte of digits-pretrain, audit (it fails), put the byte back: the
    bytes are good again, the latest audit still says failed. Returns the digest."""
    with open_catalog(ws) as con:
        digest = resolve(con, "digits-pretrain").digest
    part = ws.store_dir / digest / "part-00000.parquet"
    good = part.read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 1
    part.write_bytes(bytes(bad))
    assert cli("audit", "run").exit_code == 3
    part.write_bytes(good)
    return digest


def test_a_failed_audit_closes_the_gate_until_an_audit_passes(pretrained, ws):  # noqa: F811
    fail_an_audit_of_the_pretraining_data(pretrained, ws)
    refused = pretrained("pretrain", SPEC, *TINY, "--no-progress")
    assert refused.exit_code == 4
    assert "the latest audit of digits-pretrain@" in refused.stderr and "failed" in refused.stderr
    assert "datagov audit run --dataset digits-pretrain" in refused.stderr
    assert pretrained("audit", "run").exit_code == 0
    assert pretrained("pretrain", SPEC, *TINY, "--no-progress").exit_code == 0


def test_a_lost_tracking_store_is_named_and_nothing_trains_on_it(pretrained, ws):  # noqa: F811
    (ws.catalog_dir / "mlflow.db").unlink()
    with open_catalog(ws) as con:
        runs_before = con.execute("SELECT count(*) FROM runs").fetchone()[0]
    refused = pretrained("pretrain", SPEC, *TINY, "--no-progress")
    assert refused.exit_code == 3, refused.output
    assert "does not match this workspace's catalog: it has no digits-autoencoder/1" in one_error(refused)
    assert "restore catalog/mlflow.db" in refused.stderr
    with open_catalog(ws) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == runs_before
    listed = pretrained("models", "list")
    assert listed.exit_code == 3 and "has no digits-autoencoder/1" in one_error(listed)
    review = pretrained("models", "review", "digits-autoencoder")
    assert review.exit_code == 3 and "does not match this workspace's catalog" in one_error(review)
    transfer = pretrained("transfer", TRANSFER, *QUICK, "--no-progress")
    assert transfer.exit_code == 3 and "does not match this workspace's catalog" in one_error(transfer)


def test_an_encoder_whose_pretraining_data_failed_its_audit_is_refused(pretrained, ws):  # noqa: F811
    digest = fail_an_audit_of_the_pretraining_data(pretrained, ws)  # train and eval data are fine
    refused = pretrained("transfer", TRANSFER, *QUICK, "--no-progress")
    assert refused.exit_code == 4, refused.output
    assert f"was trained on digits-pretrain@{digest[:12]}, whose latest audit" in refused.stderr
    assert "gate refused transfer on digits-finetune@" in refused.stderr
    assert pretrained("audit", "run").exit_code == 0
    assert pretrained("transfer", TRANSFER, *QUICK, "--no-progress").exit_code == 0


@pytest.mark.slow
def test_a_killed_training_is_closed_by_the_next_command(digits_ws, ws):  # noqa: F811
    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    args = ["--workspace", ws.root, "pretrain", SPEC, "train.epochs=100000", "train.device=cpu", "--no-progress"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "datagov", *map(str, args)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with open_catalog(ws) as con:
                if con.execute("SELECT count(*) FROM runs").fetchone()[0]:
                    break
            time.sleep(0.5)
        time.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    debris = next(ws.cache_dir.glob("*")) / f".{proc.pid}-0badc0de-pixels-1x8x8.u8.tmp"
    debris.write_bytes(b"half")
    assert digits_ws("datasets", "list").exit_code == 0  # a reader closes the run
    with open_catalog(ws) as con:
        assert con.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
    assert [r.info.status for r in mlflow_runs(ws)] == ["KILLED"]
    assert debris.exists()  # readers delete nothing
    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0  # a writer
    assert not debris.exists()


def test_a_borrowed_store_is_never_swept_nor_written(cli, ws, tmp_path):
    from datagov.layout import init_workspace
    from tests.conftest import Cli

    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    first = sorted(p.name for p in ws.store_dir.iterdir())
    (ws.store_dir / "README-backup").mkdir()
    (ws.store_dir / "README-backup" / "notes.txt").write_text("mine")
    other, _ = init_workspace(tmp_path / "other")
    os.rmdir(other.store_dir)
    other.store_dir.symlink_to(ws.store_dir)
    second = Cli(other)
    assert second("datasets", "list").exit_code == 0
    refused = second("ingest", "sklearn:digits", "--name", "copy")
    assert refused.exit_code == 1 and "datagov writes only into its own store" in one_error(refused)
    assert cli("ingest", "sklearn:digits", "--name", "digits2").exit_code == 0  # a writer in the owner
    assert sorted(p.name for p in ws.store_dir.iterdir()) == sorted([*first, "README-backup"])
    assert (ws.store_dir / "README-backup" / "notes.txt").read_text() == "mine"


def test_image_folder_names_that_are_not_utf8_and_skipped_bombs(cli, ws, tmp_path):
    from tests.hostile import payloads

    root = payloads.image_folder(tmp_path / "imgs")
    name = os.fsdecode(b"caf\xe9.png")
    (root / "a" / name).write_bytes(payloads.png(payloads.np.full((8, 8), 7, payloads.np.uint8)))
    (root / "b" / "bomb.png").write_bytes(payloads.huge_png(12_000, 12_000, palette=True))
    (root / "b" / "link.png").symlink_to(root / "a" / "0.png")
    result = cli("ingest", root, "--name", "imgs", "--skip-bad", "--no-progress")
    assert result.exit_code == 0, result.output
    shown = cli("datasets", "show", "imgs", "--json")
    assert "b/bomb.png" in shown.stdout and "144,000,000 pixels" in shown.stdout
    assert "b/link.png" in shown.stdout and "a symlink" in shown.stdout
    with open_catalog(ws) as con:
        v = resolve(con, "imgs")
    import duckdb

    paths = duckdb.sql(f"SELECT path FROM read_parquet('{ws.store_dir / v.digest}/*.parquet')").fetchall()
    assert ("a/caf\\xe9.png",) in paths and v.rows == 7


def test_an_image_accepted_at_ingest_decodes_the_same_in_training(cli, ws, tmp_path):
    """One decoder: the pixels training sees hash to the pixel_hash ingest stored."""
    import hashlib

    import duckdb

    from datagov.pixels.shape import ImageShape
    from datagov.pixels.tensors import decode_batch
    from tests.hostile import payloads

    rng = payloads.np.random.default_rng(0)
    root = tmp_path / "imgs" / "x"
    root.mkdir(parents=True)
    for i in range(4):
        payloads.Image.fromarray(rng.integers(0, 255, (9, 7, 3), dtype=payloads.np.uint8)).save(root / f"{i}.jpg")
    assert cli("ingest", tmp_path / "imgs", "--name", "jpgs", "--no-progress").exit_code == 0
    with open_catalog(ws) as con:
        v = resolve(con, "jpgs")
    rows = duckdb.sql(f"SELECT image, pixel_hash FROM read_parquet('{ws.store_dir / v.digest}/*.parquet')").fetchall()
    batch = decode_batch([r[0] for r in rows], ImageShape(3, 9, 7))
    for pixels, (_, stored) in zip(batch, rows, strict=True):
        hwc = pixels.permute(1, 2, 0).contiguous().numpy()
        h = hashlib.blake2b(b"9x7x3:" + hwc.tobytes(), digest_size=16).hexdigest()
        assert h == stored


def test_a_broken_suite_file_does_not_break_the_listings(cli, ws):
    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    (ws.expectations_dir / "ok.json").write_text(
        '{"name": "ok", "expectations": [{"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}}]}'
    )
    assert cli("validate", "digits", "--suite", "ok").exit_code == 0
    (ws.expectations_dir / "latin.json").write_bytes(b'{"expectations": [], "name": "caf\xe9"}')
    (ws.expectations_dir / "deep.json").write_text('{"expectations": ' + "[" * 5000 + "]" * 5000 + "}")
    (ws.expectations_dir / os.fsdecode(b"bad\xff.json")).write_text("{}")
    listed = cli("expectations", "list")
    assert listed.exit_code == 0 and "ok" in listed.stdout and "not UTF-8" in listed.stdout + listed.stderr
    receipts = cli("validations", "list")
    assert receipts.exit_code == 0 and "ok" in receipts.stdout
