"""The gate: may stage S use version V, given required suites?

It answers only from receipts. A receipt counts when it passed, is for
exactly this digest, and its suite digest equals the suite file's current
digest (so editing a suite invalidates earlier receipts). The newest receipt
for that (digest, suite) decides: a later failure outweighs an earlier pass.
Every stored file is re-hashed against the manifest (the gate answers for
these bytes, not for their sizes), a receipt that evaluated nothing never
counts, and a version whose latest finished audit failed is refused, as
promotion refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datagov.catalog.audits import latest_audit_status
from datagov.catalog.db import Connection, open_catalog
from datagov.catalog.lineage import trained_versions, training_versions
from datagov.catalog.locations import locate
from datagov.catalog.receipts import Receipt, list_receipts
from datagov.catalog.versions import Version, dataset_of, dataset_of_digest, resolve
from datagov.errors import DatagovError
from datagov.quality.suites import load_suite
from datagov.verify import check_for_use
from datagov.workspace import Workspace


@dataclass
class Reason:
    code: str  # no-receipt | suite-changed | failed | suite-missing | data-changed
    message: str
    fix: str | None = None


@dataclass
class GateDecision:
    stage: str
    version_ref: str
    digest: str
    allowed: bool
    reasons: list[Reason] = field(default_factory=list)
    receipt_ids: list[str] = field(default_factory=list)
    suites: list[str] = field(default_factory=list)  # of the receipts in receipt_ids, in the same order

    def summary(self) -> str:
        if self.allowed:
            return f"gate open for {self.stage} on {self.version_ref}: receipts {', '.join(self.receipt_ids)}"
        return f"gate refused {self.stage} on {self.version_ref}: " + "; ".join(r.message for r in self.reasons)


def _retired_reasons(con: Connection, version: Version, suites: list[str]) -> list[Reason]:
    """A retired version, or a retired suite, is refused for new training."""
    from datagov.catalog.lifecycle import retired_targets, retirements
    from datagov.catalog.versions import RETIRED
    from datagov.catalog.versions import latest as newest_version

    out = []
    if version.status == RETIRED:
        record = next(reversed(retirements(con, "version", version.node_id)), None)
        newer = newest_version(con, version.dataset)
        fix = f"train on {newer.ref}" if newer else f"see `datagov datasets history {version.dataset} --all`"
        out.append(Reason("retired", f"{version.ref} is retired" + (f" {record.said}" if record else ""), fix=fix))
    retired_suites = retired_targets(con, "suite")
    for name in (s for s in suites if s in retired_suites):
        said = f"suite {name!r} is retired {retired_suites[name].said}"
        out.append(Reason("suite-retired", said, fix="name another suite in the pipeline spec"))
    return out


def check_gate(ws: Workspace, stage: str, ref: str, suites: list[str], *, kind: str = "quality") -> GateDecision:
    with open_catalog(ws) as con:
        version = resolve(con, ref)
        located = locate(ws, con, version.digest, version.dataset)
        receipts = [r for r in list_receipts(con, digest=version.digest, kind=kind) if r.evaluated > 0]
        audit = latest_audit_status(con, version.digest)
        modality = dataset_of(con, version).modality
        retired = _retired_reasons(con, version, suites)
    decision = GateDecision(stage, version.ref, version.digest, allowed=True, reasons=retired)
    if audit and audit[0] == "failed":
        decision.reasons.append(
            Reason(
                "audit-failed",
                f"the latest audit of {version.ref} ({audit[1]}) failed",
                fix=f"see `datagov audit history`; fix the data, then `datagov audit run --dataset {version.dataset}`",
            )
        )
    # An object store's version is checked through the verified copy training then reads.
    problems = [f"{p.path} ({p.problem})" for p in check_for_use(ws, located)[0]]
    if problems:
        decision.reasons.append(
            Reason(
                "data-changed",
                f"stored files of {version.ref} changed: " + ", ".join(problems),
                fix=f"datagov datasets verify {version.ref}",
            )
        )
    validate_cmd = f"datagov validate {version.ref} --suite {{}}"
    for name in suites:
        try:
            suite = load_suite(ws, name)
        except DatagovError as exc:
            decision.reasons.append(Reason("suite-missing", exc.message))
            continue
        mine = [r for r in receipts if r.suite == name]
        current = [r for r in mine if r.suite_digest == suite.digest]
        if not current:
            if mine:
                decision.reasons.append(
                    Reason(
                        "suite-changed",
                        f"suite {name!r} changed since {version.ref} was last validated against it "
                        f"(receipt {mine[0].id})",
                        fix=validate_cmd.format(name),
                    )
                )
            else:
                decision.reasons.append(
                    Reason(
                        "no-receipt",
                        f"{version.ref} was never validated against suite {name!r}",
                        fix=validate_cmd.format(name),
                    )
                )
            continue
        latest = current[0]
        if not latest.success:
            decision.reasons.append(
                Reason(
                    "failed",
                    f"the latest validation of {version.ref} against {name!r} ({latest.id}) {latest.status}: "
                    f"{latest.successful} of {latest.evaluated} expectations met",
                    fix=f"fix the data or the suite, then {validate_cmd.format(name)}",
                )
            )
            continue
        decision.receipt_ids.append(latest.id)
        decision.suites.append(name)
    passing = [r for r in receipts if r.id in decision.receipt_ids]
    decision.reasons += _policy_reasons(ws, version, modality, passing, validate_cmd)
    decision.allowed = not decision.reasons
    return decision


def _checked_types(receipt) -> set[str]:
    return {row.get("type", "") for row in receipt.results if row.get("success")}


def _policy_reasons(ws: Workspace, version, modality: str | None, passing: list, validate_cmd: str) -> list[Reason]:
    """A gate needs more than a suite's say-so: something beyond row counts
    must have been checked, and what `[gate.require]` names must have passed."""
    reasons = []
    real = [r for r in passing if any(not t.startswith("expect_table_") for t in _checked_types(r))]
    if passing and not real:
        reasons.append(
            Reason(
                "checks-nothing",
                f"the suites that passed for {version.ref} ({', '.join(sorted({r.suite for r in passing}))}) check "
                "nothing beyond table-level counts",
                fix=f"add column expectations (e.g. datagov expectations suggest {version.ref} --suite NAME), then "
                + validate_cmd.format("NAME"),
            )
        )
    types = set().union(*(_checked_types(r) for r in passing)) if passing else set()
    suites = {r.suite for r in passing}
    for wanted in ws.gate_requirements(version.dataset, modality):
        is_type = wanted.startswith(("expect_", "unexpected_rows_expectation"))
        if (wanted in types) if is_type else (wanted in suites):
            continue
        what = f"an expectation {wanted}" if is_type else f"suite {wanted!r}"
        reasons.append(
            Reason(
                "required-check",
                f"[gate.require] in datagov.toml wants {what} passing for {version.ref}",
                fix=validate_cmd.format(wanted) if not is_type else f"add {wanted} to a suite and validate with it",
            )
        )
    return reasons


def combine(stage: str, decisions: list[GateDecision]) -> GateDecision:
    """One decision for a stage that uses several versions (transfer: train and eval)."""
    refs = list(dict.fromkeys(d.version_ref for d in decisions if d.digest))  # the data, not the encoder
    return GateDecision(
        stage,
        " and ".join(refs),
        decisions[0].digest,
        allowed=all(d.allowed for d in decisions),
        reasons=[r for d in decisions for r in d.reasons],
        receipt_ids=list(dict.fromkeys(i for d in decisions for i in d.receipt_ids)),
        suites=list(dict.fromkeys(s for d in decisions for s in d.suites)),
    )


def _reference_label(con, digest: str | None) -> str:
    """NAME@DIGEST12 of a reference version (the digest alone when no dataset holds it)."""
    if not digest:
        return ""
    name = dataset_of_digest(con, digest)
    return f"{name}@{digest[:12]}" if name else digest[:12]


def check_match(ws: Workspace, stage: str, ref: str, reference_digest: str | None, encoder: str) -> GateDecision:
    """May `stage` fine-tune on version `ref` with an encoder pretrained on
    `reference_digest`? Only with a passing `match` receipt, newest for its
    suite and made with the suite file as it is now, bound to exactly that
    reference. Any one such suite is enough."""
    with open_catalog(ws) as con:
        version = resolve(con, ref)
        receipts = list_receipts(con, digest=version.digest, kind="match")
        ref_label = _reference_label(con, reference_digest)
    decision = GateDecision(stage, version.ref, version.digest, allowed=False)
    if not reference_digest:
        decision.reasons.append(
            Reason(
                "no-reference",
                f"the encoder {encoder} has no datagov.digest tag, so its pretraining data is unknown and "
                f"{version.ref} cannot be matched against it",
                fix="use an encoder pretrained by `datagov pretrain`, or --waive REASON",
            )
        )
        return decision
    suite_name = f"{ref_label.split('@')[0] if '@' in ref_label else 'pretrain'}-match"
    fix = (
        f"datagov expectations match {ref_label} --suite {suite_name} && "
        f"datagov validate {version.ref} --suite {suite_name}"
    )
    mine = [r for r in receipts if r.reference_digest == reference_digest and r.evaluated > 0]
    latest: dict[str, Receipt] = {}
    for r in mine:  # newest first: the first per suite decides
        latest.setdefault(r.suite, r)
    stale, failed = [], []
    for name, r in latest.items():
        try:
            current = load_suite(ws, name).digest == r.suite_digest
        except DatagovError:
            current = False
        if not current:
            stale.append(name)
        elif r.success:
            decision.receipt_ids.append(r.id)
            decision.suites.append(name)
        else:
            failed.append(r)
    if decision.receipt_ids:
        decision.allowed = True
        return decision
    if failed:
        r = failed[0]
        decision.reasons.append(
            Reason(
                "match-failed",
                f"{version.ref} does not match the encoder's pretraining data {ref_label}: "
                f"{r.successful} of {r.evaluated} expectations of {r.suite!r} met (receipt {r.id}); "
                f"see `datagov shift {ref_label} {version.ref}`",
                fix=f"fine-tune on data like {ref_label}, or --waive REASON",
            )
        )
    elif stale:
        decision.reasons.append(
            Reason("suite-changed", f"match suite {stale[0]!r} changed since {version.ref} was validated", fix=fix)
        )
    else:
        decision.reasons.append(
            Reason(
                "no-match",
                f"{version.ref} was never checked against the encoder's pretraining data {ref_label}",
                fix=fix,
            )
        )
    return decision


def check_contamination(ws: Workspace, stage: str, ref: str, reference_digest: str | None, role: str) -> GateDecision:
    """May `stage` score on version `ref`, which must hold no near-copy of
    `reference_digest` (the fine-tuning data, or the encoder's pretraining
    data: `role`)? Only with a passing `contamination` receipt for exactly
    these two digests, made with the default method and thresholds and no
    tolerated share; the newest such receipt decides."""
    from datagov.near.check import KIND, default_settings, settings_digest

    with open_catalog(ws) as con:
        version = resolve(con, ref)
        modality = dataset_of(con, version).modality
        receipts = [
            r for r in list_receipts(con, digest=version.digest, kind=KIND) if r.reference_digest == reference_digest
        ]
        ref_label = _reference_label(con, reference_digest)
    decision = GateDecision(stage, version.ref, version.digest, allowed=False)
    if not reference_digest:
        decision.reasons.append(
            Reason(
                "no-reference",
                f"the {role} is unknown (no datagov.digest tag), so {version.ref} cannot be checked against it",
                fix="use an encoder pretrained by `datagov pretrain`, or --waive REASON",
            )
        )
        return decision
    if reference_digest == version.digest:
        decision.reasons.append(
            Reason("same-version", f"{version.ref} is the {role} itself", fix="score on a separate split")
        )
        return decision
    fix = f"datagov contamination {ref_label} {version.ref}"
    current = [r for r in receipts if r.suite_digest == settings_digest(default_settings(modality or "table"))]
    if not current:
        looser = f" (receipt {receipts[0].id} used other thresholds)" if receipts else ""
        decision.reasons.append(
            Reason(
                "no-contamination-check",
                f"{version.ref} was never checked for near-copies of the {role} {ref_label} "
                f"with the default thresholds{looser}",
                fix=fix,
            )
        )
        return decision
    latest = current[0]
    if not latest.success:
        decision.reasons.append(
            Reason(
                "contaminated",
                f"{latest.evaluated - latest.successful:,} of {latest.evaluated:,} rows of {version.ref} have "
                f"near-copies in the {role} {ref_label} (receipt {latest.id}; see {latest.report})",
                fix=f"remove them (e.g. split again with --dedupe near), then {fix}; or --waive REASON",
            )
        )
        return decision
    decision.allowed = True
    decision.receipt_ids.append(latest.id)
    decision.suites.append(latest.suite)
    return decision


def check_encoder_content(ws: Workspace, stage: str, node: tuple[str, str], encoder: str) -> GateDecision:
    """May `stage` build on an encoder? Not when any version of its training
    content (its pretraining data, and that of every encoder it was built
    from) failed its latest audit: the same rule the data itself meets."""
    kind, ident = node
    with open_catalog(ws) as con:
        content = sorted(training_versions(con, ident) if kind == "model" else trained_versions(con, node))
        audits = {ref: latest_audit_status(con, ref.rpartition("@")[2]) for ref in content}
    decision = GateDecision(stage, encoder, "", allowed=True)
    for ref, audit in audits.items():
        if audit and audit[0] == "failed":
            name, _, digest = ref.rpartition("@")
            decision.reasons.append(
                Reason(
                    "audit-failed",
                    f"the encoder {encoder} was trained on {name}@{digest[:12]}, "
                    f"whose latest audit ({audit[1]}) failed",
                    fix=f"see `datagov audit history`; fix the data, then `datagov audit run --dataset {name}`",
                )
            )
    decision.allowed = not decision.reasons
    return decision
