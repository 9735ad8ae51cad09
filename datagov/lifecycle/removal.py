"""Removing store bytes once the catalog no longer references them, crash-safe.

The transaction that drops a version's rows also writes a `store_deletions`
row naming its bytes; only after COMMIT are the bytes removed, and then the
row. A process killed before COMMIT changed nothing; one killed after it
leaves the row, and the next `datagov gc` (or any removal) finishes it.
Only roots this catalog recorded are deleted, and only inside this
workspace's own store: never an in-place source, never another workspace's
folder or bucket prefix.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from datagov import faults
from datagov.catalog.db import open_catalog, transaction
from datagov.catalog.lifecycle import StoreDeletion, finish_store_deletion, store_deletions
from datagov.errors import InvalidInput
from datagov.store import owned_folder
from datagov.store.local import DIGEST_NAME
from datagov.workspace import Workspace


@dataclass
class Removed:
    """What a removal deleted from the store, file by file (a purge's proof)."""

    files: list[dict] = field(default_factory=list)  # {where, path, sha256, bytes, gone}
    skipped: list[str] = field(default_factory=list)  # roots outside this workspace's store

    @property
    def bytes(self) -> int:
        return sum(f["bytes"] for f in self.files)

    def add(self, other: Removed) -> None:
        self.files += other.files
        self.skipped += other.skipped


def finish_deletions(ws: Workspace) -> Removed:
    """Remove the bytes every pending deletion names, then their rows (an
    erasure's purge finishes its own: its proof lists them). Safe to run
    again at any point."""
    with open_catalog(ws) as con:
        pending = [d for d in store_deletions(con) if d.erasure_id is None]
    removed = Removed()
    for deletion in pending:
        removed.add(remove_bytes(ws, deletion))
        faults.point("gc:bytes-removed")
    if pending:  # one transaction for all: a kill before it leaves rows whose bytes are gone, removed again
        with open_catalog(ws, write=True) as con, transaction(con):
            for deletion in pending:
                finish_store_deletion(con, deletion.digest, deletion.root)
    return removed


def remove_bytes(ws: Workspace, deletion: StoreDeletion) -> Removed:
    if not deletion.root:
        return _remove_local(ws, deletion)
    return _remove_remote(ws, deletion)


def _remove_local(ws: Workspace, deletion: StoreDeletion) -> Removed:
    out = Removed()
    folder = ws.store_dir / deletion.digest
    if not DIGEST_NAME.match(deletion.digest) or not owned_folder(ws, ws.store_dir):
        out.skipped.append(str(folder))
        return out
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)
    cache = ws.cache_dir / deletion.digest
    if owned_folder(ws, ws.cache_dir) and cache.is_dir() and not cache.is_symlink():
        shutil.rmtree(cache)
    for f in deletion.files:
        out.files.append({**f, "where": f"store/{deletion.digest}", "gone": not (folder / f["path"]).exists()})
    return out


def _remove_remote(ws: Workspace, deletion: StoreDeletion) -> Removed:
    """A bucket prefix is deleted only when it lies directly under this
    workspace's store prefix (a location row is text someone could edit)."""
    from datagov.store import s3
    from datagov.store.object_store import UPLOAD_NAME

    out = Removed()
    parent, _, name = deletion.root.rpartition("/")
    if not ws.store_url or parent != str(s3.S3Url.parse(ws.store_url)) or not UPLOAD_NAME.match(name):
        out.skipped.append(deletion.root)
        return out
    prefix = s3.S3Url.parse(deletion.root)
    s3.delete_prefix(prefix)
    left = {o.name for o in s3.list_objects(prefix)}
    for f in deletion.files:
        out.files.append({**f, "where": deletion.root, "gone": f["path"] not in left})
    return out


def refuse_busy(busy: list[str], what: str, again: str) -> None:
    """A version another process is reading is not deleted under it."""
    if busy:
        shown = ", ".join(d[:12] for d in busy[:5])
        raise InvalidInput(
            f"{what} waits: another datagov process is reading version(s) {shown} (training, validation, ...)",
            hint=f"nothing was deleted; run `{again}` when it has finished",
        )
