"""Shards in a local folder registered in place: nothing copied, the same
digest as the same manifest anywhere, and every change under the folder named."""

import os

import pyarrow as pa
import pyarrow.parquet as pq

from datagov.catalog.db import open_catalog
from datagov.catalog.locations import locate


def write_shards(root, n=3):
    (root / "train").mkdir(parents=True)
    for i in range(n):
        pq.write_table(pa.table({"x": list(range(i * 5, i * 5 + 5))}), root / "train" / f"part-{i}.parquet")
    (root / "README.md").write_text("not a shard")
    return root


def problems(result) -> dict[str, str]:
    lines = [line.split() for line in result.output.splitlines() if line.startswith("  ")]
    return {path.rstrip(":"): problem for problem, path, *_ in lines}


def test_a_folder_is_registered_in_place_and_changes_are_named(cli, ws, tmp_path):
    root = write_shards(tmp_path / "corpus")
    result = cli("ingest", root, "--name", "corpus", "--in-place")
    assert result.exit_code == 0, result.output
    assert not any(ws.store_dir.iterdir())  # nothing copied
    with open_catalog(ws) as con:
        digest = con.execute("SELECT digest FROM versions").fetchall()[0][0]
        files = locate(ws, con, digest, "corpus")
    assert files.root == str(root) and files.names == [f"train/part-{i}.parquet" for i in range(3)]
    assert cli("ingest", root, "--name", "corpus", "--in-place").output.count("unchanged") == 1
    assert cli("datasets", "show", "corpus").exit_code == 0
    assert cli("expectations", "suggest", "corpus", "--suite", "corpus").exit_code == 0
    assert cli("validate", "corpus", "--suite", "corpus").exit_code == 0

    (root / "notes.txt").write_text("not a shard either")  # not a shard: not a change
    assert cli("datasets", "verify", "corpus").exit_code == 0
    pq.write_table(pa.table({"x": [9, 9, 9, 9, 9]}), root / "train" / "part-0.parquet")
    os.remove(root / "train" / "part-1.parquet")
    pq.write_table(pa.table({"x": [1]}), root / "train" / "part-3.parquet")
    result = cli("datasets", "verify", "corpus")
    assert result.exit_code == 3
    found = problems(result)
    assert found.keys() == {"train/part-0.parquet", "train/part-1.parquet", "train/part-3.parquet"}
    assert found["train/part-1.parquet"] == "missing" and found["train/part-3.parquet"] == "added"
    refused = cli("validate", "corpus", "--suite", "corpus")
    assert refused.exit_code == 3 and "train/part-1.parquet" in refused.output


def test_links_and_the_catalog_itself_are_refused(cli, ws, tmp_path):
    root = write_shards(tmp_path / "corpus")
    os.symlink(root / "train" / "part-0.parquet", root / "train" / "part-9.parquet")
    result = cli("ingest", root, "--name", "c", "--in-place")
    assert result.exit_code == 1 and "train/part-9.parquet" in result.output and "symbolic link" in result.output
    result = cli("ingest", ws.catalog_dir, "--name", "c", "--in-place")
    assert result.exit_code == 1 and "inside this workspace's catalog" in result.output
    result = cli("ingest", tmp_path / "missing", "--name", "c", "--in-place")
    assert result.exit_code == 1 and result.output.startswith("Error: not a folder")
    result = cli("ingest", "sklearn:digits", "--name", "c", "--in-place", "--format", "csv")
    assert result.exit_code == 1 and "--in-place takes Parquet or WebDataset shards" in result.output


def test_shards_of_two_schemas_are_refused_with_the_fix(cli, tmp_path):
    root = write_shards(tmp_path / "corpus")
    pq.write_table(pa.table({"y": ["a"]}), root / "train" / "part-7.parquet")
    result = cli("ingest", root, "--name", "c", "--in-place")
    assert result.exit_code == 1 and "train/part-7.parquet has a different schema" in result.output


def test_a_folder_holding_the_catalog_is_refused(cli, ws):
    pq.write_table(pa.table({"x": [1]}), ws.root / "mine.parquet")
    assert cli("ingest", "sklearn:digits", "--name", "d").exit_code == 0  # the store now holds Parquet files
    result = cli("ingest", ws.root, "--name", "everything", "--in-place")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {ws.root} holds this workspace's catalog/")
    with open_catalog(ws) as con:
        assert [r[0] for r in con.execute("SELECT name FROM datasets").fetchall()] == ["d"]


def test_the_same_bytes_in_place_under_two_roots_are_each_verified_where_they_are(cli, ws, tmp_path):
    import shutil

    first, second = write_shards(tmp_path / "a"), write_shards(tmp_path / "b")
    assert cli("ingest", first, "--name", "first", "--in-place").exit_code == 0
    assert cli("ingest", second, "--name", "second", "--in-place").exit_code == 0
    with open_catalog(ws) as con:
        digests = {r[0] for r in con.execute("SELECT digest FROM versions").fetchall()}
        assert len(digests) == 1  # one content, one digest...
        (digest,) = digests
        assert locate(ws, con, digest, "first").root == str(first)  # ...bound to two places
        assert locate(ws, con, digest, "second").root == str(second)
    shutil.rmtree(second)
    gone = cli("datasets", "verify", "second")
    assert gone.exit_code == 3, gone.output
    assert "part-0.parquet" in gone.output
    assert cli("datasets", "verify", "first").exit_code == 0
    assert cli("split", "second", "--into", "x=0.5,y=0.5").exit_code == 3
