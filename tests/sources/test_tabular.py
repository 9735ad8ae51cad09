import json

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datagov.catalog.versions import scan_version
from tests.conftest import catalog_counts, store_folders, tmp_entries


def read_back(ws, version):
    con = duckdb.connect()
    try:
        return con.sql(f"SELECT * FROM {scan_version(ws, version)}").to_arrow_table()
    finally:
        con.close()


def latest_digest(ws, name):
    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import resolve

    with open_catalog(ws) as con:
        return resolve(con, name).digest


def latest_version(ws, name):
    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import resolve

    with open_catalog(ws) as con:
        return resolve(con, name)


def test_csv_round_trip(cli, ws, tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("a,b,label\n1,x,0\n2,y,1\n3,z,0\n")
    result = cli("ingest", src, "--name", "t", "--label", "label", "--owner", "me", "--tag", "k=v")
    assert result.exit_code == 0, result.output
    table = read_back(ws, latest_version(ws, "t"))
    assert table.column_names == ["a", "b", "label"]
    assert table.column("b").to_pylist() == ["x", "y", "z"]


def test_semicolon_csv_is_sniffed(cli, ws, tmp_path):
    src = tmp_path / "semi.csv"
    src.write_text("a;b\n1;2\n3;4\n")
    assert cli("ingest", src, "--name", "semi").exit_code == 0
    assert read_back(ws, latest_version(ws, "semi")).column_names == ["a", "b"]


def test_jsonl_and_parquet_and_parquet_folder(cli, ws, tmp_path):
    jl = tmp_path / "r.jsonl"
    jl.write_text("\n".join(json.dumps({"x": i, "y": i * 0.5}) for i in range(5)) + "\n")
    assert cli("ingest", jl, "--name", "j").exit_code == 0
    assert read_back(ws, latest_version(ws, "j")).column("x").to_pylist() == list(range(5))

    folder = tmp_path / "pq"
    folder.mkdir()
    pq.write_table(pa.table({"v": [1, 2]}), folder / "a.parquet")
    pq.write_table(pa.table({"v": [3]}), folder / "b.parquet")
    assert cli("ingest", folder, "--name", "p").exit_code == 0
    assert sorted(read_back(ws, latest_version(ws, "p")).column("v").to_pylist()) == [1, 2, 3]


def test_npz_tabular_and_image(cli, ws, tmp_path):
    tab = tmp_path / "tab.npz"
    np.savez(tab, x=np.arange(4.0), emb=np.ones((4, 3)))
    assert cli("ingest", tab, "--name", "tab").exit_code == 0
    assert read_back(ws, latest_version(ws, "tab")).column_names == ["x", "emb_0", "emb_1", "emb_2"]

    img = tmp_path / "img.npz"
    np.savez(img, images=np.random.default_rng(0).integers(0, 256, (5, 6, 7), dtype=np.uint8), y=np.arange(5))
    result = cli("ingest", img, "--name", "img")
    assert result.exit_code == 0, result.output
    table = read_back(ws, latest_version(ws, "img"))
    assert table.column("label").to_pylist() == [0, 1, 2, 3, 4]
    assert set(table.column("height").to_pylist()) == {6}
    assert set(table.column("width").to_pylist()) == {7}


def assert_nothing_written(ws):
    assert catalog_counts(ws) == {"datasets": 0, "versions": 0, "files": 0, "rejects": 0, "lineage": 0}
    assert store_folders(ws) == []
    assert tmp_entries(ws) == []


@pytest.mark.parametrize(
    ("content", "suffix", "extra", "message"),
    [
        (None, ".csv", [], "Error: source not found: {src}"),
        ("", ".csv", [], "Error: source is empty: {src}"),
        ("a,b\n", ".csv", [], "Error: source is empty: {src} has no rows"),
        (
            "a,b,c\n1,2,3\n4,5\n6,7,8\n",
            ".csv",
            [],
            "Error: cannot read CSV {src}: line 3 has 2 fields, the header has 3",
        ),
        ("a,b\n1,2\n", ".csv", ["--format", "xml"], "Error: unknown format 'xml'"),
        ("a,b\n1,2\n", ".txt", [], "Error: cannot tell the format of {src} from its name"),
        ("a,b\n1,2\n", ".csv", ["--label", "nope"], "Error: label column 'nope' is not in {src}; columns: a, b"),
        ("not a zip", ".npz", [], "Error: cannot read npz source {src}: "),
    ],
)
def test_bad_tabular_input(cli, ws, tmp_path, content, suffix, extra, message):
    src = tmp_path / f"bad{suffix}"
    if content is not None:
        src.write_text(content)
    result = cli("ingest", src, "--name", "bad", *extra)
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(message.format(src=src)), first
    assert "Traceback" not in result.output
    assert_nothing_written(ws)


def test_ragged_row_deep_in_a_large_csv(cli, ws, tmp_path):
    src = tmp_path / "big.csv"
    lines = ["a,b,c"] + [f"{i},{i},{i}" for i in range(50_000)]
    lines[40_000] = "1,2"
    src.write_text("\n".join(lines) + "\n")
    result = cli("ingest", src, "--name", "big")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"Error: cannot read CSV {src}: line 40001 has 2 fields, the header has 3"
    assert_nothing_written(ws)


def test_a_large_table_is_stored_in_parts_of_bounded_size_in_row_order(cli, ws, tmp_path, monkeypatch):
    from datagov.catalog.db import open_catalog
    from datagov.catalog.locations import locate
    from datagov.sources import tabular

    monkeypatch.setattr(tabular, "PART_BYTES", 1 << 20)
    rng = np.random.default_rng(0)
    n = 400_000
    pq.write_table(
        pa.table({"i": np.arange(n), "r": rng.random(n), "s": [f"row {i}" for i in range(n)]}), tmp_path / "t.parquet"
    )
    assert cli("ingest", tmp_path / "t.parquet", "--name", "big", "--no-progress").exit_code == 0
    digest = latest_digest(ws, "big")
    with open_catalog(ws) as con:
        files = locate(ws, con, digest, "big")
    assert len(files.entries) >= 3 and files.names == [f"part-{i:05d}.parquet" for i in range(len(files.entries))]
    assert all(e.bytes < 3 << 20 for e in files.entries)
    assert read_back(ws, latest_version(ws, "big")).column("i").to_pylist() == list(range(n))  # parts in row order
    assert cli("ingest", tmp_path / "t.parquet", "--name", "again", "--no-progress").exit_code == 0
    assert latest_digest(ws, "again") == digest  # the same parts, byte for byte


def test_a_glob_of_parquet_files(cli, ws, tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for i in range(3):
        pq.write_table(pa.table({"x": [i]}), tmp_path / "d" / f"train-{i}.parquet")
    pq.write_table(pa.table({"x": [9]}), tmp_path / "d" / "test-0.parquet")
    result = cli("ingest", f"{tmp_path}/d/train-*.parquet", "--name", "g", "--no-progress")
    assert result.exit_code == 0, result.output
    assert sorted(read_back(ws, latest_version(ws, "g")).column("x").to_pylist()) == [0, 1, 2]
    result = cli("ingest", f"{tmp_path}/d/nothing-*.parquet", "--name", "g2", "--no-progress")
    assert result.exit_code == 1 and result.output.startswith("Error: no Parquet files match")
