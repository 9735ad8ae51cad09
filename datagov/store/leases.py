"""Read leases: a process that reads a version's bytes holds a shared lock on
one byte of `catalog/.leases` (the byte at the digest's first 60 bits) until
its command ends. Deleting those bytes (a purge, a delete, gc) first takes
the same byte exclusively, without waiting: a version someone is training or
validating on is refused by name, not pulled from under them.

These are POSIX record locks: the kernel drops them when the process ends,
however it ends, and one file serves every version, so reading writes no
file into the workspace (`datagov init` makes `.leases`). Record locks
belong to the process and vanish when it closes any descriptor of the
file, so each process keeps exactly one open per workspace. Two digests that
share 60 bits would only make a purge wait: a failure on the safe side.

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

LEASES = ".leases"
_files: dict[str, int] = {}  # leases file -> this process's one descriptor of it
_held: set[tuple[int, int]] = set()  # (descriptor, byte) of this process's shared leases


def _descriptor(ws: Workspace) -> int:
    path = str(ws.catalog_dir / LEASES)
    if path not in _files:
        _files[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    return _files[path]


def _byte(digest: str) -> int:
    return int(digest[:15], 16)


def hold_read_lease(ws: Workspace, digest: str) -> None:
    """Mark this version as being read by this process, until it exits or
    calls `release_read_leases` (the CLI does after each command; a
    long-lived process using the library does after each use)."""
    if not DIGEST_NAME.match(digest):
        return
    fd, byte = _descriptor(ws), _byte(digest)
    if (fd, byte) in _held:
        return
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, byte)
    except OSError:  # being deleted right now: the read fails its hash check instead
        return
    _held.add((fd, byte))


def release_read_leases() -> None:
    for fd, byte in _held:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, byte)
    _held.clear()


@contextmanager
def no_readers(ws: Workspace, digests: list[str]) -> Iterator[list[str]]:
    """Hold every digest's lease exclusively for the block; yields those another
    process is reading (the caller refuses then). This process's own reads do
    not count: an erasure reads what it then purges."""
    fd = _descriptor(ws)
    taken, busy = [], []
    try:
        for digest in sorted({d for d in digests if DIGEST_NAME.match(d)}):
            byte = _byte(digest)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, byte)  # replaces this process's shared lock
            except OSError:
                busy.append(digest)
                continue
            _held.discard((fd, byte))
            taken.append(byte)
        yield busy
    finally:
        for byte in taken:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, byte)
