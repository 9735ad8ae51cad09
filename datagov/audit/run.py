"""`datagov audit run`: is the data our models were trained on still good?

For every version that has receipts or fed a registered model (or those of
one dataset): re-hash its files against the manifest, re-run the suites it
was validated with as they are now, check the age of its newest passing
receipts, and compare its profile with the previous audit's.

Re-running a suite is skipped when its newest receipt is for these exact
bytes (just re-hashed), this exact suite file and GX release, and younger
than the maximum receipt age: content addressing makes that receipt what a
re-run would write again. `--revalidate` re-runs every suite regardless. Model versions
trained on a version that fails get the MLflow tag `datagov.audit=failed`
(and `passed` again after a clean audit); promotion refuses them meanwhile.

Crash safety: the audit row is inserted as `running` before any work, and
the results and final status are written in one transaction at the end. A
killed audit stays `running` until the next audit marks it `interrupted`;
it is never `passed`.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from datagov import faults
from datagov import tags as tag_keys
from datagov.catalog import audits, chain
from datagov.catalog.db import open_catalog, transaction
from datagov.catalog.locations import locate
from datagov.catalog.versions import Version, now, resolve
from datagov.errors import DatagovError, NotFound
from datagov.processes import process_gone
from datagov.store.files import VersionFiles
from datagov.workspace import Workspace

PROFILE_TOLERANCE = 1e-9  # same bytes, same statistics: any difference is a change


@dataclass
class Finding:
    check: str  # integrity | suite | suite-missing | stale | profile | never-passed | cache
    severity: str  # failure | warning | note (a note describes, never fails an audit)
    item: str  # a file, a suite, a column
    message: str


@dataclass
class VersionAudit:
    version: str  # name@digest
    ref: str
    digest: str
    findings: list[Finding] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)  # written by this audit
    reused: list[str] = field(default_factory=list)  # still answering for unchanged bytes and suites
    models: list[str] = field(default_factory=list)
    profile: dict | None = None

    unvalidated: bool = False  # no receipt at all: nothing to compare against
    never_passed: list[str] = field(default_factory=list)  # suites run on it that never passed

    @property
    def failed(self) -> bool:
        return any(f.severity == "failure" for f in self.findings)

    @property
    def status(self) -> str:
        """failed: something changed since a check passed; unvalidated: no
        receipt; never-passed: every suite run on it failed from the start
        (an exploration, not a regression); passed: every check that once
        passed still does."""
        if self.failed:
            return "failed"
        if self.unvalidated:
            return "unvalidated"
        if self.never_passed and not self.reused and not self.receipts:
            return "never-passed"
        return "passed"


@dataclass
class Audit:
    id: str
    scope: str | None
    started: datetime
    results: list[VersionAudit]
    interrupted: list[str]  # earlier audits found dead and marked
    ended: datetime | None = None
    report: str | None = None
    affected: list[str] = field(default_factory=list)  # model versions its failures reach, through encoders too
    chain: list[str] = field(default_factory=list)  # proving records changed since they were sealed

    @property
    def failed(self) -> list[VersionAudit]:
        return [r for r in self.results if r.failed]

    @property
    def status(self) -> str:
        return "failed" if self.failed or self.chain else "passed"


def mark_interrupted(ws: Workspace) -> list[str]:
    with open_catalog(ws, write=True) as con:
        dead = [i for i, pid, host in audits.running_audits(con) if process_gone(pid, host)]
        for audit_id in dead:
            audits.mark_interrupted(con, audit_id)
    return dead


def audit_targets(ws: Workspace, dataset: str | None) -> list[Version]:
    """Versions with receipts or that trained a registered model, oldest first."""
    with open_catalog(ws) as con:
        if dataset is not None:
            resolve(con, dataset)  # an unknown name is an error, not an empty audit
        return [resolve(con, f"{name}@{digest}") for name, digest in audits.audited_versions(con, dataset)]


def _models_fed(con, version: Version) -> list[str]:
    from datagov.catalog.runs import models_trained_on

    return models_trained_on(con, version.dataset, version.digest)


def _profile(version: Version, files: VersionFiles) -> dict:
    """Row count, and per column nulls and (numeric) min, max, mean and stdev:
    one aggregate pass, the cheapest profile that notices a reader reading the
    same bytes differently (a DuckDB or Parquet upgrade)."""
    from datagov.quality.profile import NUMERIC
    from datagov.sql import sql_ident
    from datagov.store import duckdb_connection

    columns = [(c["name"], c["type"]) for c in version.schema]
    parts = ["count(*)"]
    for name, type_ in columns:
        q = sql_ident(name)
        parts.append(f"count({q})")
        if type_.upper() in NUMERIC:
            parts += [f"min({q})::DOUBLE", f"max({q})::DOUBLE", f"avg({q})::DOUBLE", f"stddev_samp({q})::DOUBLE"]
    con = duckdb_connection()
    try:
        source = files.scan()
        row = list(con.execute(f"SELECT {', '.join(parts)} FROM {source}").fetchall()[0])
    finally:
        con.close()
    rows = row.pop(0)
    out = {"rows": rows, "columns": {}}
    for name, type_ in columns:
        stats = {"type": type_, "nulls": rows - row.pop(0)}
        if type_.upper() in NUMERIC:
            stats.update(zip(("min", "max", "mean", "stdev"), (row.pop(0) for _ in range(4)), strict=True))
        out["columns"][name] = stats
    return out


def _profile_changes(old: dict, new: dict) -> list[Finding]:
    out = []
    if old.get("rows") != new["rows"]:
        out.append(
            Finding("profile", "failure", "rows", f"{old.get('rows')} rows at the last audit, now {new['rows']}")
        )
    for name, stats in new["columns"].items():
        before = old.get("columns", {}).get(name)
        if before is None:
            out.append(Finding("profile", "failure", name, "column is new since the last audit"))
            continue
        for key, value in stats.items():
            was = before.get(key)
            if isinstance(value, float) and isinstance(was, float):
                if abs(value - was) > PROFILE_TOLERANCE * max(1.0, abs(was)):
                    out.append(Finding("profile", "failure", name, f"{key} was {was:.6g}, now {value:.6g}"))
            elif value != was:
                out.append(Finding("profile", "failure", name, f"{key} was {was}, now {value}"))
    return out


def _audit_version(
    ws: Workspace, version: Version, previous_profile: dict | None, max_age: timedelta, revalidate: bool
) -> VersionAudit:
    from datagov.catalog.caches import caches_of
    from datagov.catalog.receipts import bound_to_settings, list_receipts
    from datagov.quality.report import observed_text
    from datagov.quality.suites import load_suite
    from datagov.quality.validate import validate_version
    from datagov.verify import check_caches, check_for_use

    result = VersionAudit(version.node_id, version.ref, version.digest)
    with open_catalog(ws) as con:
        located = locate(ws, con, version.digest, version.dataset)
        receipts = list_receipts(con, dataset=version.dataset, digest=version.digest)
        result.models = _models_fed(con, version)
        caches = caches_of(con, version.digest)
    problems, usable = check_for_use(ws, located)
    for problem in problems:
        result.findings.append(
            Finding("integrity", "failure", problem.path, f"{problem.path}: {problem.problem} ({problem.detail})")
        )
    # A changed cache never reached a model (training checks it before use):
    # a warning, and the cache is removed so the next use rebuilds it.
    for problem in check_caches(ws, version.digest, records=caches):
        result.findings.append(
            Finding("cache", "warning", problem.path, f"{problem.path}: {problem.detail}; removed, rebuilt on next use")
        )
    started = now()
    # Contamination and selection receipts are bound to two digests and a method,
    # not to a suite file: the re-hash above is what could change their answer.
    suites = list(dict.fromkeys(r.suite for r in receipts if not bound_to_settings(r)))
    result.unvalidated = not receipts
    # A suite that never passed on these bytes is an exploration (last month's
    # suite on this month's data): it is reported, never re-run as a regression.
    result.never_passed = [name for name in suites if not any(r.success for r in receipts if r.suite == name)]
    for name in result.never_passed:
        result.findings.append(Finding("never-passed", "note", name, f"suite {name!r} never passed on this version"))
    for check in _settings_bound_never_passed(receipts):
        result.never_passed.append(check)
        result.findings.append(Finding("never-passed", "note", check, f"{check} never passed on this version"))
    suites = [name for name in suites if name not in result.never_passed]
    for name in suites:
        passing = [r for r in receipts if r.suite == name and r.success]
        if passing and started - passing[0].started > max_age:
            age = (started - passing[0].started).days
            result.findings.append(
                Finding("stale", "warning", name, f"newest passing receipt for {name!r} is {age} days old")
            )
    if any(f.check == "integrity" for f in result.findings):
        return result  # suites and profiles of changed files would describe the wrong data
    from datagov.quality.gx_duckdb import gx_version

    for name in suites:
        try:
            suite = load_suite(ws, name)
        except DatagovError as exc:
            result.findings.append(Finding("suite-missing", "failure", name, exc.message))
            continue
        newest = next(r for r in receipts if r.suite == name)
        if not revalidate and _still_answers(newest, suite.digest, gx_version(), started, max_age):
            receipt = newest  # same bytes (just re-hashed), same suite, same GX: the same answer
            result.reused.append(receipt.id)
        else:
            try:
                (outcome,) = validate_version(ws, version.node_id, [name])
            except DatagovError as exc:  # the suite no longer fits the data (a column it names is gone, ...)
                result.findings.append(Finding("suite", "failure", name, exc.message))
                continue
            receipt = outcome.receipt
            result.receipts.append(receipt.id)
        for i, row in enumerate(receipt.results, 1):
            if not row["success"]:
                column = f" on {row['column']!r}" if row.get("column") else ""
                result.findings.append(
                    Finding(
                        "suite",
                        "failure",
                        name,
                        f"suite {name!r}, expectation #{i} {row['type']}{column} failed: {observed_text(row)[:160]}",
                    )
                )
    assert usable is not None  # no integrity problem (returned above), so the files are readable
    result.profile = _profile(version, usable)
    if previous_profile is not None:
        result.findings += _profile_changes(previous_profile, result.profile)
    return result


def _settings_bound_never_passed(receipts) -> list[str]:
    """Near-duplicate checks and selections (method and reference) whose every receipt on these bytes failed."""
    from datagov.catalog.receipts import SETTINGS_BOUND, bound_to_settings

    checks: dict[tuple[str, str, str | None], bool] = {}
    for r in receipts:
        if bound_to_settings(r):
            key = (r.kind, r.suite, r.reference_digest)
            checks[key] = checks.get(key, False) or r.success
    return [f"{SETTINGS_BOUND[kind]} ({method}) against {(ref or '?')[:12]}"
            for (kind, method, ref), ok in checks.items() if not ok]  # fmt: skip


def _still_answers(receipt, suite_digest: str, gx: str, at: datetime, max_age: timedelta) -> bool:
    """Content addressing makes a validation repeatable: a receipt for these
    exact bytes, made with this exact suite and GX release, within the maximum
    age, is what re-running the suite would write again."""
    return (
        receipt.status in ("passed", "failed")
        and receipt.suite_digest == suite_digest
        and receipt.gx_version == gx
        and at - receipt.started <= max_age
    )


def _previous_profiles(ws: Workspace) -> dict[str, dict]:
    with open_catalog(ws) as con:
        return audits.previous_profiles(con)


def _models_reached(ws: Workspace, models: set[str]) -> list[str]:
    from datagov.catalog.lineage import models_built_on

    if not models:
        return []
    with open_catalog(ws) as con:
        return sorted(models | models_built_on(con, models))


def _tag_models(ws: Workspace, audit: Audit) -> None:
    """Reverse impact: every model version fed by an audited version, or built
    on a model that was (a classifier on an encoder), learns its verdict. The
    verdict covers all of its training content, as the newest finished audit
    of each version found it: a passing audit of one dataset does not clear a
    model whose other data failed earlier. `datagov.audit_id` names the audit
    that failed it, or this audit when it passed."""
    from datagov import tracking
    from datagov.catalog.lineage import models_built_on, training_versions

    fed = {model for r in audit.results for model in r.models}
    verdicts: dict[str, dict[str, str]] = {}
    with open_catalog(ws) as con:
        for model in sorted(fed | models_built_on(con, fed)):
            failing = None
            for node in training_versions(con, model):
                latest = audits.latest_audit_status(con, node.rpartition("@")[2])
                if latest and latest[0] == "failed":
                    failing = latest[1]
                    break
            verdicts[model] = {
                tag_keys.AUDIT: "failed" if failing else "passed",
                tag_keys.AUDIT_ID: failing or audit.id,
            }
    tracking.tag_model_versions(ws, verdicts)


def run_audit(ws: Workspace, dataset: str | None = None, *, revalidate: bool = False, on_version=None) -> Audit:
    interrupted = mark_interrupted(ws)
    targets = audit_targets(ws, dataset)
    if dataset is not None and not targets:
        raise NotFound(f"{dataset!r} has no receipts and fed no registered model: nothing to audit")
    audit = Audit(f"a-{secrets.token_hex(6)}", dataset, now(), [], interrupted)
    with open_catalog(ws, write=True) as con:
        audit.chain = [p.describe() for p in chain.verify(con)]  # before this audit adds its own records
        audits.start_audit(con, audit.id, dataset, audit.started)
    audit.chain += _anchors_lost(ws)
    previous = _previous_profiles(ws)
    max_age = timedelta(days=ws.max_receipt_age_days)
    for i, version in enumerate(targets):
        audit.results.append(_audit_version(ws, version, previous.get(version.node_id), max_age, revalidate))
        if on_version:
            on_version(audit.results[-1])
        if i == 0:
            faults.point("audit-after-first-version")
    audit.ended = now()
    audit.affected = _models_reached(ws, {m for r in audit.failed for m in r.models})
    from datagov.audit.report import write_report

    audit.report = str(write_report(ws, audit).relative_to(ws.root))
    with open_catalog(ws, write=True) as con, transaction(con):
        for r in audit.results:
            audits.insert_result(
                con,
                audits.AuditResultRow(
                    audit.id, r.version, r.digest, r.status,
                    [asdict(f) for f in r.findings], r.profile, {"written": r.receipts, "reused": r.reused}, r.models,
                ),
            )  # fmt: skip
        summary = {"failed": [r.ref for r in audit.failed], "interrupted": interrupted, "chain": audit.chain}
        audits.finish_audit(
            con,
            audits.AuditRow(audit.id, dataset, audit.status, len(audit.results), len(audit.failed), audit.started,
                            audit.ended, audit.report, summary),
        )  # fmt: skip
    if any(r.models for r in audit.results):
        _tag_models(ws, audit)
    return audit


def _anchors_lost(ws: Workspace) -> list[str]:
    """Runs whose MLflow tag names a chain head the catalog's chain no longer
    holds: the chain was rebuilt after they started (a forger who rewrote
    every entry still cannot rewrite the tracking store's copy)."""
    from datagov import tags, tracking
    from datagov.catalog.chain import entry_hashes
    from datagov.catalog.runs import run_ids

    with open_catalog(ws) as con:
        ids, hashes = run_ids(con), entry_hashes(con)
    anchors = tracking.run_tag(ws, ids, tags.CHAIN_HEAD)
    return [
        f"run {run_id} started at chain head {head[:12]}, which the catalog's chain no longer holds (it was rebuilt)"
        for run_id, head in anchors.items()
        if head and head not in hashes
    ]


def history(ws: Workspace, limit: int = 20) -> list[dict]:
    with open_catalog(ws) as con:
        return [asdict(row) for row in audits.audit_history(con, limit)]
