"""Every pair of 64-bit hashes within a Hamming radius, without comparing
every pair: multi-index hashing (Norouzi, Punjani and Fleet, 2012).

Each hash is cut into four 16-bit chunks. Two hashes within distance r
differ in at most floor(r / 4) bits of at least one chunk (pigeonhole), so
probing, for each chunk, the buckets of every value within that distance of
the query's chunk finds every pair; the exact distance then filters the
candidates. Buckets are one counting sort per chunk (65,536 slots), so a
probe is two array reads; the loop over candidates is compiled
(`kernel.py`) and keeps only the pairs it finds, so memory does not grow
with the candidates when many hashes share a bucket.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

CHUNKS = 4
CHUNK_BITS = 16
MAX_RADIUS = 15  # probes grow as C(16, r // 4): 697 per chunk at 15
OUT_BLOCK = 1 << 21  # pairs the kernel writes per call (17 bytes each); a full block resumes in a fresh one


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
        orders, starts = [], []
        for k in range(CHUNKS):
            keys = _chunk(self.hashes, k)
            orders.append(np.argsort(keys, kind="stable"))
            starts.append(np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=1 << CHUNK_BITS))]))
        self.order = np.stack(orders)  # (CHUNKS, N): reference rows in bucket order, per chunk
        self.sorted = np.stack([self.hashes[o] for o in orders])  # their hashes, in the same order
        self.starts = np.stack(starts)  # (CHUNKS, 65537): where each bucket starts

    def search(self, queries: np.ndarray, radius: int) -> Pairs:
        """Every (reference, query) pair within `radius`, each pair once."""
        from datagov.near.kernel import scan

        if not 0 <= radius <= MAX_RADIUS:
            raise ValueError(f"radius {radius} is outside 0..{MAX_RADIUS}")
        queries = np.ascontiguousarray(queries, dtype=np.uint64)
        if len(queries) == 0 or len(self.hashes) == 0:
            return Pairs.empty()
        masks = _masks(radius // CHUNKS)
        query_order = np.stack([np.argsort(_chunk(queries, k), kind="stable") for k in range(CHUNKS)])
        parts, chunk, position = [], 0, 0
        capacity = int(np.clip(64 * len(queries), 1024, OUT_BLOCK))
        while chunk < CHUNKS:
            ref = np.empty(capacity, np.int64)
            query = np.empty(capacity, np.int64)
            distance = np.empty(capacity, np.uint8)
            args = (self.sorted, self.order, self.starts, masks, radius, radius // CHUNKS, chunk, position)
            found, chunk, position = scan(queries, query_order, *args, ref, query, distance)
            parts.append(Pairs(ref[:found], query[:found], distance[:found]))
            if not found and chunk < CHUNKS:
                capacity *= 2  # one query's pairs alone did not fit
        return Pairs.concat(parts)
