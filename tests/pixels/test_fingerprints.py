"""Thumbnails and perceptual hashes: what ingest stores, and how they behave."""

import io

import duckdb
import imagehash
import numpy as np
from PIL import Image

from datagov.pixels.codec import decode
from datagov.pixels.fingerprints import (
    THUMB,
    hash_bytes,
    hash_columns,
    hash_thumbs,
    hashes_of_bytes,
    shift_step,
    shifted,
    thumbnail,
    thumbs_array,
)


def test_a_small_image_is_scaled_up_by_repeating_pixels():
    pixels = np.arange(64, dtype=np.uint8).reshape(8, 8) * 3
    thumb = np.frombuffer(thumbnail(pixels), np.uint8).reshape(THUMB, THUMB)
    assert np.array_equal(thumb, np.repeat(np.repeat(pixels, 2, axis=0), 2, axis=1))


def test_a_large_image_is_averaged_over_boxes_and_colour_becomes_luma():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    thumb = np.frombuffer(thumbnail(rgb), np.uint8).reshape(THUMB, THUMB).astype(float)
    gray = rgb @ np.array([0.299, 0.587, 0.114])
    expected = gray.reshape(16, 4, 16, 3).mean(axis=(1, 3))
    assert np.abs(thumb - expected).max() <= 0.5 + 1e-6


def test_phash_agrees_with_imagehash_on_most_bits():
    """Our pHash is imagehash's recipe (DCT, low 8x8, against the median) on
    a 16x16 box thumbnail instead of a 32x32 Lanczos one: most bits agree."""
    rng = np.random.default_rng(1)
    agree = []
    for _ in range(20):
        smooth = np.kron(rng.integers(0, 256, (4, 4)), np.ones((16, 16))).astype(np.uint8)
        ours = hash_thumbs(thumbs_array([thumbnail(smooth)]))[0][0]
        theirs = int(str(imagehash.phash(Image.fromarray(smooth))), 16)
        agree.append(64 - bin(int(ours) ^ theirs).count("1"))
    assert np.mean(agree) >= 48


def test_hashes_are_eight_bytes_and_round_trip():
    values = np.array([0, 1, 2**63, 2**64 - 1], np.uint64)
    stored = hash_bytes(values)
    assert all(len(b) == 8 for b in stored) and stored[1] == b"\0" * 7 + b"\1"
    assert np.array_equal(hashes_of_bytes(stored), values)


def test_brightness_barely_moves_the_hashes_and_content_moves_them_far():
    rng = np.random.default_rng(2)
    base = np.kron(rng.integers(30, 220, (8, 8)), np.ones((4, 4))).astype(np.uint8)
    brighter = np.clip(base * 1.1, 0, 255).astype(np.uint8)
    other = np.kron(rng.integers(30, 220, (8, 8)), np.ones((4, 4))).astype(np.uint8)
    p, d = hash_thumbs(thumbs_array([thumbnail(x) for x in (base, brighter, other)]))
    for h in (p, d):
        assert bin(int(h[0] ^ h[1])).count("1") <= 4
        assert bin(int(h[0] ^ h[2])).count("1") >= 16


def test_shift_moves_content_and_repeats_the_edge():
    thumbs = np.arange(THUMB * THUMB, dtype=np.float32).reshape(1, THUMB, THUMB)
    right = shifted(thumbs, 0, 2)
    assert np.array_equal(right[0, :, 2:], thumbs[0, :, :-2])
    assert np.array_equal(right[0, :, 0], thumbs[0, :, 0]) and np.array_equal(right[0, :, 1], thumbs[0, :, 0])
    assert np.array_equal(shift_step(np.array([8, 16, 32, 4]), np.array([8, 16, 32, 100])), [2, 1, 0, 4])


def test_ingest_stores_the_fingerprints_of_the_decoded_pixels(cli, ws):
    assert cli("ingest", "sklearn:digits", "--name", "digits").exit_code == 0
    rows = duckdb.sql(
        f"SELECT image, phash, dhash, thumb FROM read_parquet('{ws.store_dir}/*/*.parquet') LIMIT 50"
    ).fetchall()
    thumbs = [thumbnail(decode(image)[0]) for image, *_ in rows]
    phash, dhash = hash_columns(thumbs)
    assert [bytes(r[3]) for r in rows] == thumbs
    assert [bytes(r[1]) for r in rows] == phash and [bytes(r[2]) for r in rows] == dhash


def test_jpeg_at_quality_75_keeps_the_hash_close():
    rng = np.random.default_rng(3)
    base = np.kron(rng.integers(0, 256, (8, 8, 3)), np.ones((4, 4, 1))).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(base).save(buf, format="JPEG", quality=75)
    jpeg = decode(buf.getvalue())[0]
    p, _ = hash_thumbs(thumbs_array([thumbnail(base), thumbnail(jpeg)]))
    assert bin(int(p[0] ^ p[1])).count("1") <= 6
