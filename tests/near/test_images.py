"""Grouping identical thumbnails: exact, even when the hash used to group collides."""

import numpy as np

from datagov.near import kernel
from datagov.near.images import ImageRows, distinct_thumbs


def rows_of(thumbs: np.ndarray) -> ImageRows:
    n = len(thumbs)
    return ImageRows(np.zeros(n, np.uint64), np.zeros(n, np.uint64), thumbs, np.full(n, 8), np.full(n, 8))


def expected(thumbs: np.ndarray) -> list[list[int]]:
    groups: dict[bytes, list[int]] = {}
    for i, t in enumerate(thumbs):
        groups.setdefault(t.tobytes(), []).append(i)
    return sorted(groups.values())


def grouped(first: np.ndarray, group: np.ndarray) -> list[list[int]]:
    out: dict[int, list[int]] = {}
    for i, g in enumerate(group.tolist()):
        out.setdefault(g, []).append(i)
    assert all(first[g] == members[0] for g, members in out.items())  # the first row of each group
    return sorted(out.values())


def test_identical_thumbnails_share_a_group_and_its_first_row():
    rng = np.random.default_rng(0)
    thumbs = rng.integers(0, 256, (500, 16, 16), dtype=np.uint8)
    thumbs[100:150] = thumbs[7]
    thumbs[300] = thumbs[299]
    assert grouped(*distinct_thumbs(rows_of(thumbs))) == expected(thumbs)


def test_a_colliding_grouping_hash_falls_back_to_the_bytes(monkeypatch):
    rng = np.random.default_rng(1)
    thumbs = rng.integers(0, 4, (200, 16, 16), dtype=np.uint8)
    thumbs[50:60] = thumbs[3]
    monkeypatch.setattr(kernel, "row_keys", lambda words, seeds: np.zeros((2, len(words)), np.uint64))
    assert grouped(*distinct_thumbs(rows_of(thumbs))) == expected(thumbs)
