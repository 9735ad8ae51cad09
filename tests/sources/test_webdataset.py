"""WebDataset tar shards: copied by ingest, or registered in place and
rendered from hashed bytes when used; bad shards named by key."""

import io
import json
import os
import tarfile

import numpy as np
import pytest
from PIL import Image

from datagov.catalog.db import open_catalog
from datagov.catalog.locations import locate
from tests.conftest import catalog_counts, png_bytes, run_datagov, store_folders, version_rows
from tests.sources.test_tabular import latest_digest


def sample_pixels(i: int) -> np.ndarray:
    """A distinct 6x5 grey image per sample, its mean rising with i."""
    rng = np.random.default_rng(i)
    return np.clip(rng.integers(0, 40, size=(6, 5)) + 3 * i, 0, 255).astype(np.uint8)


def add_member(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def write_shards(root, n_shards=3, per_shard=4, labels=True, json_labels=False):
    """Shards of PNG (every third a JPEG) samples with .cls (or .json) labels = i % 3."""
    root.mkdir(parents=True, exist_ok=True)
    i = 0
    for s in range(n_shards):
        with tarfile.open(root / f"shard-{s:03d}.tar", "w") as tf:
            for _ in range(per_shard):
                key = f"s{s}/{i:05d}"
                if i % 3 == 2:
                    buf = io.BytesIO()
                    Image.fromarray(sample_pixels(i)).save(buf, format="JPEG", quality=95)
                    add_member(tf, f"{key}.jpg", buf.getvalue())
                else:
                    add_member(tf, f"{key}.png", png_bytes(sample_pixels(i)))
                if labels and json_labels:
                    add_member(tf, f"{key}.json", json.dumps({"label": i % 3, "caption": "x"}).encode())
                elif labels:
                    add_member(tf, f"{key}.cls", str(i % 3).encode())
                i += 1
    return root


def rows(ws, name, columns):
    return version_rows(ws, name, columns, order_by="path")


@pytest.mark.parametrize("json_labels", [False, True])
def test_shards_are_copied_as_images_with_their_labels(cli, ws, tmp_path, json_labels):
    root = write_shards(tmp_path / "wds", json_labels=json_labels)
    result = cli("ingest", root, "--name", "web", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "webdataset" in result.output
    got = rows(ws, "web", "path, format, label, height, width, channels, mean")
    assert len(got) == 12
    for path, fmt, label, h, w, c, mean in got:
        i = int(path.split("/")[-1].split(".")[0])
        assert path == f"shard-{i // 4:03d}.tar/s{i // 4}/{i:05d}.{'jpg' if i % 3 == 2 else 'png'}"
        assert label == i % 3 and (h, w, c) == (6, 5, 1)
        assert fmt == ("JPEG" if i % 3 == 2 else "PNG")
        if fmt == "PNG":  # lossless: the features are those of the pixels written
            assert abs(mean - sample_pixels(i).mean() / 255) < 1e-12
    digest = latest_digest(ws, "web")
    assert "unchanged" in cli("ingest", root, "--name", "web", "--no-progress").output
    assert latest_digest(ws, "web") == digest


def test_one_tar_file_and_a_glob_are_sources_too(cli, ws, tmp_path):
    root = write_shards(tmp_path / "wds")
    assert cli("ingest", root / "shard-001.tar", "--name", "one", "--no-progress").exit_code == 0
    assert len(rows(ws, "one", "path")) == 4
    assert cli("ingest", f"{root}/shard-00[01].tar", "--name", "two", "--no-progress").exit_code == 0
    assert len(rows(ws, "two", "path")) == 8


def bad_shard(root, members):
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(root / "bad.tar", "w") as tf:
        for name, data in members:
            add_member(tf, name, data)
    return root


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([("a.png", png_bytes(sample_pixels(0))), ("b.cls", b"1")], "sample 'b' has no image member"),
        (
            [("a.png", png_bytes(sample_pixels(0))), ("b.png", png_bytes(sample_pixels(1))), ("a.cls", b"1")],
            "key 'a' appears twice; a sample's members must be consecutive",
        ),
        ([("a.png", png_bytes(sample_pixels(0))), ("a.cls", b"cat")], "a.cls holds 'cat', not an integer class id"),
        ([("a.png", png_bytes(sample_pixels(0))), ("a.json", b"{}")], "a.json has no integer 'label'"),
        (
            [("a.png", png_bytes(sample_pixels(0))), ("a.cls", b"1"), ("b.png", png_bytes(sample_pixels(1)))],
            "sample 'b' lacks a label",
        ),
    ],
)
def test_a_bad_shard_is_one_error_naming_the_sample(cli, ws, tmp_path, members, message):
    root = bad_shard(tmp_path / "wds", members)
    result = cli("ingest", root, "--name", "web", "--no-progress")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: bad.tar under {root}: ") and message in result.output
    assert catalog_counts(ws)["versions"] == 0 and store_folders(ws) == []


def test_an_undecodable_image_stops_ingest_or_becomes_a_reject(cli, ws, tmp_path):
    good = png_bytes(sample_pixels(0))
    root = bad_shard(tmp_path / "wds", [("a.png", good), ("a.cls", b"0"), ("b.png", good[:30]), ("b.cls", b"1")])
    result = cli("ingest", root, "--name", "web", "--no-progress")
    assert result.exit_code == 1 and "cannot decode 'bad.tar/b.png'" in result.output
    assert catalog_counts(ws)["versions"] == 0
    result = cli("ingest", root, "--name", "web", "--no-progress", "--skip-bad")
    assert result.exit_code == 0, result.output
    assert rows(ws, "web", "path, label") == [("bad.tar/a.png", 0)]
    assert "bad.tar/b.png" in cli("datasets", "show", "web").output


def test_a_file_that_is_not_a_tar_is_refused(cli, tmp_path):
    (tmp_path / "x.tar").write_bytes(b"not a tar at all" * 100)
    result = cli("ingest", tmp_path / "x.tar", "--name", "web", "--no-progress")
    assert result.exit_code == 1 and "not a tar archive" in result.output


def test_shards_registered_in_place_read_as_the_copied_version_and_changes_are_named(cli, ws, tmp_path):
    root = write_shards(tmp_path / "wds")
    assert cli("ingest", root, "--name", "copied", "--no-progress").exit_code == 0
    result = cli("ingest", root, "--name", "web", "--in-place")
    assert result.exit_code == 0, result.output
    assert "registered in place" in result.output and "webdataset" in result.output
    with open_catalog(ws) as con:
        files = locate(ws, con, latest_digest(ws, "web"), "web")
    assert files.layout == "webdataset" and files.names == [f"shard-{s:03d}.tar" for s in range(3)]
    assert [e.rows for e in files.entries] == [4, 4, 4]
    assert store_folders(ws) == [latest_digest(ws, "copied")]  # nothing of the in-place version copied
    columns = "path, format, label, label_name, height, width, channels, mean, std, pixel_hash, image"
    assert rows(ws, "web", columns) == rows(ws, "copied", columns)  # rendered = copied, byte for byte

    assert cli("expectations", "suggest", "web", "--suite", "web").exit_code == 0
    assert cli("validate", "web", "--suite", "web").exit_code == 0
    assert cli("datasets", "verify", "web").exit_code == 0

    with tarfile.open(root / "shard-001.tar", "a") as tf:  # a sample appended (tar padding keeps the size)
        add_member(tf, "zz.png", png_bytes(sample_pixels(99)))
    os.remove(root / "shard-002.tar")
    write_shards(tmp_path / "more", n_shards=1)
    os.replace(tmp_path / "more" / "shard-000.tar", root / "shard-009.tar")
    (root / "notes.txt").write_text("not a shard")
    result = cli("datasets", "verify", "web")
    assert result.exit_code == 3
    lines = {line.split()[1].rstrip(":"): line.split()[0] for line in result.output.splitlines() if line[:2] == "  "}
    assert lines == {"shard-001.tar": "hash", "shard-002.tar": "missing", "shard-009.tar": "added"}
    refused = cli("validate", "web", "--suite", "web")
    assert refused.exit_code == 3 and "shard-002.tar" in refused.output


def test_a_shard_rewritten_with_the_same_size_is_caught_when_used(cli, ws, tmp_path):
    root = write_shards(tmp_path / "wds", n_shards=1)
    assert cli("ingest", root, "--name", "web", "--in-place").exit_code == 0
    assert cli("expectations", "suggest", "web", "--suite", "web").exit_code == 0
    data = bytearray((root / "shard-000.tar").read_bytes())
    at = data.index(b"IEND") - 20  # inside the first PNG's pixel data
    data[at] ^= 0xFF
    (root / "shard-000.tar").write_bytes(bytes(data))
    # a new process, as a user runs it (this one holds a verified rendering of the old bytes)
    result = run_datagov("--workspace", ws.root, "validate", "web", "--suite", "web")
    assert result.returncode == 3 and "shard-000.tar" in result.stderr + result.stdout
    result = cli("datasets", "verify", "web")
    assert result.exit_code == 3 and "hash" in result.output and "shard-000.tar" in result.output


def test_in_place_shards_with_and_without_labels_are_refused(cli, tmp_path):
    root = write_shards(tmp_path / "wds", n_shards=1)
    write_shards(tmp_path / "bare", n_shards=2, labels=False)
    os.replace(tmp_path / "bare" / "shard-001.tar", root / "shard-001.tar")
    result = cli("ingest", root, "--name", "web", "--in-place")
    assert result.exit_code == 1 and "shard-001.tar lacks labels where shard-000.tar has them" in result.output


def test_a_glob_through_a_linked_folder_is_refused(cli, ws, tmp_path):
    write_shards(tmp_path / "elsewhere", n_shards=1)
    (tmp_path / "data").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "data" / "linked")
    result = cli("ingest", f"{tmp_path}/data/*/*.tar", "--name", "web", "--no-progress")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: linked under {tmp_path / 'data'} is a symbolic link")
    assert catalog_counts(ws)["versions"] == 0 and store_folders(ws) == []


def test_label_option_is_refused_for_webdataset(cli, ws, tmp_path):
    root = write_shards(tmp_path / "wds", n_shards=1)
    for extra in ([], ["--in-place"]):
        result = cli("ingest", root, "--name", "web", "--label", "y", "--no-progress", *extra)
        assert result.exit_code == 1
        assert result.output.startswith("Error: --label y does not apply to WebDataset shards")
    assert catalog_counts(ws)["versions"] == 0


def test_an_in_place_shard_swapped_for_a_link_to_the_same_bytes_is_refused(cli, ws, tmp_path):
    root = write_shards(tmp_path / "wds", n_shards=2)
    assert cli("ingest", root, "--name", "web", "--in-place").exit_code == 0
    assert cli("expectations", "suggest", "web", "--suite", "web").exit_code == 0
    os.replace(root / "shard-001.tar", tmp_path / "moved.tar")
    os.symlink(tmp_path / "moved.tar", root / "shard-001.tar")  # same bytes, now outside the folder
    result = run_datagov("--workspace", ws.root, "validate", "web", "--suite", "web")
    assert result.returncode == 3 and "shard-001.tar" in result.stdout + result.stderr
    result = cli("datasets", "verify", "web")
    assert result.exit_code == 3 and "missing" in result.output and "a symlink" in result.output


@pytest.mark.parametrize(
    "ext, data, says",
    [
        ("cls", b"9" * 4000, "s1.cls holds a class id of 4,000 digits"),
        ("cls", str(2**63).encode(), "s1.cls holds class id 9223372036854775808"),
        ("json", b'{"label": ' + str(10**30).encode() + b"}", "s1.json holds a class id of 31 digits"),
        ("json", b"[" * 100_000 + b"]" * 100_000, "s1.json nests too deeply"),
    ],
    ids=["cls-4000-digits", "cls-2e63", "json-1e30", "json-deep"],
)
def test_a_hostile_label_in_place_is_one_error_when_used(cli, ws, tmp_path, ext, data, says):
    """Registration reads names only; the label is read, and refused, where the samples are used."""
    from tests.hostile import payloads

    good = payloads.png(np.zeros((4, 4), np.uint8))
    shard = payloads.tar_of(payloads.tar_member("s1.png", good), payloads.tar_member(f"s1.{ext}", data))
    root = payloads.webdataset_folder(tmp_path / "web", shard)
    assert cli("ingest", root, "--name", "w", "--in-place").exit_code == 0
    (ws.expectations_dir / "w.json").write_text(
        json.dumps({"name": "w", "expectations": [{"type": "expect_table_row_count_to_be_between",
                                                   "kwargs": {"min_value": 1}}]})
    )  # fmt: skip
    result = cli("validate", "w", "--suite", "w")
    assert result.exit_code == 3, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and says in errors[0] and "Traceback" not in result.output
