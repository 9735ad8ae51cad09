import pytest

from datagov.catalog.db import open_catalog
from datagov.catalog.versions import resolve
from tests.conftest import make_image_folder


def test_verify_reports_every_mismatch(cli, ws, tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("a\n" + "".join(f"{i}\n" for i in range(100)))
    assert cli("ingest", src, "--name", "t").exit_code == 0
    ok = cli("datasets", "verify", "t")
    assert ok.exit_code == 0 and ok.stdout.startswith("OK t@")

    folder = next(ws.store_dir.iterdir())
    part = folder / "part-00000.parquet"
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    assert cli("datasets", "verify", "t", "--quick").exit_code == 0  # same size: only the hash tells
    bad = cli("datasets", "verify", "t")
    assert bad.exit_code == 3
    assert "hash       part-00000.parquet: sha256" in bad.stderr
    assert bad.stderr.splitlines()[-1].endswith(": 1 file(s) do not match the manifest")

    (folder / "stray.parquet").write_bytes(b"x")
    part.unlink()
    worse = cli("datasets", "verify", "t")
    assert worse.exit_code == 3
    assert "missing    part-00000.parquet: file is gone" in worse.stderr
    assert "unexpected stray.parquet: not in the manifest" in worse.stderr


def test_verify_truncated_image_dataset(cli, ws, tmp_path):
    root = make_image_folder(tmp_path / "imgs", per_class=2)
    assert cli("ingest", root, "--name", "pets").exit_code == 0
    part = next(ws.store_dir.iterdir()) / "part-00000.parquet"
    part.write_bytes(part.read_bytes()[:-10])
    bad = cli("datasets", "verify", "pets", "--quick")
    assert bad.exit_code == 3 and "size       part-00000.parquet:" in bad.stderr


@pytest.mark.parametrize("damage", ["folder-gone", "same-size-edit"])
def test_ingesting_the_same_content_again_restores_a_damaged_store_copy(cli, ws, damage):
    """The recovery the errors recommend: `ingest` of the same source rewrites the stored files."""
    import shutil

    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    with open_catalog(ws) as con:
        digest = resolve(con, "digits").digest
    folder = ws.store_dir / digest
    if damage == "folder-gone":
        shutil.rmtree(folder)
    else:
        part = folder / "part-00000.parquet"
        data = bytearray(part.read_bytes())
        data[len(data) // 2] ^= 1
        part.write_bytes(bytes(data))
    assert cli("datasets", "verify", "digits").exit_code == 3
    again = cli("ingest", "sklearn:digits", "--name", "digits")
    assert again.exit_code == 0, again.output
    assert "the store's damaged or missing files were written again" in again.stdout
    assert cli("datasets", "verify", "digits").exit_code == 0  # every byte hashed again


def test_splitting_again_restores_a_child_whose_stored_copy_is_gone(cli, ws):
    import shutil

    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    into = ["--into", "a=0.5,b=0.5", "--seed", "3"]
    assert cli("split", "digits", *into).exit_code == 0
    with open_catalog(ws) as con:
        digest = resolve(con, "digits-a").digest
    shutil.rmtree(ws.store_dir / digest)
    assert cli("datasets", "verify", "digits-a").exit_code == 3
    assert cli("split", "digits", *into).exit_code == 0
    assert cli("datasets", "verify", "digits-a").exit_code == 0
