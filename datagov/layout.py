"""Creating a workspace: its folders, settings file and migrated catalog.

Apart from `workspace.py` (which only finds and reads a workspace) so that
the catalog can depend on the workspace without the workspace depending on
the catalog.
"""

from __future__ import annotations

import os
from pathlib import Path

from datagov.catalog.db import open_catalog
from datagov.errors import InvalidInput
from datagov.workspace import CATALOG_README, CONFIG_NAME, DEFAULT_CONFIG, GITIGNORE, Workspace, load_workspace


def init_workspace(root: str | os.PathLike) -> tuple[Workspace, bool]:
    """Create the layout under `root` (idempotent); returns (workspace, created)."""
    path = Path(root).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise InvalidInput(f"cannot create a workspace at {path}: it is a file")
    created = not (path / CONFIG_NAME).exists()
    for sub in ("catalog", "catalog/store", "catalog/reports", "expectations", "pipelines"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    if created:
        (path / CONFIG_NAME).write_text(DEFAULT_CONFIG)
    for name, text in (("README.md", CATALOG_README), (".gitignore", GITIGNORE)):
        target = path / "catalog" / name
        if not target.exists():
            target.write_text(text)
    ws = load_workspace(path)
    with open_catalog(ws, write=True):
        pass  # applies migrations so a fresh workspace has its tables
    return ws, created
