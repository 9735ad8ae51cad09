"""Near-duplicates inside one version find every pair a search between two
of its parts finds: what `split --dedupe near` relies on to keep near-copies
out of two splits. Measured on real images, Fashion-MNIST's first 12,000
training images (Debian's dataset-fashion-mnist, which `make test` installs)."""

from pathlib import Path

import numpy as np

from datagov.near.check import first_of_groups
from datagov.near.images import ImageMethod, ImageRows, Matches, _unordered, match_images, match_within
from datagov.pixels.fingerprints import hash_thumbs, thumbnail, thumbs_array
from datagov.sources.idx import read_idx

TRAIN = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def _rows(images: np.ndarray) -> ImageRows:
    thumbs = np.stack([np.frombuffer(thumbnail(i), np.uint8).reshape(16, 16) for i in images])
    phash, dhash = hash_thumbs(thumbs_array(thumbs))
    side = np.full(len(images), images.shape[1])
    return ImageRows(phash, dhash, thumbs, side, side)


def test_a_pair_found_only_from_the_earlier_row_is_kept_once_as_earlier_then_later():
    found = Matches(np.array([0, 0]), np.array([0, 0]), np.array([9, 7], np.uint8), np.array([0.98, 0.99]))
    pairs = _unordered(np.array([7, 3]), np.array([3, 7]), found)
    assert (pairs.ref.tolist(), pairs.target.tolist(), pairs.distance.tolist()) == ([3], [7], [7])
    assert pairs.similarity.tolist() == [0.99]


def test_every_pair_between_two_halves_joins_the_groups_of_the_whole():
    images = read_idx(TRAIN, 1 << 30)[:12_000]
    whole = _rows(images)
    half = len(images) // 2
    first, second = (_rows(part) for part in (images[:half], images[half:]))
    across = match_images(first, second, ImageMethod())
    assert len(across) > 1000  # Fashion-MNIST is full of near-copies
    within = match_within(whole, ImageMethod(), None)
    roots = first_of_groups(len(images), within.ref, within.target)
    apart = [(r, t) for r, t in zip(across.ref, across.target + half, strict=True) if roots[r] != roots[t]]
    assert not apart, f"{len(apart)} near pairs between the halves are in different groups, e.g. {apart[:3]}"
