"""Fault injection for crash-safety tests.

`DATAGOV_FAULT=<point>` makes the process kill itself with SIGKILL when it
reaches that named point, so tests can crash a real process at exactly the
moments that matter (after staging, after the store rename, before COMMIT).
Unset, a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal


def point(name: str) -> None:
    if os.environ.get("DATAGOV_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
