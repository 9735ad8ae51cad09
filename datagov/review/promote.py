"""`datagov models promote`: move an alias only to a model version whose data
still holds up.

Refused (exit 4, every reason with its fix) unless: each receipt the gate
relied on at training time is still valid (suite unchanged, files
unchanged, no later failure); no latest audit of its data failed (nor is
the version tagged `datagov.audit=failed`); no waiver it was trained under
has expired; and the metric bounds its pipeline spec set
(`register.promote_min` / `promote_max`, logged as params at training time)
hold. `--waive REASON` moves it anyway, recorded like every waiver.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass

from datagov import tags, tracking
from datagov.catalog import team
from datagov.catalog.approvals import Request
from datagov.catalog.db import open_catalog, transaction
from datagov.catalog.runs import PromotionRow, insert_promotion
from datagov.catalog.versions import check_name, now
from datagov.gate import GateDecision, Reason
from datagov.review.facts import ModelFacts, gather
from datagov.workspace import Workspace

MIN, MAX = "register.promote_min.", "register.promote_max."


def promotion_reasons(facts: ModelFacts) -> list[Reason]:
    """Why promotion would be refused: the model's data, weights, audits and
    waivers, the same of every encoder it was built on, and its metric bounds."""
    reasons = _lifecycle_reasons(facts) + _data_reasons(facts)
    encoder = facts.encoder
    while encoder is not None:
        reasons += [Reason(r.code, f"encoder {encoder.uri}: {r.message}", fix=r.fix) for r in _data_reasons(encoder)]
        encoder = encoder.encoder
    if facts.tags.get(tags.AUDIT) == "failed" and not any(r.code == "audit-failed" for r in reasons):
        reasons.append(
            Reason("audit-failed", f"{facts.uri} is tagged datagov.audit=failed ({facts.tags.get('datagov.audit_id')})",
                   fix="datagov audit run")
        )  # fmt: skip
    return reasons + _metric_reasons(facts)


def _lifecycle_reasons(facts: ModelFacts) -> list[Reason]:
    """A retired model version is out of use; a flagged one waits until it is
    retrained on the new data (a new version) or a reviewer waives the flag."""
    reasons = []
    if facts.retired:
        said = f"{facts.uri} is retired {facts.retired.said}"
        reasons.append(Reason("model-retired", said, fix="promote another version"))
    for flag in facts.flags:
        reasons.append(
            Reason("flagged", f"{facts.uri} is flagged ({flag['kind']}, {flag['id']}): {flag['message']}",
                   fix=f"retrain {facts.name} on the current data (`datagov pretrain`/`transfer`), "
                       "or pass --waive REASON")
        )  # fmt: skip
    return reasons


def _data_reasons(facts: ModelFacts) -> list[Reason]:
    reasons = []
    for d in facts.data:
        if d.status == "deleted":
            reasons.append(Reason("data-deleted", f"{d.ref}, which it was {d.role} on, was deleted since",
                                  fix="retrain on data the catalog holds"))  # fmt: skip
    if facts.weights != "verified":
        reasons.append(Reason("weights-changed", facts.weights, fix="train and register the model again"))
    for d in facts.data:
        for r in d.receipts:
            if not r.valid_now:
                reasons.append(
                    Reason("receipt-invalid", f"{d.ref}: receipt {r.id} ({r.suite}) no longer holds: {r.why}",
                           fix=f"datagov validate {d.ref} --suite {r.suite}")
                )  # fmt: skip
        if d.audit and d.audit[0] == "failed":
            reasons.append(
                Reason("audit-failed", f"the latest audit of {d.ref} ({d.audit[1]}) failed",
                       fix=f"see `datagov audit history`; fix the data, then `datagov audit run --dataset "
                           f"{d.ref.split('@')[0]}`")
            )  # fmt: skip
    for w in facts.waivers:
        if w.expired:
            reasons.append(
                Reason("waiver-expired", f"waiver {w.id} ({w.reason!r}) expired on {w.expires:%Y-%m-%d}",
                       fix="retrain on data with passing receipts")
            )  # fmt: skip
    return reasons


def _metric_reasons(facts: ModelFacts) -> list[Reason]:
    reasons = []
    for key, bound in sorted(facts.params.items()):
        for prefix, ok, word in ((MIN, lambda a, b: a >= b, "at least"), (MAX, lambda a, b: a <= b, "at most")):
            if not key.startswith(prefix):
                continue
            metric, limit = key[len(prefix) :], float(bound)
            actual = facts.metrics.get(metric)
            if actual is None:
                reasons.append(Reason("metric-missing", f"the spec bounds {metric!r}, which the run never logged"))
            elif not ok(actual, limit):
                reasons.append(
                    Reason("metric", f"{metric} is {actual:.4g}; the pipeline spec wants {word} {limit:g}",
                           fix="retrain, or change register.promote_* in the spec for the next run")
                )  # fmt: skip
    return reasons


def license_reasons(ws: Workspace, facts: ModelFacts, alias: str) -> list[Reason]:
    """`[promote]` in datagov.toml: a protected alias is refused to a model
    whose training content carries a refused license flag."""
    protected, refused = ws.promote_policy
    if alias not in protected:
        return []
    from datagov.review.card import card_of

    flags = card_of(ws, facts).license_flags
    return [
        Reason("license", f"{', '.join(flags[flag])} in its training content: license {flag} "
                          f"([promote] in datagov.toml refuses it for @{alias})",
               fix=f"see `datagov models card {facts.name} {facts.version}`; record the license with "
                   "`datagov ingest ... --license SPDX` or train without that data")
        for flag in refused if flag in flags
    ]  # fmt: skip


@dataclass
class Promotion:
    id: str
    facts: ModelFacts
    alias: str
    previous: str | None
    reasons: list[Reason]
    waiver_id: str | None
    approval: Request | None = None  # on a team catalog: the steward-approved request it ran under


def promote(ws: Workspace, name: str, version: str, alias: str, *, waive: str | None = None) -> Promotion:
    from datagov.errors import InvalidInput
    from datagov.governance import enforce, record_waiver

    check_name(alias, "alias")
    if waive is not None and not waive.strip():
        raise InvalidInput("--waive needs a reason")
    facts = gather(ws, name, version)
    reasons = promotion_reasons(facts) + license_reasons(ws, facts, alias)
    decision = GateDecision("promote", facts.uri, facts.tags.get(tags.DIGEST, ""), not reasons, reasons)
    approval = approved_promotion(ws, facts.name, facts.version, alias, decision, waive)
    if approval is None:
        enforce(decision, waive)
    waiver_id = (
        record_waiver(ws, f"{name}/{version}", "promote", str(waive), decision) if reasons and not approval else None
    )
    c = tracking.registry_client(ws)
    previous = tracking.alias_target(c, name, alias)
    promotion_id = f"p-{secrets.token_hex(6)}"
    decision_doc: dict = {"allowed": not reasons, "reasons": [asdict(r) for r in reasons]}
    if approval is not None and approval.approval is not None:
        decision_doc["request"] = {
            "id": approval.id,
            "requested_by": approval.requested_by,
            "approved_by": approval.approval.decided_by,
            "reason": approval.approval.reason,
        }
    # The catalog's record first, in a transaction held open while the alias
    # moves: on a team catalog the database checks the promotion (a protected
    # alias needs an approved request) before MLflow is touched, and a failed
    # MLflow call rolls the record back.
    with open_catalog(ws, write=True) as con, transaction(con):
        row = PromotionRow(promotion_id, name, facts.version, alias, previous, decision_doc, waiver_id,
                           team.who(con), now())  # fmt: skip
        insert_promotion(con, row)
        c.set_registered_model_alias(name, alias, facts.version)
        _tag_promotion(c, facts.name, facts.version, alias, promotion_id, waive if waiver_id else None, approval)
    return Promotion(promotion_id, facts, alias, previous, reasons, waiver_id, approval)


def _tag_promotion(c, name: str, version: str, alias: str, promotion_id: str, waive: str | None,
                   approval: Request | None) -> None:  # fmt: skip
    """The model version's tags: when it took the alias, the record, and who waived, asked or approved."""
    c.set_model_version_tag(name, version, f"{tags.PROMOTED_PREFIX}{alias}", now().isoformat(timespec="seconds"))
    c.set_model_version_tag(name, version, tags.PROMOTION_ID, promotion_id)
    if waive:
        c.set_model_version_tag(name, version, tags.PROMOTION_WAIVER, waive)
    if approval is not None and approval.approval is not None:
        c.set_model_version_tag(name, version, tags.PROMOTION_REQUESTED_BY, approval.requested_by)
        c.set_model_version_tag(name, version, tags.PROMOTION_APPROVED_BY, approval.approval.decided_by)


def approved_promotion(
    ws: Workspace, name: str, version: str, alias: str, decision: GateDecision, waive: str | None
) -> Request | None:
    """On a team catalog, the approved request a promotion to a protected alias
    (or one its checks refuse) runs under; else refuses, recording a request.
    None where no request is needed (the DuckDB file, or an open, unprotected move)."""
    from datagov.catalog import approvals
    from datagov.governance import approved_or_refused, four_eyes, refuse_unwaivable

    if not four_eyes(ws):
        return None
    with open_catalog(ws) as con:  # one connection: the protected aliases the database knows, and the requests
        protected = alias in ws.promote_policy[0] or alias in approvals.protected_aliases(con)
        if decision.allowed and not protected:
            return None
        found = approvals.promotion_requests(con, name, version, alias)
    refuse_unwaivable(decision)

    def ask() -> Request:
        return _request_promotion(ws, name, version, alias, decision, waive)

    return approved_or_refused(found, decision, f"promoting {name}/{version} to @{alias}",
                               ask if waive is not None or decision.allowed else None)  # fmt: skip


def _request_promotion(
    ws: Workspace, name: str, version: str, alias: str, decision: GateDecision, waive: str | None
) -> Request:
    from datagov.catalog import approvals

    reason = waive or f"promote {name}/{version} to protected alias @{alias}"
    doc = {"allowed": decision.allowed, "reasons": [asdict(r) for r in decision.reasons]}
    with open_catalog(ws, write=True) as con:
        row = approvals.PromotionRequest(f"pr-{secrets.token_hex(6)}", name, version, alias, reason, doc,
                                         team.who(con), now())  # fmt: skip
        approvals.insert_request(con, row)
        found = approvals.request(con, row.id)
    assert found is not None
    return found
