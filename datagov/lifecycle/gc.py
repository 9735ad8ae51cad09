"""`datagov gc`: apply `[retention]`, then remove store bytes nothing references.

In order, each step safe to repeat after a kill at any point:
1. finish deletions and erasure purges a killed process left (`store_deletions` rows);
2. delete the versions retention no longer keeps (never one a registered
   model was trained or evaluated on, nor one a remaining version derives
   from), recording each deletion, and then their bytes;
3. remove local store and cache folders of digests no version holds (a
   writer killed between its rename and COMMIT); the catalog's lock is
   held, so no writer is between the two now. A bucket is never listed:
   its prefixes are removed only through step 2's records.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import timedelta

from datagov import faults
from datagov.catalog.db import open_catalog, transaction
from datagov.catalog.lifecycle import delete_version, digests_held
from datagov.catalog.lineage import child_versions, models_fed_by
from datagov.catalog.versions import Version, now
from datagov.lifecycle.removal import Removed, finish_deletions
from datagov.store import owned_folder
from datagov.store.local import DIGEST_NAME
from datagov.workspace import Workspace


@dataclass
class Expiring:
    version: Version
    why: str


@dataclass
class GcReport:
    expiring: list[Expiring] = field(default_factory=list)  # what retention removes
    kept: list[tuple[Version, str]] = field(default_factory=list)  # past retention, kept because something needs it
    orphans: list[tuple[str, int]] = field(default_factory=list)  # (folder, bytes) no version references
    removed: Removed = field(default_factory=Removed)
    purges: list[str] = field(default_factory=list)  # erasures whose interrupted purge gc finished
    dry_run: bool = True

    @property
    def reclaimed(self) -> int:
        return self.removed.bytes + sum(b for _, b in self.orphans)


def plan_retention(ws: Workspace) -> tuple[list[Expiring], list[tuple[Version, str]]]:
    """The versions `[retention]` no longer keeps, and those it would drop but something needs."""
    from datagov.catalog.versions import all_versions

    keep_versions, keep_days = ws.retention
    if not keep_versions and not keep_days:
        return [], []
    cutoff = now() - timedelta(days=keep_days)
    with open_catalog(ws) as con:
        by_dataset: dict[str, list[Version]] = {}
        for v in all_versions(con):
            by_dataset.setdefault(v.dataset, []).append(v)
        past = [
            (v, _why(keep_versions, keep_days))
            for versions in by_dataset.values()
            for rank, v in enumerate(versions)
            if (not keep_versions or rank >= keep_versions) and (not keep_days or v.created < cutoff)
        ]
        models = models_fed_by(con, [v.node_id for v, _ in past])
        used = {node for nodes in models.values() for node in nodes}
        leaving = {v.node_id for v, _ in past}
        expiring, kept = [], []
        for v, why in past:
            children = [c for c in child_versions(con, v.node_id) if c not in leaving]
            if v.node_id in used:
                kept.append((v, "a registered model was trained or evaluated on it"))
            elif children:
                kept.append((v, f"{len(children)} version(s) derived from it remain"))
            else:
                expiring.append(Expiring(v, why))
    return expiring, kept


def _why(keep_versions: int, keep_days: int) -> str:
    parts = []
    if keep_versions:
        parts.append(f"not among the newest {keep_versions}")
    if keep_days:
        parts.append(f"older than {keep_days} days")
    return "retention: " + " and ".join(parts)


def collect(ws: Workspace, *, dry_run: bool = False) -> GcReport:
    from datagov.lifecycle.purge import resume_pending_purges

    report = GcReport(dry_run=dry_run)
    if not dry_run:
        report.purges = resume_pending_purges(ws)
        report.removed.add(finish_deletions(ws))
    report.expiring, report.kept = plan_retention(ws)
    if dry_run:
        report.orphans = _orphans(ws, remove=False)
        return report
    if report.expiring:
        from datagov.store.leases import no_readers

        with no_readers(ws, [e.version.digest for e in report.expiring]) as busy:
            being_read = set(busy)
            report.kept += [(e.version, "another process is reading it") for e in report.expiring
                            if e.version.digest in being_read]  # fmt: skip
            report.expiring = [e for e in report.expiring if e.version.digest not in being_read]
            with open_catalog(ws, write=True) as con, transaction(con):
                for e in report.expiring:
                    delete_version(con, e.version.dataset, e.version.digest, e.why)
            faults.point("gc:rows-deleted")
            report.removed.add(finish_deletions(ws))
    report.orphans = _orphans(ws, remove=True)
    return report


def _orphans(ws: Workspace, *, remove: bool) -> list[tuple[str, int]]:
    """Local store and cache folders whose digest no version holds."""
    found = []
    with open_catalog(ws, write=remove) as con:  # the writers' lock: no writer is between rename and COMMIT
        held = digests_held(con)
        for base, shown in ((ws.store_dir, "store"), (ws.cache_dir, "cache")):
            if not owned_folder(ws, base):
                continue
            for folder in sorted(base.iterdir()):
                if not DIGEST_NAME.match(folder.name) or folder.name in held:
                    continue
                if folder.is_symlink() or not folder.is_dir():
                    continue
                size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
                found.append((f"{shown}/{folder.name}", size))
                if remove:
                    shutil.rmtree(folder)
    return found
