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

import getpass
import secrets
from dataclasses import asdict, dataclass

from datagov import tags, tracking
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
    reasons = _data_reasons(facts)
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


def _data_reasons(facts: ModelFacts) -> list[Reason]:
    reasons = []
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


def promote(ws: Workspace, name: str, version: str, alias: str, *, waive: str | None = None) -> Promotion:
    from datagov.errors import InvalidInput
    from datagov.governance import enforce, record_waiver

    check_name(alias, "alias")
    if waive is not None and not waive.strip():
        raise InvalidInput("--waive needs a reason")
    facts = gather(ws, name, version)
    reasons = promotion_reasons(facts) + license_reasons(ws, facts, alias)
    decision = GateDecision("promote", facts.uri, facts.tags.get(tags.DIGEST, ""), not reasons, reasons)
    enforce(decision, waive)
    waiver_id = record_waiver(ws, f"{name}/{version}", "promote", str(waive), decision) if reasons else None
    c = tracking.registry_client(ws)
    previous = tracking.alias_target(c, name, alias)
    c.set_registered_model_alias(name, alias, facts.version)
    promotion_id = f"p-{secrets.token_hex(6)}"
    c.set_model_version_tag(name, facts.version, f"{tags.PROMOTED_PREFIX}{alias}", now().isoformat(timespec="seconds"))
    c.set_model_version_tag(name, facts.version, tags.PROMOTION_ID, promotion_id)
    if waiver_id:
        c.set_model_version_tag(name, facts.version, tags.PROMOTION_WAIVER, waive)
    decision_doc = {"allowed": not reasons, "reasons": [asdict(r) for r in reasons]}
    row = PromotionRow(promotion_id, name, facts.version, alias, previous, decision_doc, waiver_id, getpass.getuser(),
                       now())  # fmt: skip
    with open_catalog(ws, write=True) as con, transaction(con):
        insert_promotion(con, row)
    return Promotion(promotion_id, facts, alias, previous, reasons, waiver_id)
