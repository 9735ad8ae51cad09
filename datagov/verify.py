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
from datagov.catalog.locations import locate
from datagov.catalog.versions import Version, resolve
from datagov.errors import IntegrityError
from datagov.store import Mismatch, VersionFiles, sha256_file
from datagov.store.files import ChangedObjects, Fingerprint
from datagov.workspace import Workspace


def check_files(files: VersionFiles, *, full: bool = True) -> list[Mismatch]:
    """Every difference between a version's files and its manifest, by name
    (`full=False`: sizes, and ETags in an object store, only)."""
    return files.check(full=full)


def damaged_stored_copy(ws: Workspace, dataset: str, digest: str) -> bool:
    """Whether `dataset` already holds version `digest` as stored files (not
    in place) and the store's copy no longer matches its manifest: the same
    content ingested again then replaces it. The hashing happens here, with
    the catalog lock released, not inside the registering transaction."""
    from datagov.errors import NotFound

    with open_catalog(ws) as con:
        try:
            resolve(con, f"{dataset}@{digest}")
        except NotFound:
            return False
        files = locate(ws, con, digest, dataset)
    return not files.in_place and bool(files.check(full=True))


def check_for_use(ws: Workspace, files: VersionFiles) -> tuple[list[Mismatch], VersionFiles | None]:
    """Every difference by name, and the local files to read when there is
    none. Local Parquet is hashed where it is. An object store's version, or
    tar shards registered in place, are listed first (sizes, added and
    deleted files), then read once into the verified private copy (hashed as
    read, so the listing need not hash)."""
    if files.direct:
        problems = files.check(full=True)
        return problems, None if problems else files
    problems = files.check(full=False, etags=False)  # the download below hashes every byte
    if problems:
        return problems, None
    try:
        return [], files.usable(ws.tmp_dir)
    except ChangedObjects as exc:
        return [Mismatch(name, "hash", "bytes differ from the manifest") for name in exc.names], None


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


@dataclass(frozen=True)
class Intact:
    """Local files whose bytes were just hashed, and their stat fingerprints."""

    files: VersionFiles
    fingerprints: list[Fingerprint]


def require_intact(ws: Workspace, version: Version, files: VersionFiles, *, purpose: str) -> Intact:
    """Full sha256 of every file (of a verified local copy, for an object
    store), or IntegrityError naming each that differs."""
    problems, usable = check_for_use(ws, files)
    if problems or usable is None:
        listed = "; ".join(f"{p.path}: {p.problem} ({p.detail})" for p in problems[:5])
        raise IntegrityError(
            f"{version.ref} no longer matches its manifest, refusing to {purpose}: {listed}",
            hint=f"see `datagov datasets verify {version.ref}`; restore the files or ingest the data again",
        )
    return Intact(usable, [Fingerprint.of(path) for path in usable.paths])


def require_unchanged(version: Version, fingerprints: list[Fingerprint], *, purpose: str) -> None:
    """Refuse when a file changed after `require_intact` hashed it."""
    changed = [os.path.basename(fp.path) for fp in fingerprints if not fp.unchanged()]
    if changed:
        raise IntegrityError(
            f"{version.ref} changed while it was read, refusing to {purpose}: {', '.join(changed[:5])}",
            hint=f"see `datagov datasets verify {version.ref}`",
        )


def verify_version(ws: Workspace, ref: str, *, full: bool = True) -> tuple[Version, VersionFiles, list[Mismatch]]:
    with open_catalog(ws) as con:
        version = resolve(con, ref)
        files = locate(ws, con, version.digest, version.dataset)
    problems = check_files(files, full=full)
    if full:
        problems += check_caches(ws, version.digest)
    return version, files, problems
