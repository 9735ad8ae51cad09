"""The MNIST idx and CIFAR-10 binary readers behind `bench/transfer_results.py
--root`: files written in each publisher's documented layout read back
exactly, malformed ones stop with a message, and the arrays go through
datagov (npz ingest, suggest, validate) into the pool and eval the value
table trains on."""

import gzip
import struct

import numpy as np
import pytest

from bench.public_datasets import CIFAR_RECORD, find, read_idx


def _idx(path, array: np.ndarray, compress: bool) -> None:
    data = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape) + array.tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def _mnist(root, n_train=40, n_test=20, compress=True):
    rng = np.random.default_rng(0)
    split = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        suffix = ".gz" if compress else ""
        _idx(root / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
        _idx(root / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)
        split[prefix] = images, labels
    return split


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_idx_files_read_back_exactly(tmp_path, compress):
    written = _mnist(tmp_path, compress=compress)
    data = find(tmp_path)
    assert np.array_equal(data.train.images, written["train"][0])
    assert np.array_equal(data.test.labels, written["t10k"][1].astype(np.int64))
    assert data.class_names == [str(c) for c in range(10)]
    small = data.subset(train=20, test=None)
    assert len(small.train.labels) == 20 and len(small.test.labels) == 20 and small.limits == (20, None)


def test_malformed_idx_files_stop_with_the_reason(tmp_path):
    _mnist(tmp_path, compress=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(SystemExit, match="header says"):
        read_idx(path, 3)
    path.write_bytes(b"\0\0\x0d\x03" + b"\0" * 40)  # 0x0d: floats, not unsigned bytes
    with pytest.raises(SystemExit, match="not an idx file of unsigned bytes"):
        read_idx(path, 3)
    with pytest.raises(SystemExit, match="holds neither MNIST idx files"):
        find(tmp_path / "elsewhere")


def test_cifar_binary_batches_become_hwc_images_with_their_class_names(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    rng = np.random.default_rng(1)
    planes = {}
    for name, n in (("data_batch_1.bin", 6), ("data_batch_2.bin", 4), ("test_batch.bin", 5)):
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        pixels = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        (folder / name).write_bytes(np.concatenate([labels[:, None], pixels.reshape(n, -1)], axis=1).tobytes())
        planes[name] = labels, pixels
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta.txt").write_text("\n".join(names) + "\n\n")
    data = find(tmp_path)
    assert data.name == "cifar-10" and data.class_names == names
    assert data.train.images.shape == (10, 32, 32, 3)
    red = planes["data_batch_2.bin"][1][3, 0]
    assert np.array_equal(data.train.images[6 + 3, :, :, 0], red)  # batch order kept, planes -> HWC
    assert np.array_equal(data.test.labels, planes["test_batch.bin"][0].astype(np.int64))
    (folder / "test_batch.bin").write_bytes(b"\0" * (CIFAR_RECORD + 7))
    with pytest.raises(SystemExit, match="not a whole number"):
        find(tmp_path)


def test_the_files_reach_the_value_table_through_datagov(tmp_path):
    from bench.transfer_results import load, prepare
    from datagov.workspace import Workspace

    _mnist(tmp_path, n_train=60, n_test=30)
    data = find(tmp_path)
    name = prepare(tmp_path / "ws", data)
    ws = Workspace(tmp_path / "ws")
    pool_x, pool_y = load(ws, f"{name}-pool")
    assert pool_x.shape == (60, 1, 28, 28) and pool_y.tolist() == data.train.labels.tolist()
    assert np.array_equal(pool_x[:, 0].numpy(), data.train.images)  # the same pixels
    eval_x, _ = load(ws, f"{name}-eval")
    assert len(eval_x) == 30
