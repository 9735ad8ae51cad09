"""Re-hash a version's stored files (and the caches derived from it)
against the catalog, and refuse to use bytes that differ.

`require_intact` is what every consumer (gate, validation, training) calls
before reading a version: full sha256 of every file, and a stat fingerprint
of each that the consumer compares again after reading, so a file changed
while it was being read is caught too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from datagov.catalog.caches import CacheRecord, caches_of
from datagov.catalog.db import open_catalog
from datagov.catalog.versions import Version, files_of, resolve
from datagov.errors import IntegrityError
from datagov.store import sha256_file, store_of, version_dir
from datagov.workspace import Workspace


@dataclass(frozen=True)
class Mismatch:
    path: str
    problem: str  # missing | size | hash | unexpected | cache
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


def check_files(
    ws: Workspace, digest: str, manifest: list[tuple[str, str, int, int]], *, full: bool = True
) -> list[Mismatch]:
    """Every difference between the files on disk and the manifest.

    `full=False` compares sizes only (`datagov datasets verify --quick`).
    """
    folder = version_dir(ws, digest)
    problems = []
    expected = set()
    for path, sha, _rows, size in manifest:
        expected.add(path)
        file = folder / path
        if file.is_symlink() or not file.is_file():
            problems.append(Mismatch(path, "missing", "file is gone" if not file.is_symlink() else "a symlink"))
            continue
        actual_size = file.stat().st_size
        if actual_size != size:
            problems.append(Mismatch(path, "size", f"{actual_size} bytes, manifest says {size}"))
        elif full and (actual := sha256_file(file)) != sha:
            problems.append(Mismatch(path, "hash", f"sha256 {actual[:12]}…, manifest says {sha[:12]}…"))
    if folder.is_dir():
        for extra in sorted(p.name for p in folder.iterdir() if p.name not in expected):
            problems.append(Mismatch(extra, "unexpected", "not in the manifest"))
    return problems


def check_caches(
    ws: Workspace, digest: str, *, remove: bool = True, records: list[CacheRecord] | None = None
) -> list[Mismatch]:
    """Cache files derived from `digest` whose bytes differ from their record
    (`records`, read from the catalog when not given). A differing cache is
    removed (`remove`): it is rebuilt from verified bytes on next use."""
    if records is None:
        with open_catalog(ws) as con:
            records = caches_of(con, digest)
    problems = []
    for record in records:
        path = ws.cache_dir / digest / record.name
        if not path.is_file():
            continue  # deleting a cache is allowed: it is rebuilt
        if path.stat().st_size != record.bytes or sha256_file(path) != record.sha256:
            problems.append(Mismatch(f"cache/{record.name}", "cache", "differs from its recorded sha256"))
            if remove:
                path.unlink(missing_ok=True)
    return problems


def require_intact(ws: Workspace, version: Version, manifest: list, *, purpose: str) -> list[Fingerprint]:
    """Full sha256 of every file, or IntegrityError naming each that differs."""
    problems = check_files(ws, version.digest, manifest, full=True)
    if problems:
        listed = "; ".join(f"{p.path}: {p.problem} ({p.detail})" for p in problems[:5])
        raise IntegrityError(
            f"{version.ref} no longer matches its manifest, refusing to {purpose}: {listed}",
            hint=f"see `datagov datasets verify {version.ref}`; restore the files or ingest the data again",
        )
    return [Fingerprint.of(path) for path in store_of(ws).file_paths(version.digest, [p for p, *_ in manifest])]


def require_unchanged(version: Version, fingerprints: list[Fingerprint], *, purpose: str) -> None:
    """Refuse when a file changed after `require_intact` hashed it."""
    changed = []
    for fp in fingerprints:
        try:
            if Fingerprint.of(fp.path) != fp:
                changed.append(os.path.basename(fp.path))
        except OSError:
            changed.append(os.path.basename(fp.path))
    if changed:
        raise IntegrityError(
            f"{version.ref} changed while it was read, refusing to {purpose}: {', '.join(changed[:5])}",
            hint=f"see `datagov datasets verify {version.ref}`",
        )


def verify(ws: Workspace, ref: str, *, full: bool = True) -> tuple[Version, list[Mismatch]]:
    with open_catalog(ws) as con:
        version = resolve(con, ref)
        manifest = files_of(con, version.digest)
    problems = check_files(ws, version.digest, manifest, full=full)
    if full:
        problems += check_caches(ws, version.digest)
    return version, problems
