"""Perceptual fingerprints of an image: a 16x16 gray thumbnail and two 64-bit
hashes of it (pHash: signs of the low DCT frequencies against their median;
dHash: signs of horizontal gradients of a 9x8 reduction).

The thumbnail is computed per image from the decoded pixels (numpy only: the
module runs in ingest workers and imports nothing heavy); the hashes are
computed for many thumbnails at once, where two batched matrix products
replace thousands of small ones. Both hashes are functions of the thumbnail
alone, so a version's hashes can be recomputed from its stored thumbnails,
and a thumbnail shifted by a pixel hashes the way the shifted image would.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

THUMB = 16  # thumbnail side, pixels
THUMB_BYTES = THUMB * THUMB
HASH_BYTES = 8
# ITU-R 601-2 luma, as Pillow's convert("L") uses
_LUMA = np.array([0.299, 0.587, 0.114])


def _area_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Rows average the input cells each output cell covers (box filter);
    for n_out > n_in each output cell takes the input cell under it."""
    edges_out = np.arange(n_out + 1) * (n_in / n_out)
    lo, hi = edges_out[:-1, None], edges_out[1:, None]
    cells = np.arange(n_in)[None, :]
    weights = np.clip(np.minimum(hi, cells + 1) - np.maximum(lo, cells), 0.0, None)
    return weights / weights.sum(axis=1, keepdims=True)


@functools.lru_cache(maxsize=64)
def _resize_matrices(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    return _area_matrix(THUMB, height), _area_matrix(THUMB, width).T.copy()


def _dct_basis(n_out: int, n_in: int) -> np.ndarray:
    """The first n_out rows of the orthonormal DCT-II matrix of size n_in."""
    k, x = np.arange(n_out)[:, None], np.arange(n_in)[None, :]
    basis = np.cos(np.pi * (2 * x + 1) * k / (2 * n_in)) * np.sqrt(2.0 / n_in)
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


_DCT = _dct_basis(8, THUMB)
_ROWS8 = _area_matrix(8, THUMB).astype(np.float32)
_COLS9 = _area_matrix(9, THUMB).T.astype(np.float32).copy()


def thumbnail(pixels: np.ndarray) -> bytes:
    """16x16 uint8 gray thumbnail (box filter) of HxW or HxWxC uint8 pixels."""
    if pixels.ndim == 2:
        gray = pixels.astype(np.float32)
    elif pixels.shape[2] >= 3:
        gray = pixels[:, :, :3] @ _LUMA.astype(np.float32)
    else:  # L or LA
        gray = pixels[:, :, 0].astype(np.float32)
    rows, cols = _resize_matrices(gray.shape[0], gray.shape[1])
    small = rows.astype(np.float32) @ gray @ cols.astype(np.float32)
    return np.rint(small).clip(0, 255).astype(np.uint8).tobytes()


def thumbs_array(thumbs: Sequence[bytes] | np.ndarray) -> np.ndarray:
    """(N, 16, 16) float32 from stored thumbnails."""
    if isinstance(thumbs, np.ndarray):
        return thumbs.reshape(-1, THUMB, THUMB).astype(np.float32)
    joined = b"".join(thumbs)
    if len(joined) != len(thumbs) * THUMB_BYTES:
        raise ValueError(f"thumbnails must be {THUMB_BYTES} bytes each")
    return np.frombuffer(joined, np.uint8).reshape(-1, THUMB, THUMB).astype(np.float32)


def hash_thumbs(thumbs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(phash, dhash) as uint64 arrays, bit i of the hash being bit i of the
    packed big-endian 8 bytes, for (N, 16, 16) float32 thumbnails."""
    n = len(thumbs)
    if n == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    low = np.matmul(np.matmul(_DCT, thumbs), _DCT.T).reshape(n, 64)
    median = np.partition(low, 31, axis=1)[:, 31:32]  # the lower median: 32 of 64 bits are set, or fewer on ties
    reduced = np.matmul(np.matmul(_ROWS8, thumbs), _COLS9)  # (N, 8, 9)
    gradient = (reduced[:, :, 1:] > reduced[:, :, :-1]).reshape(n, 64)
    return _pack(low > median), _pack(gradient)


def _pack(bits: np.ndarray) -> np.ndarray:
    return np.packbits(bits, axis=1).view(">u8").reshape(-1).astype(np.uint64)


def hash_bytes(values: np.ndarray) -> list[bytes]:
    """uint64 hashes as the 8-byte big-endian values stored in Parquet."""
    raw = values.astype(">u8").tobytes()
    return [raw[i : i + HASH_BYTES] for i in range(0, len(raw), HASH_BYTES)]


def hashes_of_bytes(values: Sequence[bytes]) -> np.ndarray:
    joined = b"".join(values)
    if len(joined) != len(values) * HASH_BYTES:
        raise ValueError(f"hashes must be {HASH_BYTES} bytes each")
    return np.frombuffer(joined, ">u8").astype(np.uint64)


def hash_columns(thumbs: Sequence[bytes]) -> tuple[list[bytes], list[bytes]]:
    """The stored `phash` and `dhash` columns for these thumbnails."""
    phash, dhash = hash_thumbs(thumbs_array(thumbs))
    return hash_bytes(phash), hash_bytes(dhash)


def shift_step(height: np.ndarray, width: np.ndarray) -> np.ndarray:
    """One source pixel, in thumbnail pixels, rounded half down: 0 from 32 px
    up (half a thumbnail pixel or less, which the box filter absorbs)."""
    smaller = np.maximum(np.minimum(height, width), 1)
    return np.ceil(THUMB / smaller - 0.5).astype(np.int64).clip(0, 4)


SHIFTS = ((0, 1), (0, -1), (1, 0), (-1, 0))  # unit shifts (dy, dx): right, left, down, up


def shifted(thumbs: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Thumbnails moved by (dy, dx) pixels, the uncovered edge repeated."""
    pad = max(abs(dy), abs(dx))
    if pad == 0:
        return thumbs
    padded = np.pad(thumbs, ((0, 0), (pad, pad), (pad, pad)), mode="edge")
    return padded[:, pad - dy : pad - dy + THUMB, pad - dx : pad - dx + THUMB]
