"""Every pair of 64-bit hashes within a Hamming radius, without comparing
every pair: multi-index hashing (Norouzi, Punjani and Fleet, 2012).

Each hash is cut into four 16-bit chunks. Two hashes within distance r
differ in at most floor(r / 4) bits of at least one chunk (pigeonhole), so
probing, for each chunk, the buckets of every value within that distance of
the query's chunk finds every pair; the exact distance then filters the
candidates. Buckets are one counting sort per chunk (65,536 slots), so a
probe is two array reads. Queries go in batches sized by their candidate
counts, so memory stays bounded when many hashes share a bucket.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

CHUNKS = 4
CHUNK_BITS = 16
MAX_RADIUS = 15  # probes grow as C(16, r // 4): 697 per chunk at 15
BATCH_CANDIDATES = 4_000_000  # candidate pairs held at once


@dataclass(frozen=True)
class Pairs:
    """Index pairs (into the reference and the query arrays) and their distance."""

    ref: np.ndarray
    query: np.ndarray
    distance: np.ndarray

    @classmethod
    def empty(cls) -> Pairs:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint8))

    @classmethod
    def concat(cls, parts: list[Pairs]) -> Pairs:
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("ref", "query", "distance")))

    def __len__(self) -> int:
        return len(self.ref)


def _masks(radius: int) -> np.ndarray:
    """Every 16-bit value with at most `radius` bits set."""
    out = [0]
    for k in range(1, radius + 1):
        out += [sum(1 << b for b in bits) for bits in itertools.combinations(range(CHUNK_BITS), k)]
    return np.array(out, dtype=np.int64)


def _chunk(values: np.ndarray, k: int) -> np.ndarray:
    return ((values >> np.uint64(CHUNK_BITS * k)) & np.uint64(0xFFFF)).astype(np.int64)


class HammingIndex:
    """Reference hashes bucketed by each 16-bit chunk."""

    def __init__(self, hashes: np.ndarray) -> None:
        self.hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
        self.order, self.starts, self.sorted = [], [], []
        for k in range(CHUNKS):
            keys = _chunk(self.hashes, k)
            order = np.argsort(keys, kind="stable")
            self.order.append(order)
            self.sorted.append(self.hashes[order])  # one gather per candidate instead of two
            self.starts.append(np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=1 << CHUNK_BITS))]))

    def search(self, queries: np.ndarray, radius: int) -> Pairs:
        """Every (reference, query) pair within `radius`, each pair once."""
        if not 0 <= radius <= MAX_RADIUS:
            raise ValueError(f"radius {radius} is outside 0..{MAX_RADIUS}")
        queries = np.ascontiguousarray(queries, dtype=np.uint64)
        if len(queries) == 0 or len(self.hashes) == 0:
            return Pairs.empty()
        masks = _masks(radius // CHUNKS)
        parts = [self._search_batch(queries, batch, radius, masks) for batch in self._batches(queries, masks)]
        return Pairs.concat(parts)

    def _batches(self, queries: np.ndarray, masks: np.ndarray) -> Iterator[np.ndarray]:
        """Query index ranges whose candidates per probe fit BATCH_CANDIDATES
        on average (a query over the budget on its own goes alone)."""
        counts = np.zeros(len(queries), np.int64)
        for k in range(CHUNKS):
            keys, starts = _chunk(queries, k), self.starts[k]
            for mask in masks:
                probe = keys ^ mask
                counts += starts[probe + 1] - starts[probe]
        ends = np.cumsum(counts)
        per_batch = BATCH_CANDIDATES * len(masks) * CHUNKS
        begin = 0
        while begin < len(queries):
            budget = (ends[begin - 1] if begin else 0) + per_batch
            end = max(int(np.searchsorted(ends, budget, side="right")), begin + 1)
            yield np.arange(begin, end)
            begin = end

    def _search_batch(self, queries: np.ndarray, batch: np.ndarray, radius: int, masks: np.ndarray) -> Pairs:
        found = []
        sub = queries[batch]
        probe_radius = radius // CHUNKS
        for k in range(CHUNKS):
            keys, starts, hashes = _chunk(sub, k), self.starts[k], self.sorted[k]
            for mask in masks:
                probe = keys ^ mask
                lo = starts[probe]
                counts = starts[probe + 1] - lo
                total = int(counts.sum())
                if total == 0:
                    continue
                ends = np.cumsum(counts)
                # positions lo..hi-1 of every probed bucket, in one pass
                position = np.arange(total) + np.repeat(lo - (ends - counts), counts)
                query = np.repeat(sub, counts)
                distance = np.bitwise_count(hashes[position] ^ query)
                keep = np.flatnonzero(distance <= radius)
                if not len(keep):
                    continue
                owner = np.searchsorted(ends, keep, side="right")  # which query each survivor belongs to
                close = np.ones(len(keep), bool)
                ref_hashes = hashes[position[keep]]
                for j in range(k):  # a pair close in an earlier chunk was found there already
                    close &= np.bitwise_count(_chunk(ref_hashes, j) ^ _chunk(sub[owner], j)) > probe_radius
                found.append((self.order[k][position[keep][close]], owner[close], distance[keep][close]))
        if not found:
            return Pairs.empty()
        ref, query, distance = (np.concatenate(x) for x in zip(*found, strict=True))
        return Pairs(ref, batch[query], distance.astype(np.uint8))
