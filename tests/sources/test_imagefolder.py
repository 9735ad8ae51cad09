import duckdb
import numpy as np
from PIL import Image

from datagov.catalog.versions import scan_version
from tests.conftest import catalog_counts, make_image_folder, store_folders, tmp_entries
from tests.sources.test_tabular import latest_version


def rows(ws, name, columns="*"):
    con = duckdb.connect()
    try:
        q = f"SELECT {columns} FROM {scan_version(ws, latest_version(ws, name))} ORDER BY path"
        return con.sql(q).fetchall()
    finally:
        con.close()


def test_image_folder_features_match_numpy(cli, ws, tmp_path):
    root = make_image_folder(tmp_path / "imgs", per_class=3)
    result = cli("ingest", root, "--name", "pets", "--license", "CC0-1.0")
    assert result.exit_code == 0, result.output
    got = rows(ws, "pets", "path, format, label, label_name, height, width, channels, mean, std, image")
    assert len(got) == 6
    for path, fmt, label, label_name, h, w, c, mean, std, data in got:
        pixels = np.asarray(Image.open(root / path)).astype(np.float64) / 255
        assert (h, w, c) == (12, 10, 3)
        assert label_name == path.split("/")[0]
        assert label == ["cat", "dog"].index(label_name)
        assert fmt == ("JPEG" if path.endswith(".jpg") else "PNG")
        assert abs(mean - pixels.mean()) < 1e-12 and abs(std - pixels.std()) < 1e-12
        assert data == (root / path).read_bytes()  # the encoded bytes, as they were


def test_flat_folder_is_unlabelled(cli, ws, tmp_path):
    folder = tmp_path / "flat"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((4, 4), i * 40, dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / ".DS_Store").write_bytes(b"\0junk")
    assert cli("ingest", folder, "--name", "flat").exit_code == 0
    assert [r[0] for r in rows(ws, "flat", "channels")] == [1, 1, 1]
    assert "label" not in [
        c[0] for c in duckdb.sql(f"DESCRIBE SELECT * FROM {scan_version(ws, latest_version(ws, 'flat'))}").fetchall()
    ]


def test_truncated_image_ingests_nothing(cli, ws, tmp_path):
    root = make_image_folder(tmp_path / "imgs", per_class=3)
    good = (root / "dog" / "1_0.png").read_bytes()
    (root / "dog" / "1_0.png").write_bytes(good[: len(good) // 2])
    result = cli("ingest", root, "--name", "pets")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot decode 'dog/1_0.png' in {root}: ")
    assert "nothing was ingested" in result.stderr and "--skip-bad" in result.stderr
    assert catalog_counts(ws)["versions"] == 0
    assert store_folders(ws) == [] and tmp_entries(ws) == []


def test_non_image_file_is_reported(cli, ws, tmp_path):
    root = make_image_folder(tmp_path / "imgs", per_class=2)
    (root / "cat" / "notes.txt").write_text("not a picture")
    result = cli("ingest", root, "--name", "pets")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"Error: cannot decode 'cat/notes.txt' in {root}: not an image file; nothing was ingested"
    )


def test_skip_bad_records_rejects(cli, ws, tmp_path):
    root = make_image_folder(tmp_path / "imgs", per_class=3)
    (root / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 10)
    (root / "dog" / "empty.png").write_bytes(b"")
    result = cli("ingest", root, "--name", "pets", "--skip-bad")
    assert result.exit_code == 0, result.output
    assert "2 bad file(s), recorded as rejects" in result.stdout
    assert len(rows(ws, "pets", "path")) == 6
    show = cli("datasets", "show", "pets", "--json")
    import json

    rejects = json.loads(show.stdout)["rejects"]
    assert [(r["stage"], r["item"]) for r in rejects] == [("ingest", "cat/broken.png"), ("ingest", "dog/empty.png")]
    assert rejects[1]["reason"] == "empty file"


def test_mixed_layout_and_empty_folder(cli, ws, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("ingest", empty, "--name", "e")
    assert result.exit_code == 1 and result.stderr.startswith(f"Error: source is empty: {empty} holds no image files")
    root = make_image_folder(tmp_path / "mixed", per_class=1)
    Image.fromarray(np.zeros((2, 2), dtype=np.uint8)).save(root / "loose.png")
    result = cli("ingest", root, "--name", "m")
    assert result.exit_code == 1 and "mixes class folders and loose files (loose.png)" in result.stderr


def test_worker_pool_gives_the_same_digest(ws, tmp_path, monkeypatch):
    """Decoding in two processes must write exactly what one process writes."""
    from datagov.ingest import ingest_source
    from datagov.sources import IngestOptions
    from datagov.store.images import writer

    root = make_image_folder(tmp_path / "imgs", per_class=40)
    one = ingest_source(ws, str(root), "serial", options=IngestOptions(workers=1, show_progress=False))
    monkeypatch.setattr(writer, "IN_PROCESS_BELOW", 0)
    monkeypatch.setattr("datagov.sources.imagefolder.CHUNK", 7)  # many chunks, to catch reordering
    two = ingest_source(ws, str(root), "pooled", options=IngestOptions(workers=2, show_progress=False))
    assert one.version.digest == two.version.digest
