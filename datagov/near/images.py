"""Near-duplicate images: candidates by Hamming distance between perceptual
hashes (multi-index search), confirmed by thumbnail correlation.

Rows with byte-identical thumbnails are searched once (their hashes and
similarities are the same), so a version full of copies of one image costs
no more than one image, and the answer lists one pair per target row and
matching reference thumbnail rather than every copy of it.

Small images (under ~24 px) are also searched shifted by one source pixel
along each axis: at 8x8 a one-pixel shift moves a twelfth of the image and
changes half of a perceptual hash's bits. Larger images need no such probe;
their thumbnails barely move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datagov.errors import InvalidInput
from datagov.near.index import MAX_RADIUS, HammingIndex, Pairs
from datagov.near.similarity import similarity_of_pairs
from datagov.pixels.fingerprints import SHIFTS, THUMB, hash_thumbs, shift_step, shifted

HASHES = ("phash", "dhash")
MAX_PAIRS_PER_ROW = 8  # the best this many matches per target row are kept


@dataclass(frozen=True)
class ImageMethod:
    """How image pairs are found; the defaults are the ones the planted test
    in tests/near/test_planted.py measures (recall and precision >= 0.95)."""

    radius: int = 10
    min_similarity: float = 0.975
    hashes: tuple[str, ...] = ("phash",)
    encoder: str | None = None
    min_cosine: float = 0.9

    def check(self) -> ImageMethod:
        if not 0 <= self.radius <= MAX_RADIUS:
            raise InvalidInput(f"--radius {self.radius} is out of range: use 0 to {MAX_RADIUS} bits of 64")
        if not -1.0 <= self.min_similarity <= 1.0:
            raise InvalidInput(f"--min-similarity {self.min_similarity} is out of range: use -1 to 1")
        if not -1.0 <= self.min_cosine <= 1.0:
            raise InvalidInput(f"--min-cosine {self.min_cosine} is out of range: use -1 to 1")
        if not self.hashes or any(h not in HASHES for h in self.hashes):
            raise InvalidInput(f"--hashes {','.join(self.hashes)}: choose from {', '.join(HASHES)}")
        return self

    def settings(self) -> dict:
        """What a receipt is bound to (with the decision threshold)."""
        out = {
            "method": "image",
            "hashes": list(self.hashes),
            "radius": self.radius,
            "min_similarity": self.min_similarity,
        }
        if self.encoder:
            out |= {"encoder": self.encoder, "min_cosine": self.min_cosine}
        return out


@dataclass
class ImageRows:
    """What the search reads of one version, in row order."""

    phash: np.ndarray  # uint64
    dhash: np.ndarray
    thumbs: np.ndarray  # (N, 16, 16) uint8
    height: np.ndarray
    width: np.ndarray

    def __len__(self) -> int:
        return len(self.phash)

    def hashes(self, name: str) -> np.ndarray:
        return self.phash if name == "phash" else self.dhash


@dataclass
class Matches:
    """Confirmed pairs: row indices into the reference and the target."""

    ref: np.ndarray
    target: np.ndarray
    distance: np.ndarray  # smallest Hamming distance over the hashes used
    similarity: np.ndarray
    cosine: np.ndarray | None = None  # encoder embeddings, when asked for

    def __len__(self) -> int:
        return len(self.ref)

    def take(self, keep: np.ndarray) -> Matches:
        cos = self.cosine[keep] if self.cosine is not None else None
        return Matches(self.ref[keep], self.target[keep], self.distance[keep], self.similarity[keep], cos)


def distinct_thumbs(rows: ImageRows) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each distinct thumbnail, group of every row). Rows are
    grouped by a random 128-bit hash of the thumbnail, then checked byte for
    byte against their group's first row; any collision falls back to sorting
    the thumbnails themselves."""
    from datagov.near.kernel import row_keys, rows_equal_to

    flat = np.ascontiguousarray(rows.thumbs.reshape(len(rows), THUMB * THUMB))
    words = flat.view(np.uint64)  # 32 words per thumbnail
    k0, k1 = row_keys(words, np.random.default_rng().integers(1, 2**63, 2, dtype=np.uint64))
    first, group = _groups(k0, k1)
    if not rows_equal_to(words, first, group):
        _, first, group = np.unique(
            flat.view(np.dtype((np.void, THUMB * THUMB))).ravel(), return_index=True, return_inverse=True
        )
    return _in_row_order(first, group.reshape(-1))


def _in_row_order(first: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Groups renumbered so that their first rows ascend (all distinct: the identity)."""
    perm = np.argsort(first, kind="stable")
    rank = np.empty(len(first), np.int64)
    rank[perm] = np.arange(len(first))
    return first[perm], rank[group]


def _groups(k0: np.ndarray, k1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each distinct (k0, k1), group of every row)."""
    order = np.lexsort((k1, k0))  # stable: equal keys keep their row order
    a, b = k0[order], k1[order]
    starts = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])] if len(order) else np.zeros(0, bool)
    group = np.empty(len(order), np.int64)
    group[order] = np.cumsum(starts) - 1
    return order[starts], group


def _queries(rows: ImageRows, name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(row indices, hashes) to search with: every row as it is, and small
    images moved one source pixel each way."""
    out = [(np.arange(len(rows)), rows.hashes(name))]
    steps = shift_step(rows.height, rows.width)
    for step in np.unique(steps[steps > 0]):
        members = np.flatnonzero(steps == step)
        thumbs = rows.thumbs[members].astype(np.float32)
        for dy, dx in SHIFTS:
            phash, dhash = hash_thumbs(np.ascontiguousarray(shifted(thumbs, dy * int(step), dx * int(step))))
            out.append((members, phash if name == "phash" else dhash))
    return out


def candidates(ref: ImageRows, target: ImageRows, method: ImageMethod) -> Pairs:
    """Every (reference, target) row pair within the radius in any hash used,
    once, with the smallest distance found."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    parts = []
    for name in method.hashes:
        index = HammingIndex(ref.hashes(name))
        probes = _queries(target, name)
        # the search kernel releases the GIL: the shifted probes run side by side
        with ThreadPoolExecutor(min(len(probes), os.cpu_count() or 1)) as pool:
            found = list(pool.map(index.search, [hashes for _, hashes in probes], [method.radius] * len(probes)))
        parts += [Pairs(f.ref, members[f.query], f.distance) for (members, _), f in zip(probes, found, strict=True)]
    pairs = Pairs.concat(parts)
    if not len(pairs):
        return pairs
    key = pairs.ref * len(target) + pairs.query
    order = np.lexsort((pairs.distance, key))
    key, first = key[order], np.ones(len(order), bool)
    first[1:] = key[1:] != key[:-1]
    chosen = order[first]
    return Pairs(pairs.ref[chosen], pairs.query[chosen], pairs.distance[chosen])


def confirm(ref: ImageRows, target: ImageRows, pairs: Pairs, method: ImageMethod) -> Matches:
    steps = np.maximum(
        shift_step(ref.height[pairs.ref], ref.width[pairs.ref]),
        shift_step(target.height[pairs.query], target.width[pairs.query]),
    )
    sim = similarity_of_pairs(ref.thumbs, pairs.ref, target.thumbs, pairs.query, steps)
    matches = Matches(pairs.ref, pairs.query, pairs.distance, sim)
    return matches.take(sim >= method.min_similarity)


def best_per_target(matches: Matches, limit: int = MAX_PAIRS_PER_ROW) -> Matches:
    """At most `limit` matches per target row, the most similar first."""
    order = np.lexsort((-matches.similarity, matches.target))
    rank = _ranges(np.bincount(matches.target)[np.unique(matches.target)])  # place within each target's run
    return matches.take(order[rank < limit])


def match_images(ref: ImageRows, target: ImageRows, method: ImageMethod) -> Matches:
    """Near-duplicates of reference rows among the target rows (two versions)."""
    ref_first, _ = distinct_thumbs(ref)
    target_first, target_group = distinct_thumbs(target)
    sub_ref, sub_target = _subset(ref, ref_first), _subset(target, target_first)
    found = confirm(sub_ref, sub_target, candidates(sub_ref, sub_target, method), method)
    # every target row shares its thumbnail's matches
    by_group = np.argsort(found.target, kind="stable")
    counts = np.bincount(found.target, minlength=len(target_first))
    starts = np.r_[0, np.cumsum(counts)]
    rows = np.arange(len(target))
    n = counts[target_group]
    pick = by_group[np.repeat(starts[target_group], n) + _ranges(n)]
    expanded = Matches(ref_first[found.ref[pick]], np.repeat(rows, n), found.distance[pick], found.similarity[pick])
    return best_per_target(expanded)


def match_examples(rows: ImageRows, examples: ImageRows, method: ImageMethod) -> Matches:
    """Every row of a version like one of a few example images (an erasure's
    `--like`): the version's rows are indexed once and each example, shifted
    too when small, probes it. Unlike `match_images` no match is dropped (no
    cap per row, no grouping of equal thumbnails): every copy must be found."""
    return confirm(rows, examples, candidates(rows, examples, method), method)


def match_within(rows: ImageRows, method: ImageMethod, limit: int | None = MAX_PAIRS_PER_ROW) -> Matches:
    """Pairs (earlier row, later row) of near-duplicates inside one version:
    copies of a thumbnail pair with its first row, distinct thumbnails with
    each other (at most `limit` per later row, the most similar; None: all)."""
    first, group = distinct_thumbs(rows)
    sub = _subset(rows, first)
    found = confirm(sub, sub, candidates(sub, sub, method), method)
    near = _unordered(first[found.ref], first[found.target], found)
    copies = np.flatnonzero(first[group] != np.arange(len(rows)))
    exact = Matches(first[group[copies]], copies, np.zeros(len(copies), np.uint8), np.ones(len(copies)), None)
    return concat([exact, best_per_target(near, limit) if limit is not None else near])


def _unordered(a: np.ndarray, b: np.ndarray, found: Matches) -> Matches:
    """Each unordered pair once as (earlier, later), never a row with itself,
    with its smallest distance and highest similarity. A pair may be found
    from either side: the shifted probes of small images are not symmetric
    (one side's copy moved a pixel may fall within the radius when the other's
    does not), so keeping only the pairs found from the later row lost some
    (a near-copy `split --dedupe near` then put in two splits)."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    lo, hi, distance, similarity = lo[keep], hi[keep], found.distance[keep], found.similarity[keep]
    order = np.lexsort((-similarity, hi, lo))
    lo, hi, distance, similarity = lo[order], hi[order], distance[order], similarity[order]
    first = np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])] if len(lo) else np.zeros(0, bool)
    smallest = np.minimum.reduceat(distance, np.flatnonzero(first)) if len(lo) else distance
    return Matches(lo[first], hi[first], smallest.astype(distance.dtype), similarity[first])


def concat(parts: list[Matches]) -> Matches:
    return Matches(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in ("ref", "target", "distance", "similarity"))
    )


def _ranges(counts: np.ndarray) -> np.ndarray:
    """0..n-1 for each n in counts, concatenated."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)


def _subset(rows: ImageRows, idx: np.ndarray) -> ImageRows:
    if len(idx) == len(rows):  # every thumbnail distinct: `idx` is every row, in order
        return rows
    return ImageRows(rows.phash[idx], rows.dhash[idx], rows.thumbs[idx], rows.height[idx], rows.width[idx])
