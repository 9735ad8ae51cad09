"""Files a user names on the command line (`--out`, `--html`, `--log`):
checked before any work starts, written whole or not at all."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from datagov.errors import InvalidInput


def check_writable(name: str | os.PathLike) -> Path:
    """The path, once we know a file can be created there; InvalidInput otherwise.
    Nothing is left behind by the check."""
    path = Path(name).expanduser()
    if path.is_dir():
        raise InvalidInput(f"cannot write {path}: it is a folder", hint="name a file, e.g. report.html")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = parent / f".{path.name}.{secrets.token_hex(4)}.probe"
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def write_atomic(name: str | os.PathLike, data: str | bytes) -> Path:
    """Write under a temporary name beside the target, then rename: a reader
    never sees half a file, and a failed write leaves nothing."""
    path = Path(name).expanduser()
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def write_report_pair(json_path: Path, doc: str, html_path: Path, page: str, copy_to: Path | None = None) -> None:
    """A report's JSON and HTML (and the HTML to `copy_to`), all or none:
    a failed write removes what was written, so no record points at half a report."""
    try:
        write_atomic(json_path, doc)
        write_atomic(html_path, page)
        if copy_to is not None:
            write_atomic(copy_to, page)
    except BaseException:
        json_path.unlink(missing_ok=True)
        html_path.unlink(missing_ok=True)
        raise
