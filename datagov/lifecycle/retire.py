"""Retiring and deleting, each recorded with who and why.

A retired version is kept and readable by digest, but `NAME` no longer
resolves to it, audits and default listings leave it out, and the gate
refuses it for new training. A deleted version is gone from the catalog
(its receipts, runs and lineage stay as history) and its stored bytes are
removed; only a version nothing depends on may be deleted. Receipts,
suites and model versions are retired the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datagov.catalog.db import Connection, open_catalog, transaction
from datagov.catalog.lifecycle import DELETION, Retirement, add_retirement, delete_version, retire_version
from datagov.catalog.lineage import child_versions, models_fed_by
from datagov.catalog.versions import RETIRED, Version, parse_ref, resolve, version_history
from datagov.errors import GateRefused, InvalidInput, NotFound
from datagov.lifecycle.removal import Removed, finish_deletions, refuse_busy
from datagov.lineage import short_version
from datagov.workspace import Workspace


def require_reason(reason: str | None) -> str:
    if reason is None or not reason.strip():
        raise InvalidInput("--reason is required: say why (it is recorded with your name)")
    return reason.strip()


def _targets(con: Connection, ref: str, *, include_retired: bool) -> tuple[list[Version], bool]:
    """The versions `NAME` (every one of the dataset) or `NAME@DIGEST` (that one) names; and whether whole."""
    parsed = parse_ref(ref)
    if parsed.digest_prefix is not None:
        return [resolve(con, parsed)], False
    versions = [v for v in version_history(con, parsed.name) if include_retired or v.status != RETIRED]
    if not versions:
        raise InvalidInput(f"every version of {parsed.name!r} is retired already",
                           hint=f"see `datagov datasets history {parsed.name} --all`")  # fmt: skip
    return versions, True


def retire_versions(ws: Workspace, ref: str, reason: str | None) -> list[Version]:
    """Retire one version, or every version of a dataset; returns those retired."""
    why = require_reason(reason)
    with open_catalog(ws, write=True) as con, transaction(con):
        versions, whole = _targets(con, ref, include_retired=False)
        for v in versions:
            if v.status == RETIRED:
                raise InvalidInput(
                    f"{v.ref} is retired already", hint=f"see `datagov datasets history {v.dataset} --all`"
                )
            retire_version(con, v.dataset, v.digest, why)
        if whole:
            add_retirement(con, "dataset", versions[0].dataset, RETIRED, why)
    return versions


@dataclass
class Deletion:
    versions: list[Version]
    removed: Removed
    flagged: list[str] = field(default_factory=list)  # models flagged by --force


def delete_versions(ws: Workspace, ref: str, reason: str | None, *, force: bool = False) -> Deletion:
    """Delete versions nothing depends on, then their stored bytes."""
    from datagov.store.leases import no_readers

    why = require_reason(reason)
    with open_catalog(ws) as con:
        digests = [v.digest for v in _targets(con, ref, include_retired=True)[0]]
    with no_readers(ws, digests) as busy:
        refuse_busy(busy, f"deleting {ref}", f"datagov datasets delete {ref} --reason ...")
        return _delete(ws, ref, why, force)


def _delete(ws: Workspace, ref: str, why: str, force: bool) -> Deletion:
    from datagov.lifecycle.flags import flag_models, tag_flagged

    with open_catalog(ws, write=True) as con, transaction(con):
        versions, _ = _targets(con, ref, include_retired=True)
        nodes = [v.node_id for v in versions]
        models = models_fed_by(con, nodes)
        _refuse_dependents(con, versions, models, force)
        said = f"forced: {why}" if force and models else why
        records = [delete_version(con, v.dataset, v.digest, said) for v in versions]
        _drop_empty_datasets(con, {v.dataset for v in versions})
        flags = flag_models(con, _deletion_messages(models, records), DELETION, records[0].id) if models else []
    tag_flagged(ws, flags)
    return Deletion(versions, finish_deletions(ws), sorted(models))


def _refuse_dependents(con: Connection, versions: list[Version], models: dict[str, set[str]], force: bool) -> None:
    mine = {v.node_id for v in versions}
    for v in versions:
        children = [short_version(c) for c in child_versions(con, v.node_id) if c not in mine]
        if children:
            raise GateRefused(
                f"cannot delete {v.ref}: {len(children)} version(s) derived from it depend on it "
                f"({', '.join(children[:5])})",
                hint="delete those first (`datagov datasets delete NAME@DIGEST`), "
                "or retire this version instead (`datagov datasets retire`)",
            )
    if models and not force:
        shown = ", ".join(sorted(models)[:8]) + (" …" if len(models) > 8 else "")
        raise GateRefused(
            f"cannot delete {versions[0].ref if len(versions) == 1 else versions[0].dataset}: "
            f"{len(models)} registered model version(s) were trained or evaluated on it ({shown})",
            hint="retire it instead (`datagov datasets retire`), or pass --force to delete it anyway "
            "(recorded; those models are flagged and cannot be promoted until retrained or waived)",
        )


def _deletion_messages(models: dict[str, set[str]], records: list[Retirement]) -> dict[str, str]:
    return {
        model: f"version(s) {', '.join(sorted(nodes))} of its training content were deleted (forced, {records[0].id})"
        for model, nodes in models.items()
    }


def _drop_empty_datasets(con: Connection, names: set[str]) -> None:
    for name in sorted(names):
        left = con.execute("SELECT count(*) FROM versions WHERE dataset = ?", [name]).fetchone()
        if left == (0,):
            con.execute("DELETE FROM datasets WHERE name = ?", [name])


def retire_receipt(ws: Workspace, receipt_id: str, reason: str | None) -> Retirement:
    from datagov.catalog.lifecycle import retired_targets
    from datagov.catalog.receipts import receipt_by_id

    why = require_reason(reason)
    with open_catalog(ws, write=True) as con, transaction(con):
        if receipt_by_id(con, receipt_id) is None:
            raise NotFound(f"no receipt {receipt_id!r}", hint="see `datagov validations list`")
        if receipt_id in retired_targets(con, "receipt"):
            raise InvalidInput(f"receipt {receipt_id} is retired already")
        return add_retirement(con, "receipt", receipt_id, RETIRED, why)


def retire_suite(ws: Workspace, suite: str, reason: str | None) -> Retirement:
    from datagov.catalog.lifecycle import retired_targets
    from datagov.quality.suites import load_suite

    why = require_reason(reason)
    load_suite(ws, suite)  # an unknown or unreadable suite is an error, not a record
    with open_catalog(ws, write=True) as con, transaction(con):
        if suite in retired_targets(con, "suite"):
            raise InvalidInput(f"suite {suite!r} is retired already")
        return add_retirement(con, "suite", suite, RETIRED, why)


def retire_model(ws: Workspace, name: str, version: str, reason: str | None) -> Retirement:
    from datagov import tags, tracking
    from datagov.catalog.lifecycle import retired_targets
    from datagov.review.facts import gather

    why = require_reason(reason)
    facts = gather(ws, name, version)  # an unknown model version is an error
    with open_catalog(ws, write=True) as con, transaction(con):
        if facts.uri.removeprefix("models:/") in retired_targets(con, "model"):
            raise InvalidInput(f"{facts.uri} is retired already")
        record = add_retirement(con, "model", f"{facts.name}/{facts.version}", RETIRED, why)
    tracking.tag_model_versions(ws, {f"{facts.name}/{facts.version}": {tags.RETIRED: why}})
    return record
