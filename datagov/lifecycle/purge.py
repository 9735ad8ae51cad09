"""An erasure's purge: delete the old versions and their bytes, then prove it.

The proof records each file removed (where, path, sha256, bytes, and that
it is gone), the versions whose bytes were kept because another version
still holds the same bytes, and those registered in place (the user's
files, which datagov never deletes: named, and the proof is then not
complete), and a re-scan of
every version the erasure searched that is still in the catalog: the rows
whose key is an erased item's, which must be none.

Crash-safe: the old versions' rows go in one transaction with
`store_deletions` rows naming their bytes; the bytes are removed after
COMMIT; the proof is recorded in a second transaction that also drops
those rows. A process killed in between leaves the rows, and
`datagov gc` finishes it.
"""

from __future__ import annotations

from datagov import faults
from datagov.catalog.db import open_catalog, transaction
from datagov.catalog.lifecycle import (
    delete_version,
    digests_held,
    erasure,
    finish_store_deletion,
    record_purge,
    store_deletions,
)
from datagov.catalog.locations import locate
from datagov.catalog.versions import find_version
from datagov.errors import InvalidInput, NotFound
from datagov.lifecycle.removal import Removed, refuse_busy, remove_bytes
from datagov.workspace import Workspace


def purge_erasure(ws: Workspace, erasure_id: str) -> dict:
    from datagov.store.leases import no_readers

    with open_catalog(ws) as con:
        e = erasure(con, erasure_id)
    if e is None:
        raise NotFound(f"no erasure {erasure_id!r}", hint="see `datagov erasures list`")
    with no_readers(ws, [v["old"].rpartition("@")[2] for v in e.versions]) as busy:
        refuse_busy(busy, f"the purge of erasure {erasure_id}", f"datagov erasures purge {erasure_id}")
        return _purge(ws, erasure_id)


def _purge(ws: Workspace, erasure_id: str) -> dict:
    _drop_old_versions(ws, erasure_id)
    faults.point("purge:rows-deleted")
    with open_catalog(ws) as con:  # read after the drop, so a resumed purge says the same
        e = erasure(con, erasure_id)
        held = digests_held(con)
    assert e is not None
    kept = [v["old"] for v in e.versions if v["old"].rpartition("@")[2] in held and not v.get("in_place")]
    in_place = [v["old"] for v in e.versions if v.get("in_place")]
    with open_catalog(ws) as con:
        pending = [d for d in store_deletions(con) if d.erasure_id == erasure_id]
    removed = Removed()
    for deletion in pending:
        removed.add(remove_bytes(ws, deletion))
    faults.point("purge:bytes-removed")
    rescan = _rescan(ws, erasure_id)
    proof = {
        "files": removed.files,
        "bytes": removed.bytes,
        "kept": kept,
        "in_place": in_place,  # registered in place: the user's files, not deleted by datagov
        "outside_store": removed.skipped,
        "rescan": rescan,
        "complete": all(f["gone"] for f in removed.files)
        and not removed.skipped
        and not in_place
        and rescan["rows_found"] == 0,
    }
    with open_catalog(ws, write=True) as con, transaction(con):
        record_purge(con, erasure_id, proof)
        for deletion in pending:
            finish_store_deletion(con, deletion.digest, deletion.root)
    return proof


def _drop_old_versions(ws: Workspace, erasure_id: str) -> None:
    """Delete the erasure's old versions still in the catalog (their stored
    bytes are noted for deletion; bytes another version holds stay)."""
    with open_catalog(ws, write=True) as con, transaction(con):
        e = erasure(con, erasure_id)
        if e is None:
            raise NotFound(f"no erasure {erasure_id!r}", hint="see `datagov erasures list`")
        if e.purged is not None:
            raise InvalidInput(f"erasure {erasure_id} was purged already", hint=f"datagov erasures show {erasure_id}")
        for entry in e.versions:
            node = entry["old"]
            if find_version(con, node) is None:
                continue  # deleted already (a purge that was interrupted, run again)
            name, _, digest = node.rpartition("@")
            delete_version(con, name, digest, f"purge of erasure {erasure_id}", erasure_id)


def _rescan(ws: Workspace, erasure_id: str) -> dict:
    """Count the rows of an erased key in every version of the erasure's scope
    still in the catalog (the new versions among them)."""
    from datagov.lifecycle.erase_select import VersionHits, count_removed, scope
    from datagov.verify import require_intact

    with open_catalog(ws) as con:
        e = erasure(con, erasure_id)
        assert e is not None
    keys = set(e.keys)
    column = e.selector.get("key_column")
    found, searched = 0, []
    for version in scope(ws, e.selector.get("datasets", [])):
        key_column = "pixel_hash" if "pixel_hash" in version.columns else column or "path"
        if key_column not in version.columns:
            continue
        with open_catalog(ws) as con:
            files = locate(ws, con, version.digest, version.dataset)
        hits = VersionHits(version, key_column, require_intact(ws, version, files, purpose="re-scan it"), version.rows)
        count_removed([hits], keys)
        found += hits.removed
        searched.append({"version": version.node_id, "rows_found": hits.removed})
    return {"versions": searched, "rows_found": found, "keys": len(keys)}


def resume_pending_purges(ws: Workspace) -> list[str]:
    """Finish purges a killed process left (their store_deletions rows remain)."""
    with open_catalog(ws) as con:
        pending = sorted({d.erasure_id for d in store_deletions(con) if d.erasure_id})
    for erasure_id in pending:
        purge_erasure(ws, erasure_id)
    return pending
