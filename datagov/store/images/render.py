"""Tar shards -> the image layout, in worker processes that write the parts.

Shards are taken in groups of about `GROUP_BYTES` (a rule of the data alone,
so the same shards always give the same parts and digest, whatever the
number of cores). Each worker reads its group's shards itself (a local file
or an object), checks them against the manifest when they are registered in
place, decodes every image with the one decoder, and writes
`part-GGGGG-NNN.parquet`; the parent only hands out groups and collects what
each found. Nothing crosses a process boundary per image.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass, field
from pathlib import Path

from datagov.errors import IntegrityError, SourceError
from datagov.store.images.columns import Columns, decode_into
from datagov.store.images.tar import TarError
from datagov.store.images.webdataset import BadShard, check_sample, samples_of
from datagov.store.images.writer import ImageParquetWriter, progress_columns
from datagov.store.shards import Shard, ShardSet
from datagov.workspace import MAX_IMAGE_PIXELS

GROUP_BYTES = 64 << 20  # shards per worker task, by size
BATCH = 512  # rows a worker hands its Parquet writer at once


@dataclass(frozen=True)
class GroupJob:
    index: int
    root: str
    shards: tuple[tuple[str, int], ...]  # (name, size)
    out: str
    max_pixels: int = MAX_IMAGE_PIXELS
    skip_bad: bool = False
    expected: tuple[tuple[str, int], ...] | None = None  # in place: (sha256, samples) of each shard


@dataclass
class GroupResult:
    rows: int = 0
    labelled: bool | None = None
    rejects: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None  # the first bad shard or (without skip_bad) undecodable image
    changed: list[str] = field(default_factory=list)  # in place: shards whose bytes differ from the manifest


class _GroupWriter:
    """Rows of one group, written to its own parts once it knows whether there are labels."""

    def __init__(self, job: GroupJob) -> None:
        self.job, self.rows = job, Columns()
        self.writer: ImageParquetWriter | None = None

    def open(self, labelled: bool) -> Columns:
        """The buffer to decode the next rows into."""
        if self.writer is None:
            self.writer = ImageParquetWriter(Path(self.job.out), labelled, prefix=f"part-{self.job.index:05d}")
        elif len(self.rows) >= BATCH:
            self.flush()
        return self.rows

    def flush(self) -> None:
        if self.writer is not None and len(self.rows):
            self.writer.add(self.rows)
            self.rows = Columns()

    def close(self) -> int:
        self.flush()
        if self.writer is None:
            return 0
        self.writer.close()
        return self.writer.rows


def convert_group(job: GroupJob) -> GroupResult:
    """Worker: read, check, decode and write one group of shards."""
    shards = ShardSet(job.root, [Shard(name, size) for name, size in job.shards])
    result, out = GroupResult(), _GroupWriter(job)
    try:
        for i, shard in enumerate(shards.shards):
            data, sha, _etag = shards.read(shard)
            if job.expected is not None and sha != job.expected[i][0]:
                result.changed.append(shard.name)
                continue
            count = _convert_shard(job, shard.name, data, result, out)
            if result.error:
                break
            if job.expected is not None and count != job.expected[i][1]:
                result.error = f"{shard.name} holds {count} samples, the manifest says {job.expected[i][1]}"
                break
    except (BadShard, TarError, OSError) as exc:  # OSError: a local shard gone or unreadable since it was listed
        result.error = f"{shard.name} under {job.root}: {exc}"
    finally:
        result.rows = out.close()
    return result


def _convert_shard(job: GroupJob, name: str, data: bytes, result: GroupResult, out: _GroupWriter) -> int:
    count = 0
    for sample in samples_of(data):
        result.labelled = check_sample(sample, result.labelled)
        ext = sample.image_ext
        assert ext is not None  # check_sample refused a sample without an image
        member, label = f"{name}/{sample.key}.{ext}", sample.label()
        bad: list[tuple[str, str]] = []
        decode_into(out.open(result.labelled), bad, sample.members[ext] or b"", member, label, job.max_pixels)
        count += 1
        if bad and not job.skip_bad:
            result.error = f"cannot decode {bad[0][0]!r}: {bad[0][1]}"
            return count
        result.rejects.extend(bad)
    return count


def groups(shards: list[Shard]) -> list[list[Shard]]:
    """Consecutive shards in groups of about GROUP_BYTES (at least one each)."""
    out: list[list[Shard]] = []
    size = 0
    for shard in shards:
        if not out or size + shard.size > GROUP_BYTES:
            out.append([])
            size = 0
        out[-1].append(shard)
        size += shard.size
    return out


@dataclass
class Converted:
    rows: int
    labelled: bool
    rejects: list[tuple[str, str]]


def run_groups(jobs: list[GroupJob], workers: int, show_progress: bool, label: str) -> list[GroupResult]:
    """Each job in a worker process (in order), or in this one when there is one job or one core."""
    results = []
    with progress_columns(label, show_progress) as progress:
        task = progress.add_task(label, total=len(jobs), rate="")
        if workers > 1 and len(jobs) > 1:
            # forkserver: workers do not inherit the parent's threads (DuckDB, torch)
            with multiprocessing.get_context("forkserver").Pool(min(workers, len(jobs))) as pool:
                for result in pool.imap(convert_group, jobs):
                    results.append(result)
                    progress.update(task, advance=1, rate=f"{sum(r.rows for r in results):,} images")
                    if result.error or result.changed:
                        break  # the rest is not needed: leaving the block stops the workers
        else:
            for job in jobs:
                results.append(convert_group(job))
                progress.update(task, advance=1)
                if results[-1].error or results[-1].changed:
                    break
    return results


def _jobs(shards: ShardSet, out: Path, **kwargs) -> list[GroupJob]:
    expected = kwargs.pop("expected", None)
    return [
        GroupJob(
            index,
            shards.root,
            tuple((s.name, s.size) for s in group),
            str(out),
            expected=tuple(expected[s.name] for s in group) if expected is not None else None,
            **kwargs,
        )
        for index, group in enumerate(groups(shards.shards))
    ]


def _labelled(results: list[GroupResult], shards: ShardSet) -> bool:
    flags = [r.labelled for r in results if r.labelled is not None]
    if any(flag != flags[0] for flag in flags):
        raise SourceError(
            f"the shards under {shards.root} mix labelled and unlabelled samples",
            hint="ingest labelled and unlabelled shards as two datasets",
        )
    return bool(flags and flags[0])


def convert_shards(
    shards: ShardSet, out: Path, *, max_pixels: int, skip_bad: bool, workers: int | None, show_progress: bool
) -> Converted:
    """Ingest: copy the samples of `shards` into image parts under `out`."""
    jobs = _jobs(shards, out, max_pixels=max_pixels, skip_bad=skip_bad)
    results = run_groups(jobs, workers or os.cpu_count() or 1, show_progress, "decoding shards")
    for result in results:
        if result.error:
            raise SourceError(
                f"{result.error}; nothing was ingested",
                hint="fix the shard, or pass --skip-bad to skip undecodable images (they are recorded as rejects)",
            )
    labelled = _labelled(results, shards)
    return Converted(sum(r.rows for r in results), labelled, [bad for r in results for bad in r.rejects])


def render_in_place(shards: ShardSet, expected: dict[str, tuple[str, int]], out: Path) -> None:
    """Use: the image layout of shards registered in place, from bytes hashed
    as read; a shard that differs from the manifest, or a sample that does not
    decode, stops it."""
    from datagov.store.files import ChangedObjects

    results = run_groups(_jobs(shards, out, expected=expected), os.cpu_count() or 1, False, "reading shards")
    changed = [name for r in results for name in r.changed]
    if changed:
        raise ChangedObjects(
            f"{len(changed)} shard(s) under {shards.root} no longer match the manifest: {', '.join(changed[:5])}",
            hint="see `datagov datasets verify`; restore the shards or register them again",
            names=changed,
        )
    for result in results:
        if result.error:
            raise IntegrityError(
                result.error,
                hint="a version registered in place uses every sample; remove the sample and register the shards "
                "again, or ingest them without --in-place with --skip-bad",
            )
    _labelled(results, shards)
