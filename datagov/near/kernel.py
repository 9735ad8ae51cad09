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
def scan(queries, query_order, hashes, order, starts, masks, radius, probe_radius, out_ref, out_query, out_distance):
    """Pairs within `radius`, each once (a pair close in an earlier chunk
    was found there); writes at most len(out_ref) and returns how many there are.

    Chunk by chunk, queries go in the order of their key in that chunk
    (`query_order`), so neighbouring queries probe neighbouring buckets and
    find them in cache."""
    found = 0
    capacity = len(out_ref)
    low = np.uint64(0xFFFF)
    for k in range(hashes.shape[0]):
        shift = np.uint64(16 * k)
        for i in range(len(queries)):
            q = query_order[k, i]
            h = queries[q]
            key = np.int64((h >> shift) & low)
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
                    if found < capacity:
                        out_ref[found] = order[k, pos]
                        out_query[found] = q
                        out_distance[found] = d
                    found += 1
    return found


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


@njit(cache=True, nogil=True)
def pair_dots(a, ia, b, ib, out):
    """out[p] = a[ia[p]] . b[ib[p]]: the similarity of many candidate pairs
    of a few thousand distinct thumbnails, without copying a row per pair."""
    width = a.shape[1]
    for p in range(len(ia)):
        x, y = a[ia[p]], b[ib[p]]
        total = 0.0
        for k in range(width):
            total += x[k] * y[k]
        out[p] = total
