"""Multi-index Hamming search finds exactly the pairs a brute-force scan finds."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datagov.near.index import MAX_RADIUS, HammingIndex


def brute_force(ref: np.ndarray, query: np.ndarray, radius: int) -> set[tuple[int, int]]:
    distance = np.bitwise_count(ref[None, :] ^ query[:, None])
    q, r = np.nonzero(distance <= radius)
    return set(zip(r.tolist(), q.tolist(), strict=True))


def flips(rng, values: np.ndarray, most: int) -> np.ndarray:
    """Each value with up to `most` random bits flipped."""
    out = values.copy()
    for i in range(len(out)):
        for bit in rng.choice(64, rng.integers(0, most + 1), replace=False):
            out[i] ^= np.uint64(1) << np.uint64(bit)
    return out


@pytest.mark.parametrize("radius", [0, 1, 3, 4, 7, 8, 11, MAX_RADIUS])
def test_every_pair_within_the_radius_once(radius):
    rng = np.random.default_rng(radius)
    ref = rng.integers(0, 2**64, 3000, dtype=np.uint64)
    query = np.concatenate([flips(rng, ref[rng.choice(3000, 400)], radius + 2), rng.integers(0, 2**64, 300, np.uint64)])
    found = HammingIndex(ref).search(query, radius)
    pairs = list(zip(found.ref.tolist(), found.query.tolist(), strict=True))
    assert len(pairs) == len(set(pairs)), "a pair was reported twice"
    assert set(pairs) == brute_force(ref, query, radius)
    expected = np.bitwise_count(ref[found.ref] ^ query[found.query])
    assert np.array_equal(found.distance, expected)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=40),
    st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=40),
    st.integers(0, MAX_RADIUS),
)
def test_matches_brute_force_on_any_hashes(ref, query, radius):
    ref, query = np.array(ref, np.uint64), np.array(query, np.uint64)
    found = HammingIndex(ref).search(query, radius)
    assert set(zip(found.ref.tolist(), found.query.tolist(), strict=True)) == brute_force(ref, query, radius)


@pytest.mark.parametrize("block", [None, 100])
def test_crowded_buckets_find_more_pairs_than_first_allotted(block, monkeypatch):
    """Hundreds of equal hashes (blank images) put every pair in one bucket:
    more pairs than the output block holds (and, at a block of 100, more
    than one query's pairs), all found, each once."""
    if block:
        monkeypatch.setattr("datagov.near.index.OUT_BLOCK", block)
    rng = np.random.default_rng(0)
    ref = np.concatenate([np.zeros(800, np.uint64), rng.integers(0, 2**64, 500, np.uint64)])
    query = np.concatenate([np.zeros(50, np.uint64), np.array([1, 3], np.uint64)])
    found = HammingIndex(ref).search(query, 2)
    assert set(zip(found.ref.tolist(), found.query.tolist(), strict=True)) == brute_force(ref, query, 2)
    assert len(found) == len(brute_force(ref, query, 2)) >= 800 * 52 > 64 * len(query)


def test_radius_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r"outside 0\.\.15"):
        HammingIndex(np.zeros(3, np.uint64)).search(np.zeros(1, np.uint64), 16)


def test_empty_sides_find_nothing():
    assert len(HammingIndex(np.zeros(0, np.uint64)).search(np.zeros(4, np.uint64), 3)) == 0
    assert len(HammingIndex(np.zeros(4, np.uint64)).search(np.zeros(0, np.uint64), 3)) == 0
