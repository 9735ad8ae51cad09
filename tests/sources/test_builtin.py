import struct

import numpy as np
import pytest

from datagov.sources.builtin import load_digits_arrays
from tests.sources.test_imagefolder import rows


def test_digits_loader_matches_sklearn():
    from sklearn.datasets import load_digits

    images, targets = load_digits_arrays()
    ref = load_digits()
    np.testing.assert_array_equal(images, ref.images)
    np.testing.assert_array_equal(targets, ref.target)


def test_ingest_sklearn_digits(cli, ws):
    result = cli("ingest", "sklearn:digits", "--name", "digits")
    assert result.exit_code == 0, result.output
    got = rows(ws, "digits", "label, height, width, channels")
    assert len(got) == 1797
    assert {r[0] for r in got} == set(range(10))
    assert {r[1:] for r in got} == {(8, 8, 1)}


def write_idx(path, array: np.ndarray):
    """MNIST's IDX format: magic (0, 0, 0x08 = uint8, ndim), big-endian dims, data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("dataset", ["MNIST", "FashionMNIST"])
def test_torchvision_idx_datasets_from_local_files(cli, ws, tmp_path, dataset):
    """MNIST and FashionMNIST share the IDX layout under ROOT/NAME/raw. (CIFAR10's loader
    checks its files' MD5 sums, so it can only be tested with the real download.)"""
    raw = tmp_path / "root" / dataset / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 20, dtype=np.uint8)
    write_idx(raw / "train-images-idx3-ubyte", images)
    write_idx(raw / "train-labels-idx1-ubyte", labels)
    write_idx(raw / "t10k-images-idx3-ubyte", images[:5])
    write_idx(raw / "t10k-labels-idx1-ubyte", labels[:5])
    result = cli("ingest", f"torchvision:{dataset}", "--root", tmp_path / "root", "--name", "mnist")
    assert result.exit_code == 0, result.output
    got = rows(ws, "mnist", "label, label_name, height, mean")
    assert [r[0] for r in got] == labels.tolist()
    import torchvision.datasets

    classes = getattr(torchvision.datasets, dataset).classes
    assert [r[1] for r in got] == [classes[v] for v in labels]  # e.g. "7 - seven", "Ankle boot"
    assert got[0][2] == 28
    assert abs(got[0][3] - images[0].mean() / 255) < 1e-12
    test = cli(
        "ingest", f"torchvision:{dataset}", "--root", tmp_path / "root", "--split", "test", "--name", "mnist-test"
    )
    assert test.exit_code == 0 and len(rows(ws, "mnist-test", "label")) == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["torchvision:MNIST"], "Error: torchvision:MNIST needs --root"),
        (["torchvision:ImageNet", "--root", "."], "Error: unknown torchvision dataset 'ImageNet'"),
        (["torchvision:CIFAR10", "--root", "{tmp}"], "Error: no torchvision:CIFAR10 files under {tmp} "),
    ],
)
def test_torchvision_errors(cli, ws, tmp_path, args, message):
    result = cli("ingest", *[a.format(tmp=tmp_path) for a in args], "--name", "x")
    assert result.exit_code == 1
    assert result.stderr.startswith(message.format(tmp=tmp_path)), result.stderr


def test_a_download_without_internet_says_why_and_leaves_no_folders(cli, ws, tmp_path, monkeypatch):
    """The machine has no internet: what a user sees is the reason, in datagov's words."""
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    root = tmp_path / "data"
    root.mkdir()
    result = cli("ingest", "torchvision:MNIST", "--root", root, "--download", "--name", "x")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot download torchvision:MNIST into {root}: ")
    assert "Name or service not known" in result.stderr and "download=True" not in result.stderr
    assert list(root.iterdir()) == []  # no empty MNIST/raw left behind
