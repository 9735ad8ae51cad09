"""A model card of a registered model version's training content, laid out
after the European Commission's template for the public summary of training
content of general-purpose AI models (AI Act, Article 53(1)(d)): general
information, data sources, data processing. datagov fills what its records
show and writes "unknown" where they are silent; it never guesses.

Training content is transitive: the versions a model was trained on, the
versions those were derived from (splits), and the same for every encoder it
was built on. Licenses propagate down derivations: a split carries its
parent's license obligations whatever its own record says.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from datagov.catalog.db import open_catalog
from datagov.catalog.versions import dataset_row, find_version, resolve
from datagov.licenses import License, classify
from datagov.lineage import short_version
from datagov.review.facts import DataFacts, ModelFacts, gather
from datagov.units import human_bytes
from datagov.workspace import Workspace

UNKNOWN = "unknown"
# Source names datagov gives built-in and hub sources (see `ingest.source_id`).
PUBLIC_SOURCES = {"sklearn:": "scikit-learn's bundled data", "torchvision:": "torchvision's public datasets",
                  "hf://": "the Hugging Face Hub"}  # fmt: skip


@dataclass
class LicenseFacts:
    version: str  # NAME@SHORT whose dataset declares it
    declared: str | None
    spdx: str | None
    flags: list[str]


@dataclass
class ContentEntry:
    """One version in the training content (or evaluation data) of a model."""

    role: str  # trained | evaluated
    used_by: str  # the model version that used it directly (the model, or an encoder)
    ref: str
    digest: str
    dataset: str
    modality: str
    rows: int
    bytes: int
    owner: str | None
    sources: list[str]  # what it was ingested from, through its derivations
    derived_from: list[str]  # ancestor versions, nearest first
    acquired: datetime | None  # when the newest of its sources was ingested
    licenses: list[LicenseFacts]  # its own, then every ancestor's
    receipts: list[dict] = field(default_factory=list)  # at training time, and whether each holds now
    drift_reports: list[dict] = field(default_factory=list)
    audit: list | None = None
    status: str = "ready"  # ready | retired | deleted (since training: an erasure's purge, a forced delete)

    @property
    def flags(self) -> list[str]:
        """A version that declares no license carries its ancestors' (a split
        inherits its parent's terms): it is unknown only when none declares one."""
        declared = [lic for lic in self.licenses if lic.declared]
        return sorted({f for lic in declared for f in lic.flags}) if declared else [UNKNOWN]


@dataclass
class ModelCard:
    uri: str
    name: str
    version: str
    registered: datetime
    stage: str
    metrics: dict[str, float]
    dependencies: list[str]  # the encoders it was built on
    content: list[ContentEntry]
    waivers: list[dict]
    weights: str
    declared: list[dict] = field(default_factory=list)  # imported encoders: training data declared, not verified
    removed: list[dict] = field(default_factory=list)  # data removed after training: erasures, deletions, licenses

    @property
    def training(self) -> list[ContentEntry]:
        return [c for c in self.content if c.role == "trained"]

    @property
    def license_flags(self) -> dict[str, list[str]]:
        """flag -> the training versions that carry it."""
        out: dict[str, list[str]] = {}
        for entry in self.training:
            for flag in entry.flags:
                out.setdefault(flag, []).append(entry.ref)
        for d in self.declared:  # an imported encoder's license binds like its data's would
            for flag in d["flags"]:
                out.setdefault(flag, []).append(f"{d['model']} (declared)")
        return out


def _license_of(con, node: str) -> LicenseFacts:
    """The license a version's dataset declares (a version deleted since reads its dataset's record)."""
    name = node.rpartition("@")[0]
    meta = dataset_row(con, name)
    found: License = classify(meta.license if meta else None)
    return LicenseFacts(short_version(node), found.declared, found.spdx, list(found.flags))


def _entry(con, model: ModelFacts, d: DataFacts) -> ContentEntry:
    from datagov.lineage import upstream_edges

    if d.status == "deleted":
        return _deleted_entry(con, model, d)
    version = resolve(con, d.node)
    meta = dataset_row(con, version.dataset)
    ancestors, sources, acquired = [], [], None
    for edge in upstream_edges(con, ("version", d.node)):
        if edge.src[0] == "version":
            ancestors.append(edge.src[1])
        elif edge.src[0] == "source":
            sources.append(edge.src[1])
            if (ingested := find_version(con, edge.dst[1])) is not None:
                acquired = max(acquired, ingested.created) if acquired else ingested.created
    ancestors = list(dict.fromkeys(ancestors))
    receipts = [
        {"id": r.id, "suite": r.suite, "kind": r.kind, "then": r.status, "now": "holds" if r.valid_now else r.why}
        for r in d.receipts
    ]
    return ContentEntry(
        role=d.role, used_by=model.uri, ref=version.ref, digest=version.digest, dataset=version.dataset,
        modality=meta.modality if meta else UNKNOWN, rows=version.rows, bytes=version.bytes,
        owner=meta.owner if meta else None, sources=list(dict.fromkeys(sources)),
        derived_from=[short_version(a) for a in ancestors], acquired=acquired,
        licenses=[_license_of(con, n) for n in [d.node, *ancestors]], receipts=receipts,
        drift_reports=d.drift_reports, audit=list(d.audit) if d.audit else None, status=version.status,
    )  # fmt: skip


def _deleted_entry(con, model: ModelFacts, d: DataFacts) -> ContentEntry:
    """A version deleted after training: what its dataset's record and the lineage still say."""
    name = d.node.rpartition("@")[0]
    meta = dataset_row(con, name)
    return ContentEntry(
        role=d.role, used_by=model.uri, ref=d.ref, digest=d.digest, dataset=name,
        modality=meta.modality if meta else UNKNOWN, rows=0, bytes=0, owner=meta.owner if meta else None,
        sources=[], derived_from=[], acquired=None, licenses=[_license_of(con, d.node)],
        receipts=[{"id": r.id, "suite": r.suite, "kind": r.kind, "then": r.status, "now": r.why} for r in d.receipts],
        status="deleted",
    )  # fmt: skip


def _removed(con, chain: list[ModelFacts]) -> list[dict]:
    """Every flag on the model or an encoder it was built on, with its erasure's record where one caused it."""
    from datagov.catalog.lifecycle import ERASURE, erasure

    out = []
    for m in chain:
        for flag in m.flags:
            entry = {"model": m.uri, "kind": flag["kind"], "id": flag["id"], "message": flag["message"],
                     "created": flag["created"], "by": flag["created_by"]}  # fmt: skip
            if flag["kind"] == ERASURE and (e := erasure(con, flag["source"])) is not None:
                complete = bool(e.purge and e.purge["complete"])
                entry |= {"erasure": e.id, "reason": e.reason, "rows": e.rows_removed, "items": e.items,
                          "purged": e.purged is not None, "proof_complete": complete}  # fmt: skip
            out.append(entry)
    return out


def build_card(ws: Workspace, name: str, version: str | None = None) -> ModelCard:
    return card_of(ws, gather(ws, name, version))


def card_of(ws: Workspace, facts: ModelFacts) -> ModelCard:
    chain = facts.chain()
    with open_catalog(ws) as con:
        content = [_entry(con, m, d) for m in chain for d in m.data if m is facts or d.role == "trained"]
        removed = _removed(con, chain)
    waivers = [
        {"id": w.id, "model": m.uri, "stage": w.stage, "reason": w.reason, "who": w.who, "created": w.created,
         "expires": w.expires, "expired": w.expired, "approved_by": w.approved_by, "approval": w.approval}
        for m in chain for w in m.waivers
    ]  # fmt: skip
    return ModelCard(
        uri=facts.uri, name=facts.name, version=facts.version, registered=facts.created, stage=facts.stage,
        metrics={k: v for k, v in facts.metrics.items() if "." not in k}, dependencies=[m.uri for m in chain[1:]],
        content=content, waivers=waivers, weights=facts.weights,
        declared=[{"model": m.uri, **m.declared, "flags": list(classify(m.declared["license"]).flags)}
                  for m in chain if m.declared],
        removed=removed,
    )  # fmt: skip


def card_json(card: ModelCard) -> dict:
    import json

    doc = asdict(card)
    doc["license_flags"] = card.license_flags
    for raw, entry in zip(doc["content"], card.content, strict=True):
        raw["flags"] = entry.flags
    return json.loads(json.dumps(doc, default=str))


def _source_kind(source: str) -> str:
    for prefix, what in PUBLIC_SOURCES.items():
        if source.startswith(prefix):
            return f"publicly available ({what})"
    return UNKNOWN  # a local path or a bucket: public, licensed, scraped or user data is not recorded


def _deleted_note(training: list[ContentEntry]) -> str:
    deleted = sum(1 for c in training if c.status == "deleted")
    return f" ({deleted} deleted since training, not counted)" if deleted else ""


def _removed_lines(card: ModelCard) -> list[str]:
    """ "Data removed after training": erasures, forced deletions and license changes of its content."""
    lines = ["### Data removed after training", ""]
    for r in card.removed:
        if "erasure" in r:
            purge = (
                "bytes purged, proof recorded"
                if r["proof_complete"]
                else ("bytes purged, proof incomplete" if r["purged"] else "old versions retired, bytes kept")
            )
            lines.append(f"- erasure {r['erasure']} ({r['created']:%Y-%m-%d}, by {r['by']}): {r['rows']:,} row(s) of "
                         f"{r['items']:,} item(s) removed from `{r['model']}`'s training content after it was "
                         f"trained; {purge}. Reason: {r['reason']}")  # fmt: skip
        else:
            lines.append(f"- {r['kind']} ({r['created']:%Y-%m-%d}, by {r['by']}) on `{r['model']}`: {r['message']}")
    if len(lines) == 2:
        lines.append("- none")
    return [*lines, ""]


def render_markdown(card: ModelCard) -> str:
    training = card.training
    modalities = sorted({c.modality for c in training}) or [UNKNOWN]
    acquired = max((c.acquired for c in training if c.acquired), default=None)
    lines = [
        f"# Model card: {card.uri}",
        "",
        "Summary of training content, after the European Commission's template for general-purpose AI models "
        "(AI Act Art. 53(1)(d)). Written by datagov from its catalog and MLflow registry; "
        f'"{UNKNOWN}" marks what those records do not show.',
        "",
        "## 1. General information",
        "",
        "### 1.1 Provider",
        "",
        f"- Provider name and contact: {UNKNOWN}",
        "",
        "### 1.2 Model",
        "",
        f"- Versioned model name: `{card.uri}` ({card.stage}), registered {card.registered:%Y-%m-%d %H:%M}",
        f"- Built on (model dependencies): {', '.join(f'`{d}`' for d in card.dependencies) or 'none'}",
        f"- Weights: {card.weights} (safetensors, sha256 recorded at registration)",
        f"- Date placed on the market: {UNKNOWN}",
        "",
        "### 1.3 Modalities and size of the training data",
        "",
        f"- Modalities: {', '.join(modalities)}",
        f"- Size: {sum(c.rows for c in training):,} rows, {human_bytes(sum(c.bytes for c in training), si=True)} "
        f"in {len(training)} dataset version(s)" + _deleted_note(training),
        f"- Latest date of data acquisition (ingest into datagov): {f'{acquired:%Y-%m-%d}' if acquired else UNKNOWN}",
        "",
        "## 2. Data sources",
        "",
        "| role | version | used by | owner | source | kind of source | rows | licenses (upstream included) | flags |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in card.content:
        licenses = "; ".join(f"{lic.version}: {lic.spdx or lic.declared or 'none declared'}" for lic in c.licenses)
        sources = ", ".join(c.sources) or UNKNOWN
        kinds = ", ".join(sorted({_source_kind(s) for s in c.sources})) or UNKNOWN
        lines.append(f"| {c.role} | `{c.ref}` | `{c.used_by}` | {c.owner or UNKNOWN} | {sources} | {kinds} | "
                     f"{c.rows:,} | {licenses} | {', '.join(c.flags) or 'none'} |")  # fmt: skip
    for d in card.declared:
        lines.append(f"| declared, not verified | {d['trained_on']} | `{d['model']}` | {UNKNOWN} | "
                     f"{d.get('source') or UNKNOWN} | {UNKNOWN} | {UNKNOWN} | {d['license']} (the weights) | "
                     f"{', '.join(d['flags']) or 'none'} |")  # fmt: skip
    lines += [
        "",
        "Publicly available, third-party licensed, crawled, user and synthetic data are not told apart by "
        f"datagov's records: a source not listed as publicly available is {UNKNOWN} here.",
        "",
        "### License flags in the training content",
        "",
    ]
    flags = card.license_flags
    lines += [f"- **{flag}**: {', '.join(f'`{v}`' for v in refs)}" for flag, refs in sorted(flags.items())] or [
        "- none: every training version has a known, permissive SPDX license"
    ]
    lines += ["", "## 3. Data processing", ""]
    for c in card.content:
        lines.append(f"### `{c.ref}` ({c.role})")
        lines.append("")
        if c.derived_from:
            lines.append(f"- Derived from: {' <- '.join(f'`{a}`' for a in c.derived_from)}")
        for r in c.receipts:
            lines.append(f"- {r['kind']} check `{r['suite']}` ({r['id']}): {r['then']} at training, now {r['now']}")
        for d in c.drift_reports[:3]:
            lines.append(f"- Shift report {d['id']} against `{d['reference']}`: "
                         f"{'drift' if d['drift'] else 'no drift'} ({d['recommendation']})")  # fmt: skip
        if c.audit:
            lines.append(f"- Latest audit {c.audit[1]}: {c.audit[0]}")
        if len(lines) and lines[-1] == "":
            lines.append("- no checks recorded")
        lines.append("")
    lines += _removed_lines(card)
    lines += [
        "### All training content",
        "",
        f"- Respect of text-and-data-mining opt-outs: {UNKNOWN}",
        f"- Removal of illegal content: {UNKNOWN}",
        "",
        "## Waivers",
        "",
    ]
    lines += [
        f"- {w['id']} on `{w['model']}` ({w['stage']}) by {w['who']}, {w['approval']}: {w['reason']}"
        + (" (expired)" if w["expired"] else "")
        for w in card.waivers
    ] or ["- none: every gate passed without one"]
    if card.metrics:
        lines += ["", "## Metrics", ""] + [f"- {k}: {v:.4g}" for k, v in sorted(card.metrics.items())]
    return "\n".join(lines) + "\n"
