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
