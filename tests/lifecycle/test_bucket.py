"""Erasure and gc on a bucket store: the old prefixes are deleted with a
proof, a purge killed half-way is finished by the next `datagov gc`, and a
prefix outside this workspace's store is never touched."""

from __future__ import annotations

import signal

from datagov.catalog.db import open_catalog
from datagov.catalog.lifecycle import erasures
from tests.conftest import run_datagov, s3_admin, version_rows
from tests.lifecycle.conftest import corpus_folder
from tests.store.test_object_store import objects, use_bucket


def test_a_purge_killed_half_way_on_a_bucket_is_finished_by_gc(cli, ws, bucket, s3_server, tmp_path):
    store = f"{bucket}/store"
    use_bucket(ws, store)
    folder, examples = corpus_folder(tmp_path / "data", count=60, planted=2)
    assert cli("ingest", folder, "--name", "corpus").exit_code == 0
    assert cli("split", "corpus", "--into", "a=0.5,b=0.5").exit_code == 0
    before = {o.split("/")[0] for o in objects(s3_server, store)}
    neighbour = f"{bucket}/another-workspace/1234-abcdef12-0123456789ab"  # another workspace's writer-named prefix
    s3_admin(s3_server).open_output_stream(f"{neighbour.removeprefix('s3://')}/part-00000.parquet").close()

    like = [a for e in examples for a in ("--like", e)]
    killed = run_datagov("--workspace", ws.root, "erase", *like, "--reason", "takedown", "--purge", "--no-progress",
                         env={"DATAGOV_FAULT": "purge:rows-deleted"})  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with open_catalog(ws) as con:
        (record,) = erasures(con)
    assert record.purged is None  # the rows went, the bytes and the proof did not yet
    finished = run_datagov("--workspace", ws.root, "gc")
    assert finished.returncode == 0, finished.stderr
    assert f"finished the interrupted purge of erasure {record.id}" in finished.stdout
    with open_catalog(ws) as con:
        (record,) = erasures(con)
    proof = record.purge
    assert proof and proof["complete"] and proof["rescan"]["rows_found"] == 0
    gone = {f["where"].rsplit("/", 1)[1] for f in proof["files"]}
    after = {o.split("/")[0] for o in objects(s3_server, store)}
    assert gone and gone <= before and not gone & after
    assert all(f["where"].startswith(store + "/") for f in proof["files"])
    assert objects(s3_server, f"{bucket}/another-workspace")  # never touched
    for name in ("corpus", "corpus-a", "corpus-b"):
        assert not {r[0] for r in version_rows(ws, name, "pixel_hash")} & set(record.keys)
