"""The inner loop of the multi-index search, compiled with numba: for each
query, each chunk and each probe value, compare the query with every
reference hash in the probed bucket. In numpy this loop is a dozen passes
over arrays of candidates; compiled, it is one pass that allocates nothing
but the pairs it keeps. Compiled once per machine (numba's cache beside
this file; without a writable cache, once per process)."""

from __future__ import annotations

import numpy as np
from numba import njit

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@njit(cache=True, nogil=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return (x * _H01) >> np.uint64(56)


@njit(cache=True, nogil=True)
def scan(queries, query_order, hashes, order, starts, masks, radius, probe_radius, from_chunk, from_query,
         out_ref, out_query, out_distance):  # fmt: skip
    """Pairs within `radius`, each once (a pair close in an earlier chunk
    was found there), from query position `from_query` of chunk `from_chunk`
    on. Returns (pairs written, chunk, position) where it stopped: the end
    (the number of chunks, 0), or the first query whose pairs did not fit,
    none of which are kept, so a call with fresh output resumes there.

    Chunk by chunk, queries go in the order of their key in that chunk
    (`query_order`), so neighbouring queries probe neighbouring buckets and
    find them in cache."""
    found = 0
    capacity = len(out_ref)
    low = np.uint64(0xFFFF)
    for k in range(from_chunk, hashes.shape[0]):
        shift = np.uint64(16 * k)
        for i in range(from_query if k == from_chunk else 0, len(queries)):
            q = query_order[k, i]
            h = queries[q]
            key = np.int64((h >> shift) & low)
            before = found
            for m in range(len(masks)):
                probe = key ^ masks[m]
                for pos in range(starts[k, probe], starts[k, probe + 1]):
                    x = hashes[k, pos] ^ h
                    d = _popcount(x)
                    if d > radius:
                        continue
                    seen = False
                    for j in range(k):
                        if _popcount((x >> np.uint64(16 * j)) & low) <= probe_radius:
                            seen = True
                            break
                    if seen:
                        continue
                    if found == capacity:
                        return before, k, i
                    out_ref[found] = order[k, pos]
                    out_query[found] = q
                    out_distance[found] = d
                    found += 1
    return found, hashes.shape[0], 0


@njit(cache=True, nogil=True)
def row_keys(words, seeds):
    """Two 64-bit keys per row of uint64 words (multiply-xorshift mixing,
    seeded per call so no input can aim for a collision)."""
    n, width = words.shape
    out = np.empty((2, n), np.uint64)
    for s in range(2):
        seed = seeds[s]
        for i in range(n):
            h = seed
            for j in range(width):
                h = (h ^ words[i, j]) * np.uint64(0x9E3779B97F4A7C15)
                h ^= h >> np.uint64(29)
            out[s, i] = h
    return out


@njit(cache=True, nogil=True)
def rows_equal_to(words, first, group):
    """Whether every row equals the first row of its group, word for word."""
    for i in range(words.shape[0]):
        f = first[group[i]]
        if f != i:
            for j in range(words.shape[1]):
                if words[i, j] != words[f, j]:
                    return False
    return True


@njit(cache=True, nogil=True, inline="always")
def _cosine(n, sx, sy, sxx, syy, sxy):
    """Centred cosine from integer sums (times n, so exact until the division);
    a constant side is alike only another constant side."""
    vx, vy = n * sxx - sx * sx, n * syy - sy * sy
    if vx == 0 or vy == 0:
        return 1.0 if vx == 0 and vy == 0 else 0.0
    return (n * sxy - sx * sy) / np.sqrt(np.float64(vx) * np.float64(vy))


@njit(cache=True, nogil=True, inline="always")
def _window_cosine(x, y, ay, ax, by, bx, h, w, half_y, half_x):
    """Centred cosine of x's h-by-w window at (ay, ax) and y's at (by, bx);
    with a half step (half_y, half_x), y's pixel is summed with its neighbour
    that far on (twice their mean: the cosine is blind to scale)."""
    half = half_y or half_x
    sx = sy = sxx = syy = sxy = 0
    for r in range(h):
        for c in range(w):
            u, v = np.int64(x[ay + r, ax + c]), np.int64(y[by + r, bx + c])
            if half:
                v += np.int64(y[by + r + half_y, bx + c + half_x])
            sx += u
            sy += v
            sxx += u * u
            syy += v * v
            sxy += u * v
    return _cosine(h * w, sx, sy, sxx, syy, sxy)


@njit(cache=True, nogil=True, inline="always")
def _crop_cosine(x, y, dy, dx):
    """x and y (uint8 squares) where they overlap with y moved by (dy, dx)."""
    side = x.shape[0]
    return _window_cosine(x, y, max(dy, 0), max(dx, 0), max(-dy, 0), max(-dx, 0), side - abs(dy), side - abs(dx),
                          0, 0)  # fmt: skip


@njit(cache=True, nogil=True, inline="always")
def _half_cosine(x, y, dy, dx):
    """x cropped against y moved half a pixel along the unit step (dy, dx)."""
    side = x.shape[0]
    ay, ax = (1 if dy > 0 else 0), (1 if dx > 0 else 0)
    return _window_cosine(x, y, ay, ax, 0, 0, side - abs(dy), side - abs(dx), abs(dy), abs(dx))


@njit(cache=True, nogil=True)
def pair_similarity(a, ia, b, ib, step, shifts, out):
    """out[p] = similarity(a[ia[p]], b[ib[p]], step[p]) (see near/similarity.py):
    the best centred cosine over the pair as it is and moved along each of
    `shifts`, by `step` pixels or, at step 0, by half of one either way.
    Integer sums per pair: no float copy of any thumbnail."""
    for p in range(len(ia)):
        x, y, unit = a[ia[p]], b[ib[p]], step[p]
        best = _crop_cosine(x, y, 0, 0)
        for k in range(shifts.shape[0]):
            dy, dx = shifts[k, 0], shifts[k, 1]
            if unit == 0:
                best = max(best, _half_cosine(x, y, dy, dx), _half_cosine(y, x, dy, dx))
            else:
                best = max(best, _crop_cosine(x, y, dy * unit, dx * unit))
        out[p] = best
