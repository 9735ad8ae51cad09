"""Work in a daemon thread whose value (or error) the caller collects later,
optionally within a deadline. A daemon, so a command that fails meanwhile
exits at once instead of waiting for it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class StillRunning(Exception):
    """The deadline passed first (not a TimeoutError, which the work itself may raise)."""


def in_background(fn: Callable[..., Any], *args: Any, thread_name: str = "datagov-background", **kwargs: Any):
    """Start `fn(*args, **kwargs)`; returns `result(timeout=None)`, which waits
    for its value or raises its error, and raises StillRunning when the
    timeout passes first (the work goes on; stopping it is the caller's)."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller, raised there
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=thread_name, daemon=True)
    thread.start()

    def result(timeout: float | None = None):
        thread.join(timeout)
        if thread.is_alive():
            raise StillRunning(f"{thread_name} still running after {timeout:g} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return result
