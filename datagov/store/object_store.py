"""A workspace store in S3 or an S3-compatible bucket (`[store] url = "s3://bucket/prefix"`).

Object stores have no rename, so a version is uploaded, outside the catalog
lock, to a prefix of its own named after its writer
(`<prefix>/<pid>-<host>-<token>/`), and becomes part of the catalog when the
transaction that records that prefix commits. Before uploading, the writer
leaves a note in `catalog/tmp/` naming the prefix; a process killed before
COMMIT leaves note and prefix, and the next writer deletes the prefix if no
catalog row references it (the catalog is a local file, so every writer is
on this machine and its pid tells whether it is gone). The bucket is never
listed to find debris, and nothing but a writer-named prefix directly under
the store's own prefix is ever deleted.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from datagov import faults
from datagov.processes import host_id
from datagov.store import s3
from datagov.store.local import PENDING_SUFFIX, Staged
from datagov.workspace import Workspace

UPLOAD_NAME = re.compile(r"^(\d+)-([0-9a-f]{8})-([0-9a-f]{12})$")


class S3Store:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.prefix = s3.S3Url.parse(ws.store_url)

    @property
    def url(self) -> str:
        return str(self.prefix)

    def stage(self, folder: Path, digest: str) -> Staged:
        """Upload the staged files to a writer-named prefix (no lock held)."""
        remote = self.prefix.child(f"{os.getpid()}-{host_id()}-{secrets.token_hex(6)}")
        names = sorted(p.name for p in folder.iterdir() if p.is_file())
        staged = Staged.of(self.ws, folder, digest, remote=str(remote))
        staged.note_pending()
        started: list[str] = []
        try:
            s3.upload_folder(folder, remote, names, started)
        except BaseException:
            if not started:  # the store took nothing: no note is needed to clean up after this writer
                staged.remote = None
                staged.pending.unlink(missing_ok=True)
            self.discard(staged)
            raise
        faults.point("s3:uploaded")
        return staged

    def publish(self, staged: Staged, *, referenced: bool) -> str | None:
        """The uploaded prefix, to be recorded in the same transaction; None
        when these bytes are already a version somewhere (the upload goes)."""
        if referenced:
            self.discard(staged)
            return None
        staged.published = True
        return staged.remote

    def discard(self, staged: Staged) -> None:
        """Delete the upload; if the store cannot be reached now, keep its note
        under a name `staging` does not remove, so a later writer deletes it."""
        if staged.remote is None:
            return  # nothing uploaded, or already deleted
        try:
            s3.delete_prefix(s3.S3Url.parse(staged.remote))
        except s3.StoreError:
            if staged.pending.exists():
                name = f"{os.getpid()}-{secrets.token_hex(6)}.{staged.digest[:12]}{PENDING_SUFFIX}"
                kept = staged.pending.with_name(name)
                staged.pending.rename(kept)
                staged.pending = kept
            return
        staged.remote, staged.published = None, False

    def sweep(self, pending: list[Staged], referenced_digests: set[str], referenced_roots: set[str]) -> list[str]:
        """The uploads dead writers' notes name that no catalog row references.
        Only a writer-named prefix directly under this store is ever deleted:
        a note is a file a user can edit."""
        removed = []
        for staged in pending:
            remote = staged.remote
            if remote is None or remote in referenced_roots:
                continue
            parent, _, name = remote.rpartition("/")
            if parent != self.url or not UPLOAD_NAME.match(name):
                continue
            s3.delete_prefix(s3.S3Url.parse(remote))
            removed.append(remote)
        return removed
