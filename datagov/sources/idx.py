"""IDX files: the format of MNIST and Fashion-MNIST (LeCun's `idx3-ubyte`
images and `idx1-ubyte` labels), plain or gzipped.

The source is a folder holding the pairs, as Debian's dataset-fashion-mnist
installs them (`/usr/share/datasets/fashion-mnist/`) or as torchvision
lays them out (`ROOT/FashionMNIST/raw/`), and `--split train|test|all` picks
`train-*`, `t10k-*` or both (rows `NAME/train/…` then `NAME/test/…`); or one images file, whose labels file is found
beside it. A header is checked against the file's size, and against
[ingest] max_array_bytes, before anything is allocated: a few kilobytes of
gzip can declare gigabytes.

IDX holds no class names. A folder recognised as Fashion-MNIST or MNIST
(by its name, as both distributions name it) gets the dataset's published
names; any other set is labelled by number.
"""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np

from datagov.errors import SourceError
from datagov.sources import IngestOptions, SourceResult
from datagov.sources.arrays import write_image_arrays

# The type byte of the magic number, and what each is as numpy reads it (big-endian).
DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
SPLITS = {"train": "train", "test": "t10k"}
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]  # fmt: skip
KNOWN = {  # a folder name (lower case, without - and _) -> (dataset, class names)
    "fashionmnist": ("Fashion-MNIST", FASHION_CLASSES),
    "mnist": ("MNIST", [str(d) for d in range(10)]),
}


def write_idx(source: str, out: Path, opts: IngestOptions) -> SourceResult:
    splits = list(SPLITS) if opts.split == "all" and Path(source).is_dir() else [opts.split]
    dataset, names = _known(Path(source))
    parts = [_read_pair(Path(source), split, opts.max_array_bytes) for split in splits]
    images = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    if any(p[3] is None for p in parts) and any(p[3] is not None for p in parts):
        raise SourceError(f"{source}: one split has labels and the other none")
    labels = np.concatenate([p[3] for p in parts]) if parts[0][3] is not None else None
    stem = (dataset or "idx").lower()
    ids = [f"{stem}/{split}/{i:0{len(str(len(p[1]) - 1))}d}" for split, p in zip(splits, parts, strict=True)
           for i in range(len(p[1]))]  # fmt: skip
    images_path, labels_path = parts[0][0], parts[0][2]
    if labels is not None and names is not None and labels.size and int(labels.max()) >= len(names):
        names = None  # not the set its folder's name suggests: numbers, not the wrong names
    details = {"origin": dataset or "IDX files", "split": opts.split, "images_files": [p[0].name for p in parts]}
    if labels_path:
        details["labels_files"] = [p[2].name for p in parts if p[2] is not None]
    return write_image_arrays(
        images,
        labels,
        out,
        opts,
        source=str(images_path),
        prefix=f"{stem}/{opts.split}",
        label_names=names if labels is not None else None,
        details=details,
        ids=ids,
    )


def _read_pair(source: Path, split: str, max_bytes: int) -> tuple[Path, np.ndarray, Path | None, np.ndarray | None]:
    images_path, labels_path = pair_of(source, split)
    images = read_idx(images_path, max_bytes)
    if images.ndim != 3:
        raise SourceError(f"{images_path} holds a {images.ndim}-dimensional array; images are (N, rows, columns)")
    labels = read_idx(labels_path, max_bytes) if labels_path else None
    if labels is not None and labels.ndim != 1:
        raise SourceError(f"{labels_path} holds a {labels.ndim}-dimensional array; labels are one number each")
    return images_path, images, labels_path, labels


def pair_of(source: Path, split: str) -> tuple[Path, Path | None]:
    """(images file, labels file or None) of a folder and split, or of one images file."""
    if not source.exists():
        raise SourceError(f"source not found: {source}")
    if source.is_file():
        return source, _labels_beside(source)
    if split not in SPLITS:
        raise SourceError(f"--split must be train, test or all for IDX files, not {split!r}")
    folder = source / "raw" if (source / "raw").is_dir() else source
    images = _one(folder, f"{SPLITS[split]}-images-idx3-ubyte")
    if images is None:
        raise SourceError(
            f"{source} holds no {SPLITS[split]}-images-idx3-ubyte[.gz] (the {split} split's images)",
            hint="name the folder that holds the IDX files, e.g. /usr/share/datasets/fashion-mnist",
        )
    return images, _one(folder, f"{SPLITS[split]}-labels-idx1-ubyte")


def _one(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _labels_beside(images: Path) -> Path | None:
    name = images.name.replace("images-idx3", "labels-idx1")
    if name == images.name:
        return None
    return _one(images.parent, name.removesuffix(".gz"))


def _known(source: Path) -> tuple[str | None, list[str] | None]:
    """The dataset a folder's name says it holds: the folder itself, a file's
    folder, or the folder above `raw/` (torchvision's layout)."""
    folder = source.parent if source.is_file() else source
    if folder.name == "raw":
        folder = folder.parent
    return KNOWN.get(folder.name.lower().replace("-", "").replace("_", ""), (None, None))


def read_idx(path: Path, max_bytes: int) -> np.ndarray:
    """The array an IDX file holds, its header checked before the body is read."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in DTYPES or not 1 <= head[3] <= 4:
                raise SourceError(f"{path} is not an IDX file (its first 4 bytes are {head.hex() or 'missing'})")
            dims = head[3]
            raw_dims = f.read(4 * dims)
            if len(raw_dims) < 4 * dims:
                raise SourceError(f"{path} ends inside its header")
            shape = struct.unpack(f">{dims}I", raw_dims)
            dtype = np.dtype(DTYPES[head[2]])
            size = math.prod(shape) * dtype.itemsize
            if size > max_bytes:
                raise SourceError(
                    f"{path} declares {'x'.join(map(str, shape))} {dtype.name} values ({size:,} bytes), over the "
                    f"limit of {max_bytes:,}",
                    hint="raise [ingest] max_array_bytes in datagov.toml if the machine has the memory",
                )
            body = f.read(size + 1)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from None
    if len(body) != size:
        said = "ends early" if len(body) < size else "holds more bytes than its header declares"
        raise SourceError(f"{path} {said}: {len(body):,} bytes after the header, {size:,} declared")
    return np.frombuffer(body, dtype).reshape(shape).astype(dtype.newbyteorder("="))
