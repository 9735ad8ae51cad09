"""Files a user names on the command line (`--out`, `--html`, `--log`):
checked before any work starts, written whole or not at all."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from datagov.errors import InvalidInput
from datagov.store.derived import temporary_beside
from datagov.workspace import Workspace

# The one folder of workspace state that commands may write user-named files into.
EXPORTS = "exports"


def protected_paths(ws: Workspace) -> list[Path]:
    """The workspace's own state: a user-named output must never replace it."""
    return [ws.catalog_dir, ws.expectations_dir, ws.pipelines_dir, ws.root / "datagov.toml"]


def check_writable(name: str | os.PathLike, ws: Workspace) -> Path:
    """The path, once we know a regular file can be written there without
    touching the workspace's own state; InvalidInput otherwise. The check
    leaves nothing behind: no probe file, no folder."""
    path = Path(name).expanduser()
    if path.is_dir():
        raise InvalidInput(f"cannot write {path}: it is a folder", hint="name a file, e.g. report.html")
    if path.is_symlink():
        raise InvalidInput(f"cannot write {path}: it is a link", hint="name the file itself (datagov writes no links)")
    if path.exists() and not path.is_file():
        raise InvalidInput(f"cannot write {path}: it is not a regular file", hint="name a regular file")
    _refuse_workspace_state(path, ws)
    folder = _nearest_existing(path.parent)
    if not folder.is_dir():
        raise InvalidInput(f"cannot write {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidInput(f"cannot write {path}: {folder} is not writable")
    return path


def _nearest_existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _refuse_workspace_state(path: Path, ws: Workspace) -> None:
    target = path.resolve()  # through links in its folders: they must not lead into the state either
    exports = ws.catalog_dir.resolve() / EXPORTS
    if target.is_relative_to(exports):
        return
    for protected in protected_paths(ws):
        if target == protected.resolve() or target.is_relative_to(protected.resolve()):
            raise InvalidInput(
                f"cannot write {path}: it is inside the workspace's own state ({protected.name})",
                hint=f"write it elsewhere, e.g. {ws.catalog_dir.name}/{EXPORTS}/{path.name}",
            )


def write_atomic(name: str | os.PathLike, data: str | bytes) -> Path:
    """Write under a temporary name beside the target, then rename: a reader
    never sees half a file, and a failed write leaves nothing (not even the
    folders made for it)."""
    path = Path(name).expanduser()
    made = _make_parents(path.parent)
    tmp = temporary_beside(path)  # the sweep's naming: a dead writer's leftover is removed
    try:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _make_parents(folder: Path) -> list[Path]:
    """Create the missing folders above a file; returns those made, outermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    made = []
    for each in reversed(missing):
        try:
            each.mkdir()
        except FileExistsError:
            continue
        except OSError:
            break  # the write below reports why
        made.append(each)
    return made


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
