"""The one way datagov writes a file it derives (a cache, a report, a suite):
under a temporary name beside the target, then renamed into place, so a
reader never sees half a file. The temporary name starts with the writer's
pid (`.<pid>-<token>-<name>.tmp`), which is how the sweep (`catalog.db.sweep`)
tells a dead writer's debris from a live writer's work."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from datagov.workspace import Workspace

# `.<pid>-<8 hex>-<name>.tmp`: what `temporary_beside` makes and the sweep removes once its pid is gone
TEMP_NAME = re.compile(r"^\.(\d+)-[0-9a-f]{8}-.+\.tmp$")


def cache_file(ws: Workspace, digest: str, name: str) -> Path:
    """Where a file derived from one version lives: `catalog/cache/<digest>/<name>`
    (recorded in the `caches` table and re-hashed before use by its owner)."""
    return ws.cache_dir / digest / name


def temporary_beside(path: Path) -> Path:
    return path.with_name(f".{os.getpid()}-{secrets.token_hex(4)}-{path.name}.tmp")


@contextmanager
def written(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it becomes `path` (atomically),
    on any failure it is removed. The folder is made if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_beside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> Path:
    with written(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
