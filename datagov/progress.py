"""Progress bars for long work: on stderr, and only on a terminal, so piped
output and logs stay clean."""

from __future__ import annotations


def progress_bar(*columns, enabled: bool = True):
    """A rich Progress with these columns; disabled when asked or not on a terminal."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    return Progress(*columns, console=console, disable=not (enabled and console.is_terminal))
