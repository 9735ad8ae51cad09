"""Is the process that wrote something still running? The one liveness rule
for staging folders, uploads, cache temp files, runs and audits."""

from __future__ import annotations

import hashlib
import os
import socket


def pid_alive(pid: int) -> bool:
    """Is a process with this id running on this machine?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_gone(pid: int, host: str | None = None) -> bool:
    """Is the process that wrote a row or a file certainly gone? Only a
    process on this machine (and not this one) can be told to be."""
    if host is not None and host != socket.gethostname():
        return False  # cannot tell: leave another machine's work alone
    return pid != os.getpid() and not pid_alive(pid)


def host_id() -> str:
    """A short, name-safe stand-in for this machine's host name (in object keys)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
