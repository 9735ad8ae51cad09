"""The local store: one folder per digest under `catalog/store/`.

A version's files are written to a private staging folder, hashed, and then
moved into `store/<digest>/` with one atomic rename while the catalog lock is
held. A process killed at any point leaves either nothing visible or a
staging folder / unreferenced store folder that the next writer removes.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from datagov.errors import InvalidInput
from datagov.workspace import Workspace

DIGEST_NAME = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Staged:
    """A version's files, written and hashed, not yet part of the catalog."""

    folder: Path
    digest: str
    pending: Path  # the note `note_pending` writes
    remote: str | None = None  # where an object store holds the uploaded copy (None once deleted)
    published: bool = False

    @classmethod
    def of(cls, ws: Workspace, folder: Path, digest: str, remote: str | None = None) -> Staged:
        """A note for a staged folder is named after the staging folder it lies
        in (`tmp/<pid>-<token>.<digest12>.pending`): `staging` removes it
        with that folder, the sweep reads it when its writer is gone."""
        root = folder.relative_to(ws.tmp_dir).parts[0]
        return cls(folder, digest, ws.tmp_dir / f"{root}.{digest[:12]}{PENDING_SUFFIX}", remote)

    def note_pending(self) -> None:
        """Written before bytes reach the store: a writer killed before COMMIT
        leaves it, and the sweep undoes exactly what it names (the store is
        never listed to find debris)."""
        self.pending.write_text(json.dumps({"digest": self.digest, "remote": self.remote}))


PENDING_SUFFIX = ".pending"
PENDING_NAME = re.compile(r"^(\d+)-[0-9a-f]{12}\.[0-9a-f]{12}\.pending$")


def read_pending(note: Path) -> Staged | None:
    """The Staged a dead writer's note names, or None for a note that is not
    one datagov wrote (it is removed either way)."""
    try:
        doc = json.loads(note.read_text()[:4096])
        digest, remote = doc["digest"], doc["remote"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(digest, str) or not DIGEST_NAME.match(digest):
        return None
    if remote is not None and not isinstance(remote, str):
        return None
    return Staged(note.parent / note.name.split(".")[0], digest, note, remote=remote, published=True)


@contextmanager
def staging(ws: Workspace) -> Iterator[Path]:
    """A private folder for work in progress, removed unless moved away."""
    ws.tmp_dir.mkdir(parents=True, exist_ok=True)
    path = ws.tmp_dir / f"{os.getpid()}-{secrets.token_hex(6)}"
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        for note in ws.tmp_dir.glob(f"{path.name}.*{PENDING_SUFFIX}"):
            note.unlink(missing_ok=True)


def owned_folder(ws: Workspace, folder: Path) -> bool:
    """Is `folder` this workspace's own (a real folder inside its catalog/,
    not a link into another workspace)? Nothing else is ever swept or written."""
    if not folder.is_dir() or folder.is_symlink():
        return False
    return folder.resolve().parent == ws.catalog_dir.resolve()


class LocalStore:
    """Versions as folders of Parquet under `catalog/store/<digest>/`."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.root = ws.store_dir

    def stage(self, folder: Path, digest: str) -> Staged:
        return Staged.of(self.ws, folder, digest)

    def publish(self, staged: Staged, *, referenced: bool) -> str | None:
        """Move a staged version into the store (call with the catalog lock
        held, as the last step before COMMIT). A store folder no catalog row
        references is debris from a killed process and is replaced; one that
        is `referenced` already holds these bytes. Returns None: a local
        version's place follows from its digest."""
        if self.root.exists() and not owned_folder(self.ws, self.root):
            raise InvalidInput(
                f"{self.root} is a link or lies outside {self.ws.catalog_dir}; datagov writes only into its own store",
                hint="replace the link with a folder (each workspace keeps its own store)",
            )
        target = self.root / staged.digest
        if target.exists():
            if referenced:
                return None
            shutil.rmtree(target)
        self.root.mkdir(parents=True, exist_ok=True)
        staged.note_pending()
        os.replace(staged.folder, target)
        staged.published = True
        return None

    def discard(self, staged: Staged) -> None:
        """Undo a publish whose transaction failed (the staging folder itself
        goes with `staging`)."""
        if staged.published:
            shutil.rmtree(self.root / staged.digest, ignore_errors=True)
            staged.published = False

    def sweep(self, pending: list[Staged], referenced_digests: set[str], referenced_roots: set[str]) -> list[str]:
        """The store folders that dead writers' notes name and no catalog row
        references (killed between the rename and COMMIT)."""
        if not owned_folder(self.ws, self.root):
            return []
        removed = []
        for staged in pending:
            target = self.root / staged.digest
            if staged.digest not in referenced_digests and target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
                removed.append(f"store/{staged.digest}")
        return removed
