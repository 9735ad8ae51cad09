"""Re-hash a version's stored files against its manifest."""

from __future__ import annotations

from dataclasses import dataclass

from datagov.catalog.db import open_catalog
from datagov.catalog.versions import Version, files_of, resolve
from datagov.store import sha256_file, version_dir
from datagov.workspace import Workspace


@dataclass(frozen=True)
class Mismatch:
    path: str
    problem: str  # missing | size | hash | unexpected
    detail: str


def check_files(
    ws: Workspace, digest: str, manifest: list[tuple[str, str, int, int]], *, full: bool = True
) -> list[Mismatch]:
    """Every difference between the files on disk and the manifest.

    `full=False` compares sizes only (cheap enough to run before every use).
    """
    folder = version_dir(ws, digest)
    problems = []
    expected = set()
    for path, sha, _rows, size in manifest:
        expected.add(path)
        file = folder / path
        if not file.is_file():
            problems.append(Mismatch(path, "missing", "file is gone"))
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


def verify(ws: Workspace, ref: str, *, full: bool = True) -> tuple[Version, list[Mismatch]]:
    with open_catalog(ws) as con:
        version = resolve(con, ref)
        manifest = files_of(con, version.digest)
    return version, check_files(ws, version.digest, manifest, full=full)
