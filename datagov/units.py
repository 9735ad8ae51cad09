"""Sizes as people read them, in the terminal and on the web desk alike."""

from __future__ import annotations


def human_bytes(n: int | None, *, si: bool = False) -> str:
    """1.5 MiB; with `si`, powers of 1000 (1.6 MB), as the EU's model card template writes sizes."""
    if n is None:
        return "-"
    step, units = (1000, ("B", "KB", "MB", "GB", "TB")) if si else (1024, ("B", "KiB", "MiB", "GiB", "TiB"))
    size = float(n)
    for unit in units:
        if size < step or unit == units[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= step
    return f"{n} B"
