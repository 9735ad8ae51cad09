"""Streaming a version's image Parquet files into tensors.

Slices of row groups (`UNIT_ROWS` rows) are the unit of work: each (rank,
worker) decodes its own share of them, so no process loads the whole
dataset, distributed ranks see disjoint data, and many workers stay busy even
when a version has few row groups. The epoch lives in shared memory, so
persistent loader workers (started once, not every epoch) see `set_epoch`.
Images are decoded with the decoder ingest used, or gathered from the version's
decoded-pixel cache when training passes one (`pixel_cache.py`). Every `every`-th row (by position in
the version) is held out as the validation split.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq
import torch
from torch.utils.data import IterableDataset, get_worker_info

from datagov.pixels.shape import ImageShape
from datagov.pixels.tensors import decode_batch

UNIT_ROWS = 1024


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
        pixels: str | np.ndarray | None = None,  # decoded pixels (training/pixel_cache.py): a file, or in memory
    ) -> None:
        self.groups = row_groups(files)
        self.pixels = pixels
        self._memmap: np.ndarray | None = None  # opened lazily, in each worker
        self.shape = shape
        self.split, self.every, self.batch_size = split, every, batch_size
        self.shuffle, self.seed = shuffle, seed
        self._epoch = multiprocessing.Value("q", 0, lock=False)  # shared with forked workers
        self.rank, self.world_size = rank, world_size
        self.label_column = label_column
        self.units = [(g, start) for g in self.groups for start in range(0, g.rows, UNIT_ROWS)]

    @property
    def epoch(self) -> int:
        return self._epoch.value

    def set_epoch(self, epoch: int) -> None:
        self._epoch.value = epoch

    def _mine(self) -> list[tuple[RowGroup, int]]:
        """This shard's (row group, first row) units, grouped by row group so
        each is read once."""
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        shards, shard = self.world_size * workers, self.rank * workers + worker
        mine = self._epoch_units()[shard::shards]
        return sorted(mine, key=lambda u: (u[0].first_row, u[1])) if not self.shuffle else mine

    def _epoch_units(self) -> list[tuple[RowGroup, int]]:
        """Every (row group, first row) unit, in this epoch's order (shuffled by seed and epoch)."""
        units = list(self.units)
        if self.shuffle:
            order = np.random.default_rng((self.seed, self.epoch)).permutation(len(units))
            units = [units[i] for i in order]
        return units

    def _keep(self, group: RowGroup) -> np.ndarray:
        positions = np.arange(group.first_row, group.first_row + group.rows)
        held_out = positions % self.every == 0
        return {"train": ~held_out, "val": held_out, "all": np.ones(group.rows, bool)}[self.split]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = get_worker_info()
        rng = np.random.default_rng((self.seed, self.epoch, self.rank, info.id if info else 0))
        cached_pixels = self.pixels is not None
        columns = ([] if cached_pixels else ["image"]) + ([self.label_column] if self.label_column else [])
        cached: tuple[RowGroup, list | None, np.ndarray | None] | None = None
        for group, first in self._mine():
            if cached is None or cached[0] != group:
                table = pq.ParquetFile(group.file).read_row_group(group.index, columns=columns) if columns else None
                labels_all = table.column(self.label_column).to_numpy() if table and self.label_column else None
                images_all = table.column("image").to_pylist() if table and not cached_pixels else None
                cached = (group, images_all, labels_all)
            _, blobs, labels = cached
            keep = self._keep(group)
            idx = first + np.flatnonzero(keep[first : first + UNIT_ROWS])
            if self.shuffle:
                rng.shuffle(idx)
            for start in range(0, len(idx), self.batch_size):
                take = idx[start : start + self.batch_size]
                if blobs is None:  # the decoded pixel cache holds them
                    images = self._gather(group.first_row + take)
                else:
                    images = decode_batch([blobs[i] for i in take], self.shape)
                y = (
                    torch.as_tensor(labels[take], dtype=torch.long)
                    if labels is not None
                    else torch.full((len(take),), -1, dtype=torch.long)
                )
                yield images, y

    @property
    def in_memory(self) -> bool:
        """Pixels already in this process: loader workers would only add a hand-over per batch."""
        return isinstance(self.pixels, np.ndarray)

    def _gather(self, positions: np.ndarray) -> torch.Tensor:
        if self._memmap is None:
            rows = sum(g.rows for g in self.groups)
            shape = (rows, self.shape.channels, self.shape.height, self.shape.width)
            if isinstance(self.pixels, np.ndarray):
                self._memmap = self.pixels.reshape(shape)
            elif self.pixels is not None:
                self._memmap = np.memmap(self.pixels, dtype=np.uint8, mode="r", shape=shape)
            else:
                raise RuntimeError("no decoded pixels to gather from: the stream reads the image column")
        return torch.from_numpy(self._memmap[positions])  # fancy indexing copies: safe to hand on

    def __len__(self) -> int:
        """Batches this rank yields in the current epoch (for progress bars):
        batches are cut per unit, so each unit ends with its own partial batch."""
        total = 0
        for group, first in self._epoch_units()[self.rank :: self.world_size]:
            kept = int(self._keep(group)[first : first + UNIT_ROWS].sum())
            total += math.ceil(kept / self.batch_size)
        return total
