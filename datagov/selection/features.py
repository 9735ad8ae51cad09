"""What importance resampling compares rows by.

Images: n-grams of each row's stored 16x16 thumbnail (the one the
near-duplicate search uses), reduced to 8x8 and 4 gray levels: which level
each cell has, and which pair of levels each horizontally and vertically
adjacent pair of cells has. A bag of 176 features per image over 2,048
possible ones (DSIR's hashed n-grams, on pixels).

Tables: one feature per column per row: a numeric value's bin among 16
quantile bins of the pool, any other value hashed into 4,096 buckets per
column.

With an encoder: its embedding of every image (see importance.py).
"""

from __future__ import annotations

import zlib

import numpy as np

GRID = 8
LEVELS = 4
CELLS = GRID * GRID
PAIRS = GRID * (GRID - 1)
IMAGE_FEATURES = CELLS * LEVELS + 2 * PAIRS * LEVELS * LEVELS  # 2,048
NUMERIC_BINS = 16
HASH_BUCKETS = 4096


def image_ngrams(thumbs: np.ndarray) -> np.ndarray:
    """(N, 176) feature ids (int16) of (N, 16, 16) uint8 thumbnails."""
    n = len(thumbs)
    small = thumbs.reshape(n, GRID, 2, GRID, 2).astype(np.float32).mean(axis=(2, 4))
    level = np.minimum(small // (256 // LEVELS), LEVELS - 1).astype(np.int64)
    cells = np.arange(CELLS).reshape(GRID, GRID)
    unigram = cells * LEVELS + level
    pair_ids = np.arange(PAIRS).reshape(GRID, GRID - 1) * LEVELS * LEVELS
    across = CELLS * LEVELS + pair_ids + level[:, :, :-1] * LEVELS + level[:, :, 1:]
    down = CELLS * LEVELS + PAIRS * LEVELS * LEVELS + pair_ids + level[:, :-1, :].transpose(0, 2, 1) * LEVELS
    down = down + level[:, 1:, :].transpose(0, 2, 1)
    ids = np.concatenate([unigram.reshape(n, -1), across.reshape(n, -1), down.reshape(n, -1)], axis=1)
    return ids.astype(np.int16)  # < 2,048: 352 bytes a row, not 1,408


def table_features(pool_columns: list, target_columns: list, numeric: list[bool]) -> tuple[np.ndarray, np.ndarray, int]:
    """(pool ids, target ids, feature space size) for aligned lists of
    pyarrow columns; column j's features live in [j * B, (j + 1) * B)."""
    width = max(NUMERIC_BINS + 1, HASH_BUCKETS)
    pool_ids, target_ids = [], []
    for j, (p, t, is_number) in enumerate(zip(pool_columns, target_columns, numeric, strict=True)):
        if is_number:
            edges = _quantile_edges(_floats(p))
            pool_ids.append(j * width + _bins(_floats(p), edges))
            target_ids.append(j * width + _bins(_floats(t), edges))
        else:
            pool_ids.append(j * width + _hashed(p))
            target_ids.append(j * width + _hashed(t))
    return np.stack(pool_ids, axis=1), np.stack(target_ids, axis=1), width * len(numeric)


def _floats(column) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _quantile_edges(values: np.ndarray) -> np.ndarray:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return np.zeros(0)
    return np.unique(np.quantile(finite, np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1]))


def _bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin 1..NUMERIC_BINS by the edges; 0 for a missing value."""
    out = np.searchsorted(edges, values, side="right") + 1
    return np.where(np.isfinite(values), out, 0).astype(np.int64)


def _hashed(column) -> np.ndarray:
    """A stable hash bucket of each value's text (nulls share one bucket)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    encoded = pc.dictionary_encode(array)
    buckets = np.array(
        [zlib.crc32(str(v).encode()) % (HASH_BUCKETS - 1) + 1 for v in encoded.dictionary.to_pylist()] or [0],
        dtype=np.int64,
    )
    codes = encoded.indices
    index = np.asarray(codes.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return np.where(index >= 0, buckets[np.maximum(index, 0)], 0)
