"""Named datasets: scikit-learn's bundled digits (offline) and torchvision's
MNIST, FashionMNIST and CIFAR10 from a local root (or downloaded)."""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
from pathlib import Path

import numpy as np

from datagov.errors import MissingDependency, SourceError
from datagov.sources import TORCHVISION_DATASETS, IngestOptions, SourceResult
from datagov.sources.arrays import write_image_arrays


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 8, 8) with values 0..16, targets), as sklearn's load_digits
    returns them, read straight from the CSV in its wheel: importing
    sklearn.datasets costs over two seconds (SciPy), reading the file 20 ms."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency("scikit-learn", "the sklearn-digits source")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():  # a future layout: fall back to the public loader
        from sklearn.datasets import load_digits

        digits = load_digits()
        return digits.images, digits.target
    with gzip.open(path) as fh:
        data = np.loadtxt(fh, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)


def write_sklearn_digits(_source: str, out: Path, opts: IngestOptions) -> SourceResult:
    images, targets = load_digits_arrays()
    # Pixel values are 0..16; scale to the 0..255 range every image format uses.
    images = np.round(images * (255.0 / 16.0)).astype(np.uint8)
    return write_image_arrays(
        images,
        targets,
        out,
        opts,
        source="sklearn:digits",
        prefix="digits",
        label_names=[str(n) for n in range(10)],
        details={"origin": "sklearn.datasets.load_digits (UCI optical digits, 8x8)"},
    )


def torchvision_name(source: str) -> str:
    name = source.split(":", 1)[1] if source.lower().startswith("torchvision:") else source
    for known in TORCHVISION_DATASETS:
        if name.lower() == known.lower():
            return known
    raise SourceError(
        f"unknown torchvision dataset {name!r}",
        hint=f"supported: {', '.join(TORCHVISION_DATASETS)}",
    )


def _load_error(name: str, opts: IngestOptions, exc: RuntimeError) -> SourceError:
    """torchvision's own wording speaks of its Python API (`download=True`) and
    puts the reason for a failed download on later lines: say it in datagov's terms."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if opts.download:
        reason = next((line for line in reversed(lines) if line.startswith("<")), lines[-1] if lines else "")
        return SourceError(
            f"cannot download torchvision:{name} into {opts.root}: {reason.strip('<>')}",
            hint="on a machine without internet, copy the dataset's files under the root instead of --download",
        )
    return SourceError(
        f"no torchvision:{name} files under {opts.root} (torchvision looks in {Path(opts.root or '.') / name})",
        hint="copy the dataset's files there, or pass --download on a machine with internet",
    )


def _missing_folders(root: Path) -> list[Path]:
    """The root and its parents that do not exist yet, innermost first."""
    missing = []
    while not root.exists() and root != root.parent:
        missing.append(root)
        root = root.parent
    return missing


def _remove_empty(made: list[Path]) -> None:
    for top in reversed(made[-1:]):  # the outermost folder this attempt created, and everything in it if empty
        for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                folder.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


def write_torchvision(source: str, out: Path, opts: IngestOptions) -> SourceResult:
    name = torchvision_name(source)
    if not opts.root:
        raise SourceError(f"torchvision:{name} needs --root, the folder that holds (or will hold) its files")
    if opts.split not in ("train", "test"):
        raise SourceError(f"--split must be train or test for torchvision datasets, not {opts.split!r}")
    try:
        import torchvision.datasets as tvd
    except ImportError as exc:
        raise MissingDependency("torchvision", f"the torchvision:{name} source") from exc
    cls = getattr(tvd, name)
    made = _missing_folders(Path(opts.root) / name)  # torchvision makes ROOT/NAME/raw as it starts
    try:
        ds = cls(root=opts.root, train=opts.split == "train", download=opts.download)
    except RuntimeError as exc:  # torchvision raises RuntimeError for missing files and failed downloads
        _remove_empty(made)  # a failed download leaves no empty folders behind
        raise _load_error(name, opts, exc) from exc
    data = ds.data.numpy() if hasattr(ds.data, "numpy") else np.asarray(ds.data)
    targets = ds.targets.numpy() if hasattr(ds.targets, "numpy") else np.asarray(ds.targets)
    return write_image_arrays(
        data,
        targets,
        out,
        opts,
        source=f"torchvision:{name}",
        prefix=f"{name}/{opts.split}",
        label_names=list(getattr(ds, "classes", [])) or None,
        details={"origin": f"torchvision.datasets.{name}", "split": opts.split},
    )
