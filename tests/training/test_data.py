"""The Parquet image stream: sharding, splits, epochs, persistent workers."""

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from datagov.training import data
from datagov.training.data import ImageShape, ParquetImageStream

N = 2500
SHAPE = ImageShape(1, 4, 4)


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "UNIT_ROWS", 300)  # several units per row group
    blobs = []
    for i in range(N):
        buf = io.BytesIO()
        Image.fromarray(np.full((4, 4), i % 256, dtype=np.uint8)).save(buf, format="PNG")
        blobs.append(buf.getvalue())
    path = tmp_path / "part-00000.parquet"
    pq.write_table(pa.table({"image": pa.array(blobs, pa.binary()), "label": np.arange(N)}), path, row_group_size=1000)
    return [str(path)]


def rows_seen(stream, workers=0, epochs=1):
    loader = DataLoader(stream, batch_size=None, num_workers=workers, persistent_workers=workers > 0)
    out = []
    for epoch in range(epochs):
        stream.set_epoch(epoch)
        out.append([int(v) for _, labels in loader for v in labels])
    return out


def test_shards_are_disjoint_and_complete(files):
    seen = [
        rows_seen(ParquetImageStream(files, SHAPE, split="all", label_column="label", rank=r, world_size=2))[0]
        for r in range(2)
    ]
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == list(range(N))


def test_train_and_val_split_every_nth_row(files):
    train = rows_seen(ParquetImageStream(files, SHAPE, split="train", every=10, label_column="label"))[0]
    val = rows_seen(ParquetImageStream(files, SHAPE, split="val", every=10, label_column="label", shuffle=False))[0]
    assert sorted(val) == list(range(0, N, 10))
    assert sorted(train + val) == list(range(N))


def test_persistent_workers_see_each_epoch(files):
    stream = ParquetImageStream(files, SHAPE, split="all", label_column="label", batch_size=50)
    first, second = rows_seen(stream, workers=2, epochs=2)
    assert sorted(first) == sorted(second) == list(range(N))
    assert first != second  # reshuffled: the workers read the new epoch from shared memory


def test_images_decode_to_uint8(files):
    images, labels = next(
        iter(ParquetImageStream(files, SHAPE, split="all", label_column="label", shuffle=False, batch_size=3))
    )
    assert images.dtype == torch.uint8 and images.shape == (3, 1, 4, 4)
    assert images[:, 0, 0, 0].tolist() == [int(v) % 256 for v in labels]


def test_the_decoded_pixel_cache_yields_exactly_what_decoding_does(files, tmp_path):
    from datagov.training.pixel_cache import build_pixels

    pixels = tmp_path / "pixels.u8"
    build_pixels(files, SHAPE, pixels, expected=N * SHAPE.numel)
    assert pixels.stat().st_size == N * 16 and not list(tmp_path.glob(".*.tmp"))
    for split in ("train", "val"):
        kw = dict(split=split, batch_size=64, shuffle=True, seed=3, label_column="label", world_size=2, rank=1)
        plain = list(ParquetImageStream(files, SHAPE, **kw))
        cached = list(ParquetImageStream(files, SHAPE, pixels=str(pixels), **kw))
        assert len(plain) == len(cached) > 0
        for (xa, ya), (xb, yb) in zip(plain, cached, strict=True):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
            assert xb.dtype == torch.uint8 and torch.equal(xb[:, 0, 0, 0], (yb % 256).to(torch.uint8))
    with pytest.raises(OSError, match="expected"):  # a wrong size never lands under the final name
        build_pixels(files, SHAPE, tmp_path / "bad.u8", expected=1)
    assert not (tmp_path / "bad.u8").exists()
