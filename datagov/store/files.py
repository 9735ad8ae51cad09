"""Where one version's bytes are, and whether they still match its manifest.

A version lives in one of three places: a folder of the local store
(`catalog/store/<digest>/`, written by datagov), a prefix of an object store
(written by datagov, or registered in place), or a local folder registered in
place. `VersionFiles` is the one view of all three: the manifest's entries
under a root, a check that names every changed, deleted and added file, and
`usable()`, the local files a consumer may read.

For an object store, `usable()` downloads each object once per process into
a private folder, hashing the bytes as they are written, so DuckDB, GX and
training read exactly the bytes that were hashed (an object can be replaced
between any two requests; a private copy cannot). A copy is reused only while
stat says none of its files was touched since; else it is downloaded again. The copy lives in
`catalog/tmp/<pid>-<token>/` and goes at exit, or with the sweep if the
process is killed.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import secrets
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from datagov.errors import IntegrityError
from datagov.sql import sql_str
from datagov.store import s3
from datagov.store.manifest import FileEntry, sha256_file

# What `--in-place` registers per layout, and so what counts as an added file there.
SHARD_SUFFIXES = {"parquet": ".parquet", "webdataset": ".tar"}
DOWNLOADS = 8  # objects downloaded at once into a verified copy


class ChangedObjects(IntegrityError):
    """Objects whose bytes, downloaded for use, differ from the manifest."""

    def __init__(self, message: str, *, names: list[str], hint: str) -> None:
        super().__init__(message, hint=hint)
        self.names = names


@dataclass(frozen=True)
class Mismatch:
    path: str
    problem: str  # missing | size | hash | unexpected | added | cache (an ETag change is hashed, not reported)
    detail: str


@dataclass(frozen=True)
class Fingerprint:
    """What stat says about a file: a change of any of these means a writer touched it."""

    path: str
    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: str) -> Fingerprint:
        st = os.stat(path)
        return cls(path, st.st_size, st.st_mtime_ns, st.st_ino)

    def unchanged(self) -> bool:
        try:
            return Fingerprint.of(self.path) == self
        except OSError:
            return False


@dataclass(frozen=True)
class VersionFiles:
    digest: str
    root: str  # a local folder, or an s3:// URL
    entries: tuple[FileEntry, ...]
    in_place: bool = False
    layout: str = "parquet"  # parquet | webdataset (tar shards registered in place, rendered when used)

    @property
    def remote(self) -> bool:
        return s3.is_s3(self.root)

    @property
    def direct(self) -> bool:
        """Whether readers may open these files as they are (local Parquet)."""
        return not self.remote and self.layout == "parquet"

    @property
    def names(self) -> list[str]:
        return [e.path for e in self.entries]

    @property
    def sha256s(self) -> list[str]:
        return [e.sha256 for e in self.entries]

    @property
    def paths(self) -> list[str]:
        """Local paths (only for a local root; see `usable`)."""
        if self.remote:
            raise ValueError("an object store's files have no local paths; use usable()")
        return [os.path.join(self.root, name) for name in self.names]

    def scan(self, options: str = "") -> str:
        """`read_parquet([...])` of exactly the manifest's files: a file planted
        beside them is never read."""
        files = ", ".join(sql_str(path) for path in self.paths)
        return f"read_parquet([{files}]{', ' + options if options else ''})"

    def check(self, *, full: bool = True, etags: bool = True) -> list[Mismatch]:
        """Every difference between what is there and the manifest, by name.

        `full=False` compares sizes only, and in an object store also ETags
        unless `etags=False` (a caller about to download and hash every
        object needs only the listing)."""
        return _check_remote(self, full, etags) if self.remote else _check_local(self, full)

    def usable(self, tmp_dir: Path) -> VersionFiles:
        """These files as local Parquet a reader may open: the files themselves,
        a verified private copy of an object store's objects, or the image
        layout of tar shards, rendered from bytes hashed as read."""
        if self.direct:
            return self
        return _cached(self, tmp_dir, _render if self.layout == "webdataset" else _spill)


def _expected_extra(files: VersionFiles, found: list[str]) -> list[str]:
    """Files present but not in the manifest: any, in a folder datagov
    wrote; shards, in a folder or prefix registered in place."""
    expected = set(files.names)
    extra = [name for name in found if name not in expected]
    if files.in_place:
        extra = [name for name in extra if name.endswith(SHARD_SUFFIXES[files.layout])]
    return sorted(extra)


def _local_listing(root: Path, recursive: bool) -> list[str]:
    if not root.is_dir():
        return []
    if not recursive:
        return [p.name for p in root.iterdir()]
    found = []
    for folder, dirs, names in os.walk(root):  # does not follow links
        rel = os.path.relpath(folder, root)
        for name in names + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            found.append(name if rel == "." else f"{rel}/{name}")
    return found


def _check_local(files: VersionFiles, full: bool) -> list[Mismatch]:
    root = Path(files.root)
    problems = []
    for entry in files.entries:
        file = root / entry.path
        if file.is_symlink() or not file.is_file():
            problems.append(Mismatch(entry.path, "missing", "a symlink" if file.is_symlink() else "file is gone"))
            continue
        actual_size = file.stat().st_size
        if actual_size != entry.bytes:
            problems.append(Mismatch(entry.path, "size", f"{actual_size} bytes, manifest says {entry.bytes}"))
        elif full and (actual := sha256_file(file)) != entry.sha256:
            problems.append(Mismatch(entry.path, "hash", f"sha256 {actual[:12]}…, manifest says {entry.sha256[:12]}…"))
    for extra in _expected_extra(files, _local_listing(root, recursive=files.in_place)):
        problems.append(Mismatch(extra, "added" if files.in_place else "unexpected", "not in the manifest"))
    return problems


def _check_remote(files: VersionFiles, full: bool, etags: bool) -> list[Mismatch]:
    root = s3.S3Url.parse(files.root)
    listed = {o.name: o.size for o in s3.list_objects(root)}
    problems = []
    for entry in files.entries:
        if entry.path not in listed:
            problems.append(Mismatch(entry.path, "missing", "object is gone"))
            continue
        if listed[entry.path] != entry.bytes:
            problems.append(Mismatch(entry.path, "size", f"{listed[entry.path]} bytes, manifest says {entry.bytes}"))
            continue
        # An ETag other than the recorded one is not yet a change: the same
        # bytes registered under a second root may have been uploaded in other parts.
        if full or (etags and entry.etag and s3.etag(root.child(entry.path)) != entry.etag):
            sha, _size, _etag = s3.read_hashed(root.child(entry.path))
            if sha != entry.sha256:
                problems.append(Mismatch(entry.path, "hash", f"sha256 {sha[:12]}…, manifest says {entry.sha256[:12]}…"))
    for extra in _expected_extra(files, list(listed)):
        problems.append(Mismatch(extra, "added" if files.in_place else "unexpected", "not in the manifest"))
    return problems


# (root, digest) -> the verified copy and the stat of each of its files right after it was hashed
_spilled: dict[tuple[str, str], tuple[VersionFiles, list[Fingerprint]]] = {}
_spill_dirs: list[Path] = []


def _spill_dir(tmp_dir: Path) -> Path:
    """This process's private folder for verified copies (swept by pid if killed)."""
    for folder in _spill_dirs:
        if folder.parent == tmp_dir:
            return folder
    tmp_dir.mkdir(parents=True, exist_ok=True)
    folder = tmp_dir / f"{os.getpid()}-{secrets.token_hex(6)}"
    folder.mkdir()
    if not _spill_dirs:
        atexit.register(_remove_spills)
    _spill_dirs.append(folder)
    return folder


def _remove_spills() -> None:
    for folder in _spill_dirs:
        shutil.rmtree(folder, ignore_errors=True)
    _spill_dirs.clear()
    _spilled.clear()


def _cached(files: VersionFiles, tmp_dir: Path, make) -> VersionFiles:
    """The process's verified local copy of `files`, made by `make` once and
    reused only while stat says none of its files was touched since."""
    key = (files.root, files.digest)
    if key in _spilled:
        copy, prints = _spilled[key]
        if all(fp.unchanged() for fp in prints):
            return copy
        del _spilled[key]
    target = _spill_dir(tmp_dir) / files.digest
    shutil.rmtree(target, ignore_errors=True)
    try:
        copy = make(files, target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    _spilled[key] = (copy, [Fingerprint.of(path) for path in copy.paths])
    return copy


def _spill(files: VersionFiles, target: Path) -> VersionFiles:
    """Download each object (several at once), hashing the bytes as they are written."""
    from concurrent.futures import ThreadPoolExecutor

    root = s3.S3Url.parse(files.root)

    def fetch(entry: FileEntry) -> str | None:
        """None when the copy matches the manifest, else what is wrong."""
        dest = target / entry.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            sha, size, _etag = s3.download_hashed(root.child(entry.path), dest)
        except s3.StoreError:
            if s3.exists(root.child(entry.path)):
                raise  # there, but unreadable: the store's error says why
            return f"{entry.path} (gone)"
        return None if sha == entry.sha256 and size == entry.bytes else entry.path

    with ThreadPoolExecutor(DOWNLOADS) as pool:
        changed = [problem for problem in pool.map(fetch, files.entries) if problem]
    if changed:
        raise ChangedObjects(
            f"{len(changed)} object(s) under {files.root} no longer match the manifest of "
            f"{files.digest[:12]}: {', '.join(changed[:5])}",
            hint="see `datagov datasets verify`; restore the objects or ingest the data again",
            names=changed,
        )
    return replace(files, root=str(target), in_place=False)


def _render(files: VersionFiles, target: Path) -> VersionFiles:
    """Tar shards (local or in a bucket) as the image layout, decoded from
    bytes hashed as read and checked against the manifest (imported when
    needed: decoding pulls in worker pools and image libraries)."""
    from datagov.store.images.render import render_in_place
    from datagov.store.manifest import build_manifest
    from datagov.store.shards import Shard, ShardSet

    target.mkdir(parents=True)
    shards = ShardSet(files.root, [Shard(e.path, e.bytes) for e in files.entries])
    render_in_place(shards, {e.path: (e.sha256, e.rows) for e in files.entries}, target)
    rendered = build_manifest(target)
    return VersionFiles(files.digest, str(target), tuple(rendered.files))


def read_verified(file: str, sha256: str | None):
    """A Parquet file (pyarrow's ParquetFile) read whole into memory and
    checked against its manifest hash: what is parsed is exactly what was hashed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(file, "rb") as fh:
        data = fh.read()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise IntegrityError(
            f"{os.path.basename(file)} changed since it was checked; refusing to read it",
            hint="see `datagov datasets verify NAME`",
        )
    return pq.ParquetFile(pa.BufferReader(data))
