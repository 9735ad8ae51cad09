"""How alike two thumbnails are: the centred cosine (Pearson correlation) of
their pixels, the best over the unshifted pair and the pair moved one source
pixel along each axis (compared where they overlap; for images of 32 px and
more a source pixel is half a thumbnail pixel, matched by interpolation).

Centring makes it blind to brightness and contrast changes (a +10 % image is
the same image); the shifts make it blind to a crop or pad of a pixel; what
is left are changes to the content itself, which is what a near-duplicate
does not have.
"""

from __future__ import annotations

import numpy as np

from datagov.pixels.fingerprints import SHIFTS, THUMB

PAIR_BATCH = 65_536


def _overlap(dy: int, dx: int) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """Slices of the first and second thumbnail that line up when the second
    is moved by (dy, dx)."""

    def axis(d: int) -> tuple[slice, slice]:
        return (slice(d, THUMB), slice(0, THUMB - d)) if d >= 0 else (slice(0, THUMB + d), slice(-d, THUMB))

    (ay, by), (ax, bx) = axis(dy), axis(dx)
    return (ay, ax), (by, bx)


def _centred_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1)
    b = b.reshape(len(b), -1)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    norms = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    dot = (a * b).sum(axis=1)
    flat = norms == 0  # a constant image: alike only another constant image
    same_flat = flat & ((a * a).sum(axis=1) == 0) & ((b * b).sum(axis=1) == 0)
    out = np.where(flat, 0.0, dot / np.where(flat, 1.0, norms))
    return np.where(same_flat, 1.0, out)


def _half_overlap(dy: int, dx: int) -> tuple[slice, slice]:
    """The slices of a thumbnail that line up with the other moved half a pixel along (dy, dx)."""
    if dx:
        return slice(None), slice(1, None) if dx > 0 else slice(0, -1)
    return slice(1, None) if dy > 0 else slice(0, -1), slice(None)


def _half_shifted(b: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, tuple[slice, slice]]:
    """`b` moved half a pixel along (dy, dx) (the mean of neighbours), and
    the slices of the other thumbnail it lines up with."""
    moved = 0.5 * (b[:, :, 1:] + b[:, :, :-1]) if dx else 0.5 * (b[:, 1:, :] + b[:, :-1, :])
    return moved, _half_overlap(dy, dx)


def similarity(first: np.ndarray, second: np.ndarray, step: np.ndarray) -> np.ndarray:
    """The definition, pair by pair, in float arrays (`similarity_of_pairs`
    computes the same with a compiled kernel, and is what the search uses).
    Per pair, for (P, 16, 16) thumbnails: the best centred cosine over the
    pair as it is and the second moved one source pixel along each axis:
    `step` thumbnail pixels, or half of one where `step` is 0 (images of
    32 px and more, whose source pixel is half a thumbnail pixel or less)."""
    out = np.full(len(first), -1.0)
    for start in range(0, len(first), PAIR_BATCH):
        part = slice(start, start + PAIR_BATCH)
        a, b, s = first[part].astype(np.float32), second[part].astype(np.float32), step[part]
        best = _centred_cosine(a, b)
        for unit in np.unique(s):
            rows = np.flatnonzero(s == unit)
            ra, rb = a[rows], b[rows]
            for dy, dx in SHIFTS:
                if unit == 0:  # either side may be the moved one: interpolate each
                    moved, sa = _half_shifted(rb, dy, dx)
                    score = _centred_cosine(ra[:, sa[0], sa[1]], moved)
                    moved, sb = _half_shifted(ra, dy, dx)
                    score = np.maximum(score, _centred_cosine(moved, rb[:, sb[0], sb[1]]))
                else:
                    sa, sb = _overlap(dy * int(unit), dx * int(unit))
                    score = _centred_cosine(ra[:, sa[0], sa[1]], rb[:, sb[0], sb[1]])
                best[rows] = np.maximum(best[rows], score)
        out[part] = best
    return out


def similarity_of_pairs(first: np.ndarray, i: np.ndarray, second: np.ndarray, j: np.ndarray,
                        step: np.ndarray) -> np.ndarray:  # fmt: skip
    """`similarity(first[i], second[j], step)` for many candidate pairs, each
    from integer sums over the pair's own uint8 thumbnails (no float copy of a
    thumbnail, no row copied per pair), the pairs split across the cores
    (the kernel releases the GIL)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from datagov.near.kernel import pair_similarity

    out = np.empty(len(i))
    if not len(i):
        return out
    a, b = np.ascontiguousarray(first, np.uint8), np.ascontiguousarray(second, np.uint8)
    i, j, step = (np.ascontiguousarray(v, np.int64) for v in (i, j, step))
    shifts = np.array(SHIFTS, np.int64)
    parts = min(os.cpu_count() or 1, max(1, len(i) // 20_000))
    bounds = np.linspace(0, len(i), parts + 1).astype(int)

    def run(k: int) -> None:
        part = slice(bounds[k], bounds[k + 1])
        pair_similarity(a, i[part], b, j[part], step[part], shifts, out[part])

    with ThreadPoolExecutor(parts) as pool:
        list(pool.map(run, range(parts)))
    return out
