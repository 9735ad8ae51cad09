"""WebDataset tar shards: a sample is the run of consecutive tar members that
share a key (`KEY.png`, `KEY.cls`, ...), the key being a member's path up to
the first '.' of its file name, as the `webdataset` package reads them.

- an image member (`png`, `jpg`, `jpeg`, `webp`, ...) is the sample's image;
- a `cls` member (an integer as text) or a `json` member with an integer
  `label` (or `cls`) is its label; a shard is labelled all through or not at all;
- a key seen twice in one shard, or a sample without an image, is bad input.

Ingest (`--format webdataset`) copies the samples into the image layout every
image version has (encoded bytes plus feature columns). `--in-place` instead
hashes the shards and counts their samples from the tar headers alone, and
they are turned into that layout, from bytes hashed as read, when a version
is used (`render`, which does both in worker processes).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from datagov.errors import SourceError
from datagov.store.images.tar import HashingStream, TarError, fast_members, fast_names, members

SUFFIXES = (".tar",)
IMAGE_EXTS = ("png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff", "ppm", "pgm")
LABEL_EXTS = ("cls", "json")
IN_MEMORY = 256 << 20  # shards up to this size are counted from memory at registration
_IMAGE_SET, _LABEL_SET = frozenset(IMAGE_EXTS), frozenset(LABEL_EXTS)


class BadShard(Exception):
    """A shard that breaks WebDataset's rules (says which key and why)."""


def split_member(name: str) -> tuple[str, str]:
    """(key, extension): `a/b/x.seg.png` -> (`a/b/x`, `seg.png`)."""
    dot = name.find(".", name.rfind("/") + 1)
    return (name, "") if dot < 0 else (name[:dot], name[dot + 1 :].lower())


@dataclass
class Sample:
    key: str
    members: dict[str, bytes | None]  # extension -> bytes (None when only names were read)

    @property
    def image_ext(self) -> str | None:
        found = _IMAGE_SET.intersection(self.members)
        if len(found) > 1:  # several images: the first in IMAGE_EXTS' order
            return next(ext for ext in IMAGE_EXTS if ext in found)
        return next(iter(found), None)

    @property
    def labelled(self) -> bool:
        return not _LABEL_SET.isdisjoint(self.members)

    def label(self) -> int | None:
        """The integer label, or None when the sample has none; BadShard if unreadable."""
        if "cls" in self.members:
            text = (self.members["cls"] or b"").decode("utf-8", "replace").strip()
            if len(text) > 20 and text.lstrip("+-").isdigit():
                raise BadShard(f"{self.key}.cls holds a class id of {len(text):,} digits, outside 0..{MAX_CLASS_ID:,}")
            try:
                return _class_id(int(text), f"{self.key}.cls")
            except ValueError:
                raise BadShard(f"{self.key}.cls holds {text[:20]!r}, not an integer class id") from None
        if "json" in self.members:
            try:
                doc = json.loads(self.members["json"] or b"")
            except RecursionError:
                raise BadShard(f"{self.key}.json nests too deeply to read") from None
            except ValueError:
                raise BadShard(f"{self.key}.json is not valid JSON") from None
            value = doc.get("label", doc.get("cls")) if isinstance(doc, dict) else None
            if not isinstance(value, int) or isinstance(value, bool):
                raise BadShard(f"{self.key}.json has no integer 'label' (or 'cls')")
            return _class_id(value, f"{self.key}.json")
        return None


MAX_CLASS_ID = 2**31 - 1  # class ids are stored as int64; no classifier has more classes than this


def _class_id(value: int, where: str) -> int:
    if not 0 <= value <= MAX_CLASS_ID:
        shown = f"class id {value}" if abs(value) < 10**20 else f"a class id of {len(str(abs(value))):,} digits"
        raise BadShard(f"{where} holds {shown}, outside 0..{MAX_CLASS_ID:,}")
    return value


def iter_samples(stream: HashingStream) -> Iterator[Sample]:
    """Samples of one tar stream, in order, read by the careful reader."""
    try:
        yield from group_samples(members(stream))
    except TarError as exc:
        raise BadShard(str(exc)) from None


def group_samples(pairs: Iterable[tuple[str, bytes | None]]) -> Iterator[Sample]:
    """(member name, bytes) in tar order -> samples: the one grouping rule,
    used to count at registration and to read at use."""
    seen: set[str] = set()
    current: Sample | None = None
    for name, data in pairs:
        if name[name.rfind("/") + 1 : name.rfind("/") + 2] == ".":
            continue  # hidden files (.DS_Store and friends) are not sample members
        key, ext = split_member(name)
        if not ext:
            continue  # nor are files without an extension
        if current is None or key != current.key:
            if current is not None:
                yield current
            if key in seen:
                raise BadShard(f"key {key!r} appears twice; a sample's members must be consecutive")
            seen.add(key)
            current = Sample(key, {})
        if ext in current.members:
            raise BadShard(f"{key}.{ext} appears twice")
        current.members[ext] = data
    if current is not None:
        yield current


@dataclass(frozen=True)
class ShardCount:
    sha256: str
    size: int
    samples: int
    labelled: bool


def count_shard(raw, shard: str, size: int | None = None) -> ShardCount:
    """Hash a tar stream and count its samples from the member names alone.
    A shard of known size up to IN_MEMORY is read whole, hashed once, and its
    headers found with numpy (or by the careful reader, on an unusual
    layout); larger ones stream through `members`, hashed as they pass."""
    try:
        if size is not None and size <= IN_MEMORY:
            data = raw.read()
            names = fast_names(data)
            if names is None:
                pairs: Iterable = members(HashingStream(io.BytesIO(data), hashed=False), read=False)
            else:
                pairs = ((n.decode("utf-8", "backslashreplace"), None) for n in names)
            samples, labelled = _count(group_samples(pairs))
            return ShardCount(hashlib.sha256(data).hexdigest(), len(data), samples, labelled)
        reader = HashingStream(raw)
        samples, labelled = _count(group_samples(members(reader, read=False)))
        reader.drain()  # the tar's end blocks count in the hash too
        return ShardCount(reader.sha256, reader.size, samples, labelled)
    except (BadShard, TarError) as exc:
        hint = "fix the shard, or ingest without --in-place with --skip-bad"
        raise SourceError(f"{shard}: {exc}", hint=hint) from None


def _count(samples: Iterable[Sample]) -> tuple[int, bool]:
    count, labelled = 0, None
    for sample in samples:
        labelled = check_sample(sample, labelled)
        count += 1
    return count, bool(labelled)


def check_sample(sample: Sample, labelled: bool | None) -> bool:
    """Whether the shard is labelled, after this sample (None before the
    first): BadShard for a sample without an image, or one that breaks the
    shard's labelling. The one rule for counting and for reading."""
    if sample.image_ext is None:
        found = ", ".join(sorted(sample.members)) or "nothing"
        raise BadShard(f"sample {sample.key!r} has no image member (found {found}; expected one of png, jpg, webp...)")
    if labelled is not None and sample.labelled != labelled:
        has = "has" if sample.labelled else "lacks"
        raise BadShard(f"sample {sample.key!r} {has} a label (.cls/.json) where earlier ones do not")
    return sample.labelled


def samples_of(data: bytes) -> Iterator[Sample]:
    """The samples of a shard held in memory (its headers found with numpy
    when the layout is the common one, else by the careful reader)."""
    found = fast_members(data)
    if found is None:
        yield from iter_samples(HashingStream(io.BytesIO(data), hashed=False))
        return
    names, offsets, sizes = found
    view = memoryview(data)
    yield from group_samples(
        (name.decode("utf-8", "backslashreplace"), view[at : at + size].tobytes())
        for name, at, size in zip(names, offsets, sizes, strict=True)
    )
