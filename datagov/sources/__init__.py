"""Readers that turn a source into Parquet files in a staging folder.

Each reader writes `part-NNNNN.parquet` files and returns a `SourceResult`.
Tabular sources go through DuckDB; image sources are decoded in worker
processes and stored as encoded bytes plus per-sample feature columns.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

from datagov.errors import SourceError
from datagov.workspace import MAX_ARRAY_BYTES, MAX_COLUMNS, MAX_CSV_LINE_BYTES, MAX_IMAGE_PIXELS


@dataclass(frozen=True)
class SourceFormat:
    """One source format: its reader (imported only when used), the formats
    `--in-place` can register without copying, and the help line."""

    name: str
    reader: str  # "module:function", called as function(source, out, opts, **kwargs)
    help: str
    kwargs: tuple[tuple[str, str], ...] = ()
    in_place: bool = False
    suffixes: tuple[str, ...] = ()  # a file with one of these is this format
    builtin: str | None = None  # the scheme of a built-in source ("sklearn:"), named by it, not a path

    def read(self, source: str, out: Path, opts: IngestOptions) -> SourceResult:
        module, function = self.reader.split(":")
        return getattr(importlib.import_module(module), function)(source, out, opts, **dict(self.kwargs))


_TABULAR = "datagov.sources.tabular:write_duckdb_source"
REGISTRY: dict[str, SourceFormat] = {
    f.name: f
    for f in (
        SourceFormat(
            "parquet",
            _TABULAR,
            "Parquet files: a file, folder or glob",
            (("fmt", "parquet"),),
            in_place=True,
            suffixes=(".parquet", ".pq"),
        ),
        SourceFormat("csv", _TABULAR, "CSV/TSV with a header row", (("fmt", "csv"),), suffixes=(".csv", ".tsv")),
        SourceFormat(
            "jsonl", _TABULAR, "newline-delimited JSON", (("fmt", "jsonl"),), suffixes=(".jsonl", ".ndjson", ".json")
        ),
        SourceFormat("npz", "datagov.sources.npz:write_npz", "a NumPy archive of arrays or images", suffixes=(".npz",)),
        SourceFormat(
            "webdataset",
            "datagov.sources.webdataset:write_webdataset",
            "WebDataset .tar shards (KEY.png|jpg with KEY.cls|json)",
            in_place=True,
            suffixes=(".tar",),
        ),
        SourceFormat("imagefolder", "datagov.sources.imagefolder:write_imagefolder", "images, one subfolder per class"),
        SourceFormat(
            "idx",
            "datagov.sources.idx:write_idx",
            "MNIST-style IDX files (a folder of train-/t10k- pairs, gz or not, with --split; or one images file)",
        ),
        SourceFormat(
            "torchvision",
            "datagov.sources.builtin:write_torchvision",
            "torchvision:MNIST|FashionMNIST|CIFAR10",
            builtin="torchvision:",
        ),
        SourceFormat(
            "sklearn-digits",
            "datagov.sources.builtin:write_sklearn_digits",
            "scikit-learn's 8x8 digits",
            builtin="sklearn:",
        ),
    )
}
FORMATS = ("auto", *REGISTRY)
FORMAT_HELP = "auto (from the source), or " + "; ".join(f"{name}: {f.help}" for name, f in REGISTRY.items())
IN_PLACE_FORMATS = ("auto", *(name for name, f in REGISTRY.items() if f.in_place))
TORCHVISION_DATASETS = ("MNIST", "FashionMNIST", "CIFAR10")

_SUFFIXES = {suffix: f.name for f in REGISTRY.values() for suffix in f.suffixes}
BUILTIN_FORMATS = {f.name: f.builtin for f in REGISTRY.values() if f.builtin}  # format -> its scheme


@dataclass
class SourceResult:
    modality: str  # "tabular" | "image"
    label_column: str | None = None
    rejects: list[tuple[str, str]] = field(default_factory=list)  # (item, reason)
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class IngestOptions:
    label: str | None = None
    skip_bad: bool = False
    root: str | None = None  # torchvision: the local dataset root
    split: str = "train"  # torchvision: train | test
    download: bool = False
    workers: int | None = None
    show_progress: bool = True
    max_pixels: int = MAX_IMAGE_PIXELS  # images above this are bad input
    max_columns: int = MAX_COLUMNS  # wider tables are refused
    max_array_bytes: int = MAX_ARRAY_BYTES  # larger .npz members are refused before they are read
    max_line_bytes: int = MAX_CSV_LINE_BYTES  # a longer CSV line is refused


def _is_builtin(source: str, prefix: str) -> bool:
    return source.lower().startswith(prefix)


def detect_format(source: str) -> str:
    """Guess the format from the source: a scheme, a suffix or a folder's contents."""
    if source.lower() in ("sklearn-digits", "digits"):
        return "sklearn-digits"
    for builtin, scheme in BUILTIN_FORMATS.items():
        if _is_builtin(source, scheme):
            return builtin
    # a glob: store.shards.has_glob, without importing the store (DuckDB) at CLI start
    if source.startswith("s3://") or any(ch in source for ch in "*?["):
        return _shards_format(source)
    path = Path(source)
    if not path.exists():
        raise SourceError(f"source not found: {source}")
    if path.is_dir():
        files = [p for p in path.iterdir() if not p.name.startswith(".")]
        if _holds_idx(path):
            return "idx"
        for shards in ("parquet", "webdataset"):  # a folder of shards of one format
            if files and all(p.is_file() and p.suffix.lower() in REGISTRY[shards].suffixes for p in files):
                return shards
        return "imagefolder"
    if IDX_IMAGES in path.name:
        return "idx"
    by_suffix = _SUFFIXES.get(path.suffix.lower())
    if by_suffix is None:
        raise SourceError(
            f"cannot tell the format of {source} from its name",
            hint=f"pass --format, one of: {', '.join(FORMATS[1:])}",
        )
    return by_suffix


IDX_IMAGES = "-images-idx3-ubyte"  # how MNIST-style images files are named


def _holds_idx(folder: Path) -> bool:
    """MNIST-style IDX files in the folder, or in its `raw/` (torchvision's layout)."""
    for where in (folder, folder / "raw"):
        if where.is_dir() and any(IDX_IMAGES in p.name for p in where.iterdir()):
            return True
    return False


def _shards_format(source: str) -> str:
    """A glob or an s3:// source holds shards: Parquet or tar, by suffix."""
    for shards in ("webdataset", "parquet"):
        if source.rstrip("/").lower().endswith(REGISTRY[shards].suffixes):
            return shards
    if source.startswith("s3://") and "*" not in source:  # a prefix: is there anything to tell by?
        from datagov.store import s3

        if why := s3.explain_empty(s3.S3Url.parse(source)):
            raise SourceError(f"cannot read {source}: {why}")
    raise SourceError(
        f"cannot tell the format of the shards in {source}",
        hint="pass --format parquet or --format webdataset (or name the shards with a glob, e.g. .../*.tar)",
    )


def write_source(source: str, fmt: str, out: Path, opts: IngestOptions) -> SourceResult:
    """Read `source` as `fmt` and write Parquet parts into `out`."""
    if fmt not in FORMATS:
        raise SourceError(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    return REGISTRY[resolved_format(source, fmt)].read(source, out, opts)


def resolved_format(source: str, fmt: str) -> str:
    return detect_format(source) if fmt == "auto" else fmt
