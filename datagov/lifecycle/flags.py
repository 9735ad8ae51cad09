"""Flagging the model versions whose training content changed after they
were trained: an erasure removed items from it, a forced deletion removed a
version of it, or a license in it changed. A flag is a catalog record and an
MLflow tag; `models promote` refuses a flagged version until the model is
retrained on the new data (a new version, without the flag) or the refusal
is waived with a reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

from datagov import tags
from datagov.catalog.lifecycle import ERASURE, Flag, add_flag, flags_of
from datagov.workspace import Workspace

if TYPE_CHECKING:
    from datagov.catalog.db import Connection


def flag_models(con: Connection, models: dict[str, str], kind: str, source: str) -> list[Flag]:
    """One flag per model version (NAME/VERSION -> message); call inside the
    transaction that made the change."""
    return [add_flag(con, model, kind, source, message) for model, message in sorted(models.items())]


def tag_flagged(ws: Workspace, flags: list[Flag]) -> None:
    """Mirror the catalog's flags as MLflow tags, for someone reading only MLflow
    (after COMMIT: the catalog's record is what promotion reads)."""
    from datagov import tracking
    from datagov.catalog.db import open_catalog

    if not flags:
        return
    tagged: dict[str, dict[str, str]] = {}
    with open_catalog(ws) as con:
        for model in sorted({f.model for f in flags}):
            name, _, version = model.rpartition("/")
            every = flags_of(con, name, version)
            tagged[model] = {
                tags.FLAGGED: ",".join(sorted({f.kind for f in every})),
                tags.FLAG_IDS: ",".join(f.id for f in every),
            }
            erasures = [f.source for f in every if f.kind == ERASURE]
            if erasures:
                tagged[model][tags.ERASURE_ID] = ",".join(erasures)
    tracking.tag_model_versions(ws, tagged)
