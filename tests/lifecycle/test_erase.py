"""`datagov erase`: a takedown of real pictures and their near-copies, from a
corpus and every split derived from it, with the plan, the new versions,
the retirements, the record, and the purge's proof."""

from __future__ import annotations

import json

import pytest

from datagov.catalog.db import open_catalog
from datagov.catalog.lifecycle import erasures
from datagov.catalog.versions import resolve
from tests.conftest import catalog_counts, store_folders, version_rows
from tests.lifecycle.conftest import corpus_folder


@pytest.fixture
def corpus(cli, ws, tmp_path):
    folder, examples = corpus_folder(tmp_path / "data")
    assert cli("ingest", folder, "--name", "corpus", "--license", "CC-BY-4.0").exit_code == 0
    assert cli("split", "corpus", "--into", "pretrain=0.6,finetune=0.2,eval=0.2").exit_code == 0
    return examples


def _like(examples) -> list[str]:
    return [arg for e in examples for arg in ("--like", str(e))]


def _paths(ws, name: str) -> set[str]:
    return {row[0] for row in version_rows(ws, name, "path")}


def test_the_dry_run_shows_copies_found_by_similarity_and_changes_nothing(cli, ws, corpus):
    before = catalog_counts(ws)
    result = cli("erase", *_like(corpus), "--reason", "takedown 7", "--dry-run", "--no-progress")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "12 item(s)" in out  # 4 photos, each with a re-encoded and a resized copy
    assert "8 copies found by similarity" in out  # the photos themselves are the items, not copies
    for i in range(4):
        assert f"reposted{i}.jpg: like photo{i}.png, similarity " in out
        assert f"resized{i}.png: like photo{i}.png" in out
    assert "corpus@" in out and "written again without them" in out
    assert "no registered model was trained on them" in out and "dry run: nothing changed" in out
    assert catalog_counts(ws) == before


def test_erase_rewrites_every_version_holding_the_items_and_retires_the_old(cli, ws, corpus):
    with open_catalog(ws) as con:
        old = {name: resolve(con, name) for name in ("corpus", "corpus-pretrain", "corpus-finetune", "corpus-eval")}
    planted = {p for p in _paths(ws, "corpus") if p.split("/")[-1].startswith(("reposted", "resized"))}
    assert len(planted) == 8
    result = cli("erase", *_like(corpus), "--reason", "takedown 7", "--no-progress")
    assert result.exit_code == 0, result.output
    with open_catalog(ws) as con:
        (record,) = erasures(con)
        new = {name: resolve(con, name) for name in old}
        affected = {v["old"] for v in record.versions}
        for name, version in old.items():
            if version.node_id in affected:
                assert new[name].digest != version.digest
                assert resolve(con, version.node_id).status == "retired"  # kept, readable by digest
                edge = con.execute(
                    "SELECT params FROM lineage WHERE src_id = ? AND dst_id = ? AND relation = 'erased'",
                    [version.node_id, new[name].node_id],
                ).fetchone()
                assert edge is not None and record.id in edge[0]
            else:
                assert new[name].digest == version.digest
    assert record.reason == "takedown 7" and record.items == 12 and record.purged is None
    assert "like" in record.selector and all("sha256" in e for e in record.selector["like"])
    left = _paths(ws, "corpus")
    assert not planted & left
    assert not {f"class{0}/img0000.png"} & left  # the originals go too
    assert len(left) == old["corpus"].rows - 12
    for name in old:  # no version in use holds an erased item
        assert not {row[0] for row in version_rows(ws, name, "pixel_hash")} & set(record.keys)
    shown = cli("erasures", "show", record.id)
    assert shown.exit_code == 0 and "not purged" in shown.stdout and "takedown 7" in shown.stdout
    assert record.id in cli("erasures", "list").stdout


def test_purge_deletes_the_old_bytes_and_records_a_proof(cli, ws, corpus):
    before = set(store_folders(ws))
    result = cli("erase", *_like(corpus[:2]), "--reason", "takedown 8", "--purge", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "re-scan of" in result.stdout and "found 0 row(s) of the 6 item(s)" in result.stdout
    with open_catalog(ws) as con:
        (record,) = erasures(con)
    proof = record.purge
    assert proof is not None and proof["complete"] and proof["rescan"]["rows_found"] == 0
    removed = {f["where"].split("/")[-1] for f in proof["files"]}
    assert removed and removed <= before and not removed & set(store_folders(ws))
    assert all(len(f["sha256"]) == 64 and f["gone"] for f in proof["files"])
    for entry in record.versions:  # the old versions are gone from the catalog; the new are there
        name, _, digest = entry["old"].rpartition("@")
        digests = [v["digest"] for v in json.loads(cli("datasets", "history", name, "--all", "--json").stdout)]
        assert digest not in digests and entry["new"].rpartition("@")[2] in digests
    shown = cli("erasures", "show", record.id)
    assert "complete: yes" in shown.stdout and "gone" in shown.stdout
    # provenance out of datagov still reads, and says what was removed, with the old versions gone
    events = cli("lineage", "corpus-pretrain", "--format", "openlineage")
    assert events.exit_code == 0, events.output
    assert f'"value": "{record.id}"' in events.stdout and '"name": "erase.corpus-pretrain"' in events.stdout
    croissant = cli("datasets", "croissant", "corpus")
    assert croissant.exit_code == 0 and f"Erasure {record.id} removed" in croissant.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--paths", "nowhere/*"), "Error: no item matched in 4 version(s) searched"),
        (("--paths", "*"), "Error: --paths '*' matches every row of every version searched"),
        ((), "Error: name the items to erase: --like IMAGE..., --paths GLOB or --keys FILE"),
        (("--paths", "class1/*", "--dataset", "nope"), "Error: unknown dataset 'nope'"),
        (("--keys", "/dev/null"), "Error: --keys /dev/null: not a regular file"),
        (("--keys", "/no/such/keys.txt"), "Error: --keys /no/such/keys.txt: no such file"),
    ],
)
def test_bad_requests_are_one_error_and_change_nothing(cli, ws, corpus, args, message):
    before = catalog_counts(ws)
    result = cli("erase", *args, "--reason", "x", "--no-progress")
    assert result.exit_code == 1 and result.stderr.startswith(message), result.stderr
    assert catalog_counts(ws) == before


def test_an_erasure_that_would_empty_a_version_is_refused(cli, ws, corpus):
    result = cli("erase", "--paths", "class*/*", "--all-matching", "--dataset", "corpus", "--reason", "x")
    assert result.exit_code == 1 and "Error: erasing would empty corpus@" in result.stderr
    assert "datagov datasets delete" in result.stderr


def test_a_reason_is_required_and_unknown_erasures_are_errors(cli, corpus):
    assert cli("erase", "--paths", "class1/*").stderr.startswith("Error: --reason is required")
    missing = cli("erasures", "show", "e-000000000000")
    assert missing.exit_code == 1 and missing.stderr.startswith("Error: no erasure 'e-000000000000'")


def test_keys_file_and_path_glob_select_items(cli, ws, corpus, tmp_path):
    keys = [row[0] for row in version_rows(ws, "corpus", "pixel_hash", order_by="path")[:3]]
    listing = tmp_path / "keys.txt"
    listing.write_text("# pixel hashes from the request\n" + "\n".join(keys) + "\n")
    by_keys = cli("erase", "--keys", listing, "--reason", "keys", "--dry-run", "--no-progress")
    assert by_keys.exit_code == 0 and "3 item(s)" in by_keys.stdout
    by_glob = cli("erase", "--paths", "class3/*", "--dataset", "corpus-eval", "--reason", "glob", "--no-progress")
    assert by_glob.exit_code == 0, by_glob.output
    assert not any(p.startswith("class3/") for p in _paths(ws, "corpus-eval"))
    assert any(p.startswith("class3/") for p in _paths(ws, "corpus"))  # outside the scope: kept


def test_a_stricter_similarity_leaves_the_lookalikes_and_is_recorded(cli, ws, corpus):
    strict = cli("erase", *_like(corpus), "--min-similarity", "0.999", "--reason", "strict", "--dry-run",
                 "--no-progress")  # fmt: skip
    assert strict.exit_code == 0, strict.output
    assert "resized0.png" not in strict.stdout and "reposted0.jpg" in strict.stdout  # 0.996 < 0.999 <= 0.9999
    cases = (
        ((*_like(corpus), "--min-similarity", "2"), "--min-similarity 2.0 is out of range"),
        (("--paths", "class1/*", "--min-similarity", "0.99"), "--min-similarity applies to --like"),
    )
    for args, message in cases:
        refused = cli("erase", *args, "--reason", "x", "--no-progress")
        assert refused.exit_code == 1 and message in refused.stderr, refused.stderr


def test_a_purge_never_deletes_files_registered_in_place_and_says_so(cli, ws, corpus, tmp_path):
    import shutil

    from datagov.catalog.locations import locate

    with open_catalog(ws) as con:
        v = resolve(con, "corpus")
        files = locate(ws, con, v.digest, v.dataset)
    shards = tmp_path / "shards"
    shards.mkdir()
    for path in files.paths:
        shutil.copy(path, shards)
    assert cli("ingest", shards, "--name", "mirror", "--in-place").exit_code == 0
    result = cli("erase", "--paths", "class0/img0000.png", "--dataset", "mirror", "--reason", "takedown", "--purge",
                 "--no-progress")  # fmt: skip
    assert result.exit_code == 3, result.output  # the proof is not complete: the source still holds them
    assert "not deleted: the files of mirror@" in result.stdout and "registered in place (yours)" in result.stdout
    assert sorted(p.name for p in shards.iterdir()) == sorted(p.rsplit("/", 1)[1] for p in files.paths)
    with open_catalog(ws) as con:
        (record,) = erasures(con)
    assert record.purge and not record.purge["complete"] and record.purge["in_place"] == [f"mirror@{v.digest}"]


def test_like_finds_copies_in_a_version_ingested_before_the_fingerprint_columns(cli, ws, corpus, tmp_path):
    import pyarrow.parquet as pq

    from datagov.catalog.locations import locate

    with open_catalog(ws) as con:
        v = resolve(con, "corpus")
        (path,) = locate(ws, con, v.digest, v.dataset).paths
    pq.write_table(pq.read_table(path).drop_columns(["phash", "dhash", "thumb"]), tmp_path / "old.parquet")
    assert cli("ingest", tmp_path / "old.parquet", "--name", "old").exit_code == 0
    with open_catalog(ws, write=True) as con:  # as an image ingest of an older datagov recorded it
        con.execute("UPDATE datasets SET modality = 'image' WHERE name = 'old'")
    plan = cli("erase", *_like(corpus[:1]), "--dataset", "old", "--reason", "x", "--dry-run", "--no-progress")
    assert plan.exit_code == 0, plan.output
    assert "reposted0.jpg: like photo0.png" in plan.stdout and "resized0.png: like photo0.png" in plan.stdout
