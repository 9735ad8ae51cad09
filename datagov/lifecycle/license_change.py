"""Changing (or revoking) a dataset's license re-evaluates every model whose
training content carries it: the versions of the dataset and everything
derived from them (a split carries its parent's terms).

A change that adds a license flag (unknown, non-commercial,
no-derivatives) the old license did not carry, and every revocation, flags
those models: `models promote` refuses them until they are retrained or the
refusal is waived. `[promote]`'s license policy reads the new license at
the next promotion either way. The change itself is recorded with who and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datagov.catalog.db import open_catalog, transaction
from datagov.catalog.lifecycle import LICENSE, add_retirement
from datagov.catalog.lineage import models_fed_by
from datagov.catalog.versions import check_name, dataset_row, now
from datagov.errors import InvalidInput, NotFound
from datagov.licenses import classify
from datagov.lifecycle.retire import require_reason
from datagov.workspace import Workspace

REVOKED = "REVOKED"  # the license recorded for revoked data: no SPDX expression, so its flag is "unknown"


@dataclass
class LicenseChange:
    dataset: str
    old: str | None
    new: str
    added_flags: list[str]
    models: list[str] = field(default_factory=list)  # whose training content carries it
    flagged: list[str] = field(default_factory=list)


def change_license(
    ws: Workspace, name: str, license_: str | None, reason: str | None, *, revoke: bool
) -> LicenseChange:
    from datagov.lifecycle.erase_select import scope
    from datagov.lifecycle.flags import flag_models, tag_flagged

    why = require_reason(reason)
    check_name(name)
    if revoke == bool(license_):
        raise InvalidInput("give the new license (an SPDX expression, e.g. CC-BY-NC-4.0) or --revoke, not both")
    new = REVOKED if revoke else str(license_).strip()
    if not revoke and classify(new).spdx is None:
        raise InvalidInput(f"{new!r} is not an SPDX license expression", hint="e.g. CC-BY-4.0, MIT, CC-BY-NC-4.0")
    nodes = [v.node_id for v in scope(ws, [name])]
    with open_catalog(ws, write=True) as con, transaction(con):
        meta = dataset_row(con, name)
        if meta is None:
            raise NotFound(f"unknown dataset {name!r}", hint="see `datagov datasets list --all`")
        old_flags = set(classify(meta.license).flags) if meta.license else set()
        added = sorted(set(classify(new).flags) - old_flags) if not revoke else ["revoked"]
        con.execute("UPDATE datasets SET license = ?, updated = ? WHERE name = ?", [new, now(), name])
        record = add_retirement(con, LICENSE, name, "revoked" if revoke else "changed",
                                f"{meta.license or 'none'} -> {new}: {why}")  # fmt: skip
        models = models_fed_by(con, nodes)
        change = LicenseChange(name, meta.license, new, added, sorted(models))
        flags = []
        if added and models:
            what = "revoked" if revoke else f"changed from {meta.license or 'none'} to {new} (adds {', '.join(added)})"
            message = f"the license of {name}, in its training content, was {what} ({record.id}): {why}"
            flags = flag_models(con, dict.fromkeys(models, message), LICENSE, name)
    tag_flagged(ws, flags)
    change.flagged = sorted({f.model for f in flags})
    return change
