"""MNIST-format (MNIST, Fashion-MNIST, EMNIST) and CIFAR-10 files as NumPy
arrays, for `bench/transfer_results.py --root DIR`.

Both are read as the raw formats their publishers document, never through
pickle (CIFAR-10's "python version" is pickled; its "binary version" is
not, so that is the one read here):

- MNIST idx: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
  `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally `.gz`;
  a big-endian header (magic 0x0803 or 0x0801, then the dimensions) and
  unsigned bytes.
- CIFAR-10 binary: `data_batch_1.bin` .. `data_batch_5.bin` and
  `test_batch.bin` (in DIR or DIR/cifar-10-batches-bin), records of one
  label byte and 3,072 pixel bytes (red, green, blue planes of 32×32), and
  `batches.meta.txt` for the class names.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CIFAR_RECORD = 1 + 3 * 32 * 32


@dataclass
class Split:
    images: np.ndarray  # (N, H, W) or (N, H, W, C), uint8
    labels: np.ndarray  # (N,), int64


@dataclass
class PublicDataset:
    name: str
    train: Split
    test: Split
    class_names: list[str]
    limits: tuple[int | None, int | None] = (None, None)  # --train-limit, --test-limit

    def subset(self, train: int | None, test: int | None, seed: int = 0) -> PublicDataset:
        """The first `train` / `test` rows of a fixed shuffle (a CPU-sized slice, every class kept)."""
        rng = np.random.default_rng(seed)

        def take(split: Split, n: int | None) -> Split:
            if n is None or n >= len(split.labels):
                return split
            idx = np.sort(rng.permutation(len(split.labels))[:n])
            return Split(split.images[idx], split.labels[idx])

        return PublicDataset(self.name, take(self.train, train), take(self.test, test), self.class_names, (train, test))


def find(root: Path) -> PublicDataset:
    """MNIST-format or CIFAR-10 binary files under `root`, whichever is there."""
    if _idx_path(root, "train-images-idx3-ubyte"):
        return read_mnist(root)
    for folder in (root, root / "cifar-10-batches-bin"):
        if (folder / "test_batch.bin").exists():
            return read_cifar10(folder)
    raise SystemExit(
        f"{root} holds neither MNIST idx files (train-images-idx3-ubyte[.gz] ...) "
        "nor CIFAR-10 binary batches (data_batch_1.bin ... test_batch.bin)"
    )


def _idx_path(root: Path, stem: str) -> Path | None:
    return next((p for p in (root / stem, root / f"{stem}.gz") if p.exists()), None)


def read_idx(path: Path, dims: int) -> np.ndarray:
    """One idx file of unsigned bytes with `dims` dimensions, its header checked against its length."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    header = 4 + 4 * dims
    if len(data) < header or data[:3] != b"\0\0\x08" or data[3] != dims:
        raise SystemExit(f"{path}: not an idx file of unsigned bytes with {dims} dimensions")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    if len(data) - header != int(np.prod(shape)):
        raise SystemExit(f"{path}: header says {shape}, the file holds {len(data) - header} bytes")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def read_mnist(root: Path) -> PublicDataset:
    def split(prefix: str) -> Split:
        images_at = _idx_path(root, f"{prefix}-images-idx3-ubyte")
        labels_at = _idx_path(root, f"{prefix}-labels-idx1-ubyte")
        if images_at is None or labels_at is None:
            raise SystemExit(f"{root}: {prefix}-images-idx3-ubyte and {prefix}-labels-idx1-ubyte are both needed")
        images, labels = read_idx(images_at, 3), read_idx(labels_at, 1)
        if len(images) != len(labels):
            raise SystemExit(f"{root}: {len(images)} {prefix} images but {len(labels)} labels")
        return Split(images, labels.astype(np.int64))

    train = split("train")
    return PublicDataset(root.name or "mnist", train, split("t10k"), [str(c) for c in np.unique(train.labels)])


def read_cifar10(folder: Path) -> PublicDataset:
    def batch(path: Path) -> Split:
        data = path.read_bytes()
        if len(data) % CIFAR_RECORD:
            raise SystemExit(f"{path}: {len(data)} bytes is not a whole number of {CIFAR_RECORD}-byte records")
        records = np.frombuffer(data, np.uint8).reshape(-1, CIFAR_RECORD)
        images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # planes -> HWC
        return Split(np.ascontiguousarray(images), records[:, 0].astype(np.int64))

    parts = sorted(folder.glob("data_batch_*.bin"))
    if not parts:
        raise SystemExit(f"{folder}: no data_batch_*.bin beside test_batch.bin")
    batches = [batch(p) for p in parts]
    train = Split(np.concatenate([b.images for b in batches]), np.concatenate([b.labels for b in batches]))
    meta = folder / "batches.meta.txt"
    names = [n.strip() for n in meta.read_text().splitlines() if n.strip()] if meta.exists() else []
    names = names if len(names) == 10 else [str(c) for c in range(10)]
    return PublicDataset("cifar-10", train, batch(folder / "test_batch.bin"), names)
