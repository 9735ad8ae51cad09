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
    """The definition, pair by pair (`similarity_of_pairs` computes the same
    from each distinct thumbnail once, and is what the search uses).
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


def _unit_vectors(thumbs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each (aligned) thumbnail centred and scaled to unit length, and whether it is constant."""
    flat = thumbs.reshape(len(thumbs), -1).astype(np.float32)
    flat -= flat.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.einsum("ij,ij->i", flat, flat))
    constant = norms < 1e-3
    flat /= np.where(constant, 1.0, norms)[:, None]
    flat[constant] = 0.0
    return flat, constant


def _aligned(first, i, second, j, fa, fb) -> np.ndarray:
    """Centred cosine of every pair after aligning each side (`fa`, `fb`):
    each distinct thumbnail is aligned and normalised once, then a pair costs one dot product."""
    if len(i) == 0:
        return np.zeros(0)
    ui, inv_i = np.unique(i, return_inverse=True)
    uj, inv_j = np.unique(j, return_inverse=True)
    a, flat_a = _unit_vectors(fa(first[ui]))
    b, flat_b = _unit_vectors(fb(second[uj]))
    out = np.empty(len(i))
    _in_threads(a, inv_i, b, inv_j, out)
    both_flat = flat_a[inv_i] & flat_b[inv_j]  # constant images are alike only each other
    return np.where(both_flat, 1.0, out)


def _in_threads(a: np.ndarray, ia: np.ndarray, b: np.ndarray, ib: np.ndarray, out: np.ndarray) -> None:
    """`pair_dots` over slices of the pairs, one per core (the kernel releases the GIL)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from datagov.near.kernel import pair_dots

    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    parts = min(os.cpu_count() or 1, max(1, len(ia) // 50_000))
    bounds = np.linspace(0, len(ia), parts + 1).astype(int)
    if parts == 1:
        pair_dots(a, ia, b, ib, out)
        return
    with ThreadPoolExecutor(parts) as pool:
        list(pool.map(lambda k: pair_dots(a, ia[bounds[k]:bounds[k + 1]], b, ib[bounds[k]:bounds[k + 1]],
                                          out[bounds[k]:bounds[k + 1]]), range(parts)))  # fmt: skip


def _crop(box: tuple[slice, slice]):
    return lambda t: t[:, box[0], box[1]]


def _half(dy: int, dx: int):
    return lambda t: _half_shifted(t.astype(np.float32), dy, dx)[0]


def _alignments(unit: int):
    """(align first, align second) for every shift `similarity` tries at this step."""
    for dy, dx in SHIFTS:
        if unit == 0:
            yield _crop(_half_overlap(dy, dx)), _half(dy, dx)  # the second moved half a pixel
            yield _half(dy, dx), _crop(_half_overlap(dy, dx))  # the first moved half a pixel
        else:
            sa, sb = _overlap(dy * unit, dx * unit)
            yield _crop(sa), _crop(sb)


def similarity_of_pairs(first: np.ndarray, i: np.ndarray, second: np.ndarray, j: np.ndarray,
                        step: np.ndarray) -> np.ndarray:  # fmt: skip
    """`similarity(first[i], second[j], step)`, computed from each distinct
    thumbnail once: the search's candidate pairs share their thumbnails (an
    erasure's few examples against a whole corpus; a dedup's rows against
    their many neighbours)."""
    whole = _crop((slice(None), slice(None)))
    best = _aligned(first, i, second, j, whole, whole)
    for unit in np.unique(step):
        rows = np.flatnonzero(step == unit)
        for fa, fb in _alignments(int(unit)):
            best[rows] = np.maximum(best[rows], _aligned(first, i[rows], second, j[rows], fa, fb))
    return best
