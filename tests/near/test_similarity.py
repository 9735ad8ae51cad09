"""`similarity_of_pairs` (the compiled kernel, integer sums per pair) gives
what `similarity` (the float definition) gives pair by pair: every shift
unit, constant images, repeated thumbnails, no pairs at all."""

import numpy as np

from datagov.near.similarity import similarity, similarity_of_pairs


def test_pairs_from_distinct_thumbnails_score_as_pair_by_pair():
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(3)
    digits = np.kron((load_digits().images * 15).astype(np.uint8), np.ones((2, 2), np.uint8))[:300]  # 16x16
    first = digits.copy()
    second = np.clip(digits[:50].astype(int) + rng.integers(-12, 12, (50, 16, 16)), 0, 255).astype(np.uint8)
    first[:3], second[:2] = 9, 9  # constant images: alike only each other
    i = rng.integers(0, len(first), 4000)
    j = rng.integers(0, len(second), 4000)
    i[:50], j[:50] = np.arange(50), np.arange(50)  # the true near-copies
    step = rng.integers(0, 3, 4000)
    fast = similarity_of_pairs(first, i, second, j, step)
    slow = similarity(first[i], second[j], step)
    assert np.abs(fast - slow).max() < 1e-5
    assert (fast[3:50] > 0.99).all()  # noise of +-12 grey levels keeps a digit itself
    assert fast[0] == 1.0 and fast[2] == 0.0  # constant and constant; constant and a digit
    assert similarity_of_pairs(first, i[:0], second, j[:0], step[:0]).shape == (0,)
