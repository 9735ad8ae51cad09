"""Reading configuration a user can replace (suites, specs): bounded in size,
UTF-8 or a clear error, never a traceback."""

from __future__ import annotations

from pathlib import Path

from datagov.errors import InvalidInput


def read_utf8(path: Path, what: str, limit: int) -> str:
    """The text of `path`; `what` names it in errors ("suite 'x'", "pipeline spec p.yaml")."""
    size = path.stat().st_size
    if size > limit:
        raise InvalidInput(f"{what} is {size:,} bytes, over the {limit:,}-byte limit")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{what} is not UTF-8 text (byte {exc.start})") from None
