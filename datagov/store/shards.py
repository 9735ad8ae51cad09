"""Finding shards: the files of one suffix under a local folder, a glob, or
an `s3://` prefix, and reading one whole.

Used by in-place registration and by ingest of remote or many-file sources.
Local walks never follow links (a link can point anywhere, and its target can
change under the same name); names are relative to the root, '/'-separated.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass
from pathlib import Path

from datagov.errors import SourceError
from datagov.store import s3

GLOB_CHARS = "*?["


@dataclass(frozen=True)
class Shard:
    name: str  # relative to the root, '/'-separated
    size: int


@dataclass(frozen=True)
class ShardSet:
    root: str  # a local folder or an s3:// URL
    shards: list[Shard]

    @property
    def remote(self) -> bool:
        return s3.is_s3(self.root)

    def read(self, shard: Shard) -> tuple[bytes, str, str]:
        """(bytes, sha256, ETag or '') of one shard, read once."""
        if self.remote:
            blocks: list[bytes] = []
            sha, _size, etag = s3.read_hashed(s3.S3Url.parse(self.root).child(shard.name), blocks.append)
            return b"".join(blocks), sha, etag
        import hashlib

        fd = os.open(os.path.join(self.root, shard.name), os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            data = fh.read()
        return data, hashlib.sha256(data).hexdigest(), ""


def has_glob(text: str) -> bool:
    return any(ch in text for ch in GLOB_CHARS)


def _check_name(rel: str, root: object) -> None:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise SourceError(f"a shard under {root} has a name that is not UTF-8: {rel!r}") from None


def local_shards(root: Path, suffixes: tuple[str, ...]) -> list[Shard]:
    """Every file ending in one of `suffixes` under `root`, without following links."""
    if not root.is_dir():
        raise SourceError(f"not a folder: {root}", hint="give a folder, a glob or an s3:// prefix of shards")
    shards = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(folder, d)))
        for name in sorted(names):
            if name.startswith(".") or not name.endswith(suffixes):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            shards.append(_local_shard(path, rel, root))
    return shards


def _local_shard(path: str, rel: str, root: object) -> Shard:
    """A regular file reached from `root` without a link on the way (glob
    follows linked folders; so would reading the file later)."""
    _check_name(rel, root)
    parts = rel.split("/")
    for depth in range(1, len(parts) + 1):
        if os.path.islink(os.path.join(str(root), *parts[:depth])):
            link = "/".join(parts[:depth])
            raise SourceError(f"{link} under {root} is a symbolic link; shards must be regular files")
    return Shard(rel, os.lstat(path).st_size)


def remote_shards(root: s3.S3Url, suffixes: tuple[str, ...], pattern: str | None = None) -> list[Shard]:
    return [
        Shard(o.name, o.size)
        for o in s3.list_objects(root)
        if o.name.endswith(suffixes) and (pattern is None or fnmatch.fnmatchcase(o.name, pattern))
    ]


def find_shards(source: str, suffixes: tuple[str, ...]) -> ShardSet:
    """The shards a source names: one file or object, a folder or prefix
    (recursively), or a glob (`data/*.parquet`, `s3://b/p/train-*.tar`)."""
    if s3.is_s3(source):
        return _remote_set(source, suffixes)
    if has_glob(source):
        root = Path(os.path.dirname(_glob_head(source)) or ".").resolve()
        matches = sorted(p for p in glob.glob(source, recursive=True) if p.endswith(suffixes))
        shards = [_local_shard(p, Path(os.path.abspath(p)).relative_to(root).as_posix(), root) for p in matches]
        return ShardSet(str(root), shards)
    if os.path.islink(source):  # checked before resolving, which would follow it
        raise SourceError(f"{source} is a symbolic link; give the file or folder itself")
    path = Path(source).expanduser().resolve()
    if path.is_file():
        return ShardSet(str(path.parent), [_local_shard(str(path), path.name, path.parent)])
    return ShardSet(str(path), local_shards(path, suffixes))


def _glob_head(source: str) -> str:
    """The part of a glob before its first wildcard."""
    return source[: min(source.index(c) for c in GLOB_CHARS if c in source)]


def _remote_set(source: str, suffixes: tuple[str, ...]) -> ShardSet:
    found = _remote_listing(source, suffixes)
    if not found.shards and (why := s3.explain_empty(s3.S3Url.parse(found.root))):
        raise SourceError(f"cannot read {source}: {why}")
    return found


def _remote_listing(source: str, suffixes: tuple[str, ...]) -> ShardSet:
    if has_glob(source):
        prefix, _, _ = _glob_head(source).rpartition("/")
        root = s3.S3Url.parse(prefix)
        pattern = source[len(prefix) + 1 :]
        return ShardSet(str(root), remote_shards(root, suffixes, pattern))
    url = s3.S3Url.parse(source)
    if url.key.endswith(suffixes) and s3.exists(url):
        parent, _, name = url.key.rpartition("/")
        root = s3.S3Url(url.bucket, parent)
        return ShardSet(str(root), [s for s in remote_shards(root, suffixes) if s.name == name])
    return ShardSet(str(url), remote_shards(url, suffixes))
