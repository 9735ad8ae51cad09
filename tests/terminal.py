"""Run the real `datagov` under a pseudo-terminal, as a user's shell does:
Rich then draws live progress and colours, which a pipe never shows (the
crash a progress bar can hide from every other test)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@dataclass
class TerminalRun:
    returncode: int
    raw: str  # everything the terminal received, escape sequences included

    @property
    def text(self) -> str:
        """What a person would read: escapes removed, carriage returns as new lines."""
        return ANSI.sub("", self.raw).replace("\r\n", "\n").replace("\r", "\n")


def run_in_terminal(*args: str | os.PathLike, cwd: Path | None = None, width: int = 100, timeout: float = 600,
                    env: dict | None = None) -> TerminalRun:  # fmt: skip
    """`python -m datagov ARGS` with stdin, stdout and stderr on a terminal of `width` columns."""
    controller, terminal = pty.openpty()
    full_env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(width), "LINES": "40", **(env or {})}
    full_env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "datagov", *map(str, args)],
        cwd=cwd, env=full_env, stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True,
    )  # fmt: skip
    os.close(terminal)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                try:
                    data = os.read(controller, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise TimeoutError(f"datagov {' '.join(map(str, args))} ran past {timeout} s")
        returncode = proc.wait(timeout=30)
    finally:
        os.close(controller)
    return TerminalRun(returncode, b"".join(chunks).decode("utf-8", "replace"))
