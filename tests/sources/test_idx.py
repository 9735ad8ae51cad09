"""IDX files (MNIST, Fashion-MNIST): both layouts (Debian's gzipped folder,
torchvision's raw/), both splits, one images file with its labels beside
it, the real Fashion-MNIST test split when the Debian package is there, and
hostile files (a header that declares gigabytes, a short body, a wrong
magic number, labels that do not match) refused before anything is written."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from datagov.errors import SourceError
from datagov.sources import detect_format
from datagov.sources.idx import FASHION_CLASSES, read_idx
from tests.conftest import version_rows

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(array: np.ndarray) -> bytes:
    code = {np.uint8: 0x08, np.int32: 0x0C}[array.dtype.type]
    head = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return head + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_pair(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray, gz: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
        data = idx_bytes(array)
        name = f"{prefix}-{kind}-ubyte"
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


def sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


@pytest.mark.parametrize("layout", ["debian", "torchvision"])
def test_both_layouts_and_both_splits_ingest_with_class_names(cli, ws, tmp_path, layout):
    train, test = sample(12, 1), sample(5, 2)
    root = tmp_path / "fashion-mnist" if layout == "debian" else tmp_path / "FashionMNIST"
    folder = root if layout == "debian" else root / "raw"
    write_pair(folder, "train", *train, gz=layout == "debian")
    write_pair(folder, "t10k", *test, gz=layout == "debian")
    assert detect_format(str(root)) == "idx"
    for split, (_images, labels) in (("train", train), ("test", test)):
        name = f"fm-{split}"
        result = cli("ingest", root, "--name", name, "--split", split, "--no-progress")
        assert result.exit_code == 0, result.output
        rows = version_rows(ws, name, "label, label_name, height, width", order_by="path")
        assert [r[0] for r in rows] == labels.tolist()
        assert [r[1] for r in rows] == [FASHION_CLASSES[i] for i in labels]
        assert {(r[2], r[3]) for r in rows} == {(28, 28)}


def test_pixels_survive_ingest_exactly(cli, ws, tmp_path):
    from datagov.pixels.codec import decode

    images, labels = sample(6, 3)
    write_pair(tmp_path / "idx", "train", images, labels, gz=False)
    assert cli("ingest", tmp_path / "idx" / "train-images-idx3-ubyte", "--name", "one", "--no-progress").exit_code == 0
    stored = [decode(bytes(b))[0] for (b,) in version_rows(ws, "one", "image", order_by="path")]
    assert all(np.array_equal(s.reshape(28, 28), i) for s, i in zip(stored, images, strict=True))
    labelled = version_rows(ws, "one", "label, label_name", order_by="path")
    assert [r[0] for r in labelled] == labels.tolist()
    assert {r[1] for r in labelled} == {str(v) for v in labels}  # not a known set: numbers, not names


def test_the_real_fashion_mnist_test_split(cli, ws):
    from collections import Counter

    from datagov.pixels.codec import decode

    assert DEBIAN.is_dir(), f"{DEBIAN} is missing: apt-get install dataset-fashion-mnist (make test does)"
    result = cli("ingest", DEBIAN, "--name", "fashion-test", "--split", "test", "--no-progress")
    assert result.exit_code == 0, result.output
    rows = version_rows(ws, "fashion-test", "label_name, image", order_by="path")
    assert Counter(name for name, _ in rows) == dict.fromkeys(FASHION_CLASSES, 1000)
    raw = read_idx(DEBIAN / "t10k-images-idx3-ubyte.gz", 1 << 30)
    assert raw.shape == (10_000, 28, 28)
    for i in (0, 4321, 9999):
        assert np.array_equal(decode(bytes(rows[i][1]))[0].reshape(28, 28), raw[i])


def hostile(tmp_path: Path, data: bytes, name: str = "train-images-idx3-ubyte") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "data, said",
    [
        (bytes([0, 0, 8, 3]) + struct.pack(">3I", 100_000, 4096, 4096), "over the limit"),
        (bytes([0, 0, 8, 3]) + struct.pack(">3I", 10, 28, 28) + b"\0" * 100, "ends early"),
        (bytes([0, 0, 8, 1]) + struct.pack(">I", 3) + b"\0" * 9, "more bytes than its header declares"),
        (b"\x89PNG\r\n\x1a\n", "is not an IDX file"),
        (bytes([0, 0, 8, 3]) + b"\0\0", "ends inside its header"),
        (b"", "is not an IDX file"),
    ],
)
def test_a_hostile_file_is_refused_before_it_is_read(tmp_path, data, said):
    with pytest.raises(SourceError, match=said):
        read_idx(hostile(tmp_path, data), max_bytes=64 << 20)


def test_a_gzip_bomb_is_refused_by_its_header(tmp_path):
    declared = bytes([0, 0, 8, 3]) + struct.pack(">3I", 1_000_000, 1000, 1000)  # 1 TB of pixels
    path = hostile(tmp_path, gzip.compress(declared + b"\0" * (1 << 20)), "train-images-idx3-ubyte.gz")
    with pytest.raises(SourceError, match="over the limit"):
        read_idx(path, max_bytes=64 << 20)


def test_labels_that_do_not_match_the_images_leave_nothing_behind(cli, ws, tmp_path):
    from tests.conftest import catalog_counts, store_folders

    images, _ = sample(4, 5)
    write_pair(tmp_path / "idx", "train", images, np.zeros(3, np.uint8), gz=True)
    result = cli("ingest", tmp_path / "idx", "--name", "bad", "--no-progress")
    assert result.exit_code == 1 and "4 images but 3 labels" in result.output
    assert catalog_counts(ws)["versions"] == 0 and store_folders(ws) == []


def test_split_all_takes_both_splits_in_one_version(cli, ws, tmp_path):
    (train_images, train_labels), (test_images, test_labels) = sample(12, 1), sample(5, 2)
    write_pair(tmp_path / "fashion-mnist", "train", train_images, train_labels, gz=True)
    write_pair(tmp_path / "fashion-mnist", "t10k", test_images, test_labels, gz=True)
    result = cli("ingest", tmp_path / "fashion-mnist", "--name", "fm", "--split", "all", "--no-progress")
    assert result.exit_code == 0, result.output
    rows = version_rows(ws, "fm", "path, label", order_by="path")
    assert [p for p, _ in rows] == [f"fashion-mnist/test/{i}" for i in range(5)] + [
        f"fashion-mnist/train/{i:02d}" for i in range(12)
    ]
    assert [label for _, label in rows] == test_labels.tolist() + train_labels.tolist()
