"""Read leases: a process that reads a version's bytes holds a shared lock on
`catalog/tmp/leases/<digest>.lease` until its command ends (an OS lock,
released by the kernel when the process ends, however it ends). Deleting those bytes
(a purge, a delete, gc) first takes the same lock exclusively, without
waiting: a version someone is training or validating on is refused by name,
not pulled from under them.

The lock is on this machine's file system: on a team catalog, readers on
other machines are not seen, and a reader whose bytes vanish stops with an
integrity error (every read is hashed), never with other data.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from datagov.store.local import DIGEST_NAME
from datagov.workspace import Workspace

_held: dict[str, int] = {}  # digest -> descriptor holding this process's shared lease


def _path(ws: Workspace, digest: str):
    folder = ws.tmp_dir / "leases"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{digest}.lease"


def hold_read_lease(ws: Workspace, digest: str) -> None:
    """Mark this version as being read by this process, until it exits or
    calls `release_read_leases` (the CLI does after each command; a
    long-lived process using the library does after each use)."""
    if digest in _held or not DIGEST_NAME.match(digest):
        return
    fd = os.open(_path(ws, digest), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:  # being deleted right now: the read fails its hash check instead
        os.close(fd)
        return
    _held[digest] = fd


@contextmanager
def no_readers(ws: Workspace, digests: list[str]) -> Iterator[list[str]]:
    """Hold every digest's lease exclusively for the block; yields those another
    process is reading (none held then: the caller refuses)."""
    taken, busy = [], []
    try:
        for digest in sorted(set(digests)):
            if not DIGEST_NAME.match(digest):
                continue
            if digest in _held:  # this process read it (an erasure reads what it purges): not another reader
                os.close(_held.pop(digest))
            fd = os.open(_path(ws, digest), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                taken.append(fd)
            except BlockingIOError:
                os.close(fd)
                busy.append(digest)
        yield busy
    finally:
        for fd in taken:
            os.close(fd)


def release_read_leases() -> None:
    for fd in _held.values():
        os.close(fd)
    _held.clear()
