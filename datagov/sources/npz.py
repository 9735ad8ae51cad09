"""NumPy `.npz` archives.

One array shaped (N, H, W) or (N, H, W, C) makes an image dataset, labelled
by `--label NAME` or an array called y / label(s) / target(s). Otherwise every
array becomes columns: 1-D arrays one column each, (N, K) arrays K columns
named `NAME_0 .. NAME_{K-1}`.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from datagov.errors import SourceError
from datagov.sources import IngestOptions, SourceResult
from datagov.sources.arrays import write_image_arrays

LABEL_NAMES = ("y", "label", "labels", "target", "targets")
ROW_GROUP = 122_880


def _load(source: str, max_bytes: int) -> dict[str, np.ndarray]:
    try:
        _check_sizes(source, max_bytes)
        with np.load(source, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise SourceError(f"source not found: {source}") from None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise SourceError(f"cannot read npz source {source}: {exc}") from exc


def _check_sizes(source: str, max_bytes: int) -> None:
    """Refuse a member whose header declares more than `max_bytes` before
    anything is allocated: 8 MB of zeros compress from 8 GiB."""
    from numpy.lib import format as npy

    total = 0
    with zipfile.ZipFile(source) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as member:
                major, _minor = npy.read_magic(member)
                read_header = npy.read_array_header_1_0 if major == 1 else npy.read_array_header_2_0
                shape, _order, dtype = read_header(member)
            size = math.prod(shape) * dtype.itemsize
            total += size
            if total > max_bytes:
                name = info.filename.removesuffix(".npy")
                raise SourceError(
                    f"array {name!r} of {source} is {_gib(size)} uncompressed ({'x'.join(map(str, shape))} "
                    f"{dtype}), over the limit of {_gib(max_bytes)} for the archive",
                    hint="raise [ingest] max_array_bytes in datagov.toml if the machine has the memory",
                )


def _gib(n: int) -> str:
    return f"{n / 1024**3:,.2f} GiB" if n >= 1024**3 else f"{n:,} bytes"


def write_npz(source: str, out: Path, opts: IngestOptions) -> SourceResult:
    arrays = _load(source, opts.max_array_bytes)
    if not arrays:
        raise SourceError(f"source is empty: {source} holds no arrays")
    lengths = {name: a.shape[0] if a.ndim else None for name, a in arrays.items()}
    if None in lengths.values() or len(set(lengths.values())) != 1:
        raise SourceError(f"arrays in {source} must share their first dimension; got {lengths}")
    if opts.label and opts.label not in arrays:
        raise SourceError(f"label array {opts.label!r} is not in {source}; arrays: {', '.join(arrays)}")
    image_arrays = [n for n, a in arrays.items() if a.ndim >= 3]
    if len(image_arrays) > 1:
        raise SourceError(f"{source} holds several image-shaped arrays ({', '.join(image_arrays)}); keep one")
    if image_arrays:
        label = opts.label or next((n for n in LABEL_NAMES if n in arrays), None)
        return write_image_arrays(
            arrays[image_arrays[0]],
            arrays[label] if label else None,
            out,
            opts,
            source=source,
            prefix=image_arrays[0],
            details={"array": image_arrays[0]},
        )
    columns: dict[str, np.ndarray] = {}
    for name, array in arrays.items():
        if array.ndim == 1:
            columns[name] = array
        else:
            for k in range(array.shape[1]):
                columns[f"{name}_{k}"] = array[:, k]
    if next(iter(lengths.values())) == 0:
        raise SourceError(f"source is empty: {source} has zero rows")
    table = pa.table(columns)
    pq.write_table(table, out / "part-00000.parquet", compression="zstd", row_group_size=ROW_GROUP)
    return SourceResult(modality="tabular", label_column=opts.label, details={"columns": len(columns)})
