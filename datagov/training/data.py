"""Streaming a version's image Parquet files into tensors.

Row groups are the unit of work: each (rank, worker) reads its own share of
them, so no process loads the whole dataset, and distributed ranks see
disjoint data. Images are decoded with torchvision. Every `every`-th row
(by position in the version) is held out as the validation split.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq
import torch
from torch.utils.data import IterableDataset, get_worker_info
from torchvision.io import ImageReadMode, decode_image

# torchvision 0.29 deprecates its decoders in favour of TorchCodec and warns on
# every call; the pinned release still ships them. Migrating is a follow-up.
warnings.filterwarnings(
    "ignore", message="The image decoding and encoding capabilities of TorchVision", category=DeprecationWarning
)


@dataclass(frozen=True)
class ImageShape:
    channels: int
    height: int
    width: int

    @property
    def numel(self) -> int:
        return self.channels * self.height * self.width


@dataclass(frozen=True)
class RowGroup:
    file: str
    index: int
    first_row: int  # position of its first row in the whole version
    rows: int


def row_groups(files: list[str]) -> list[RowGroup]:
    out, offset = [], 0
    for path in files:
        meta = pq.ParquetFile(path).metadata
        for i in range(meta.num_row_groups):
            rows = meta.row_group(i).num_rows
            out.append(RowGroup(path, i, offset, rows))
            offset += rows
    return out


def decode_batch(blobs: list[bytes], shape: ImageShape) -> torch.Tensor:
    """Encoded images -> uint8 tensor (N, C, H, W). Kept as bytes until the
    training device (`to_unit_float`): a quarter of float32's traffic between
    loader workers, pinned memory and the GPU."""
    mode = ImageReadMode.GRAY if shape.channels == 1 else ImageReadMode.RGB
    out = torch.empty((len(blobs), shape.channels, shape.height, shape.width), dtype=torch.uint8)
    for i, blob in enumerate(blobs):
        out[i] = decode_image(torch.frombuffer(bytearray(blob), dtype=torch.uint8), mode=mode)
    return out


def to_unit_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float in [0, 1], on whatever device they are on."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images


class ParquetImageStream(IterableDataset):
    """Yields (images, labels or -1) batches from the version's row groups."""

    def __init__(
        self,
        files: list[str],
        shape: ImageShape,
        *,
        split: str = "train",  # train | val | all
        every: int = 10,
        batch_size: int = 64,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        label_column: str | None = None,
    ) -> None:
        self.groups = row_groups(files)
        self.shape = shape
        self.split, self.every, self.batch_size = split, every, batch_size
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0
        self.rank, self.world_size = rank, world_size
        self.label_column = label_column

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _mine(self) -> list[RowGroup]:
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        shards, shard = self.world_size * workers, self.rank * workers + worker
        groups = list(self.groups)
        if self.shuffle:
            order = np.random.default_rng((self.seed, self.epoch)).permutation(len(groups))
            groups = [groups[i] for i in order]
        return groups[shard::shards]

    def _keep(self, group: RowGroup) -> np.ndarray:
        positions = np.arange(group.first_row, group.first_row + group.rows)
        held_out = positions % self.every == 0
        return {"train": ~held_out, "val": held_out, "all": np.ones(group.rows, bool)}[self.split]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rng = np.random.default_rng((self.seed, self.epoch, self.rank))
        columns = ["image"] + ([self.label_column] if self.label_column else [])
        for group in self._mine():
            table = pq.ParquetFile(group.file).read_row_group(group.index, columns=columns)
            idx = np.flatnonzero(self._keep(group))
            if self.shuffle:
                rng.shuffle(idx)
            blobs = table.column("image").to_pylist()
            labels = table.column(self.label_column).to_numpy() if self.label_column else None
            for start in range(0, len(idx), self.batch_size):
                take = idx[start : start + self.batch_size]
                images = decode_batch([blobs[i] for i in take], self.shape)
                y = (
                    torch.as_tensor(labels[take], dtype=torch.long)
                    if labels is not None
                    else torch.full((len(take),), -1, dtype=torch.long)
                )
                yield images, y

    def __len__(self) -> int:  # batches per epoch for one shard, for progress bars
        rows = sum(int(self._keep(g).sum()) for g in self.groups)
        return math.ceil(rows / self.world_size / self.batch_size)
