"""Catalog documents kept in memory while the DuckDB file is unchanged.

Every write to the DuckDB catalog changes its file or its write-ahead log
(size, mtime), so a document built while both stayed the same is still
what the catalog says until one of them changes; reviewers re-reading the
same pages then cost a `stat`, not a connection. Documents that read
MLflow (models) are never kept, nor anything on PostgreSQL, where each
request runs as its own user and the database is shared with writers that
leave no file behind."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from datagov.workspace import Workspace

KEPT = 256  # documents, least recently used dropped first


def _stamp(ws: Workspace) -> tuple:
    out: list[tuple[int, int, int] | None] = []
    for path in (ws.db_path, ws.db_path.with_name(ws.db_path.name + ".wal")):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            out.append(None)
            continue
        out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


class Documents:
    def __init__(self) -> None:
        self._kept: OrderedDict[tuple, tuple[tuple, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    def get(self, ws: Workspace, key: tuple, build: Callable[[], Any]) -> Any:
        """`build()`'s document, or the one it gave last while the catalog file was as it is now."""
        if ws.catalog_url:
            return build()
        stamp = _stamp(ws)
        with self._lock:
            found = self._kept.get(key)
            if found is not None and found[0] == stamp:
                self._kept.move_to_end(key)
                self.hits += 1
                return found[1]
        doc = build()
        if _stamp(ws) == stamp:  # nothing was written while it was built
            with self._lock:
                self._kept[key] = (stamp, doc)
                self._kept.move_to_end(key)
                while len(self._kept) > KEPT:
                    self._kept.popitem(last=False)
        return doc
