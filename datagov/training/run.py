"""One gated run: the protocol every training stage follows, owned here so a
stage cannot get its order wrong.

    run = GatedRun(ws, "pretrain", spec, spec_path, decision, waive, data=[...])
    run.enforce()                  1. the gate's answer: refused unless waived
                                      (changed bytes never are), before any work
    with run.started(params):      2. a waiver recorded; the gate document and
                                      the provenance tags
                                   3. the MLflow run, the catalog's `runs` row
                                      and the lineage edges into it
                                   4. params (the resolved spec, overrides
                                      applied, plus the stage's own), the spec
                                      file, the gate document, dataset inputs
        ...train, run.log_metrics(...)...
        run.register(model, arch, metrics)
                                   5. every input unchanged since the gate
                                      hashed it
                                   6. safe weights registered; the alias moves
                                      only when the gate opened unwaived
                                   7. finished; on any exception, failed in
                                      MLflow and in the catalog

Every MLflow call goes through `datagov.tracking`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datagov import tags, tracking
from datagov.errors import InvalidInput
from datagov.gate import GateDecision
from datagov.governance import NOT_APPROVED, alias_for, approved_waiver, enforce, gate_document, record_waiver
from datagov.training.inputs import ImageInput
from datagov.training.records import finish_run, record_run, register_model
from datagov.training.spec import flatten
from datagov.workspace import Workspace

Node = tuple[str, str]  # a lineage node: (kind, id)


def require_reason(waive: str | None) -> None:
    """A waiver says why: refused before anything is resolved."""
    if waive is not None and not waive.strip():
        raise InvalidInput("--waive needs a reason")


@dataclass(frozen=True)
class RunData:
    """A version the run reads: its lineage relation to the run and the
    MLflow dataset inputs it is logged as: (context, hold-out every Nth row)."""

    input: ImageInput
    relation: str  # trained | evaluated
    contexts: tuple[tuple[str, int | None], ...] = (("training", None),)


@dataclass(frozen=True)
class ModelInput:
    """A registered model the run starts from (an encoder): a lineage edge
    `initialized`, and MLflow's model input when the registry links it."""

    node: Node
    model_tags: dict[str, str]


@dataclass
class GatedRun:
    ws: Workspace
    stage: str
    spec: Any  # a loaded spec dataclass with `name` and `register`
    spec_path: str | Path
    decision: GateDecision
    waive: str | None
    data: list[RunData]
    tags: dict[str, str] = field(default_factory=dict)  # the stage's own provenance, on run and model
    models: list[ModelInput] = field(default_factory=list)
    waivers: list[str] = field(default_factory=list)  # other waiver rows this run stands on (acceptances)
    run_name: str | None = None
    waiver_id: str | None = None
    run_id: str | None = None
    model_version: str | None = None
    metrics: dict = field(default_factory=dict)

    @property
    def model_name(self) -> str:
        return self.spec.register.model_name or self.spec.name

    @property
    def alias(self) -> str | None:
        """`latest-validated` (or the spec's) only when the gate opened without a waiver."""
        return alias_for(self.decision, self.spec)

    @property
    def waiver_note(self) -> str | None:
        """`REASON (approved by STEWARD)`, or `(not approved by a second person)` on the DuckDB file."""
        if self.waiver_id is None:
            return None
        approved_by = self.tags.get(tags.WAIVER_APPROVED_BY, NOT_APPROVED)
        return f"{self.waive} ({approved_by if approved_by == NOT_APPROVED else f'approved by {approved_by}'})"

    def enforce(self) -> None:
        """Step 1: refuse unless the gate allows the stage or a waiver excuses it
        (on a team catalog: a waiver a steward approved)."""
        require_reason(self.waive)
        approved = approved_waiver(self.ws, self.decision, self.data[0].input.version.node_id, self.waive)
        if approved is not None and approved.approval is not None:
            self.waiver_id, self.waive = approved.id, approved.reason
            self.tags[tags.WAIVER_REQUESTED_BY] = approved.requested_by
            self.tags[tags.WAIVER_APPROVED_BY] = approved.approval.decided_by
        elif not self.decision.allowed:
            self.tags[tags.WAIVER_APPROVED_BY] = NOT_APPROVED
        enforce(self.decision, self.waive)

    def provenance(self) -> dict[str, str]:
        """The tags that say what the model learnt from, on the run and on the model version."""
        trained = self.data[0].input.version
        return {
            tags.STAGE: self.stage,
            tags.DATASET: trained.ref,
            tags.DIGEST: trained.digest,
            **self.tags,
            tags.SUITES: ",".join(dict.fromkeys([*self.spec.data.suites, *self.decision.suites])),
            tags.RECEIPTS: ",".join(self.decision.receipt_ids),
            **({tags.WAIVER: str(self.waive), tags.WAIVER_ID: self.waiver_id} if self.waiver_id else {}),
        }

    @contextmanager
    def started(self, params: dict[str, Any] | None = None) -> Iterator[GatedRun]:
        """Steps 2-4 and 7 around the stage's training (step 5-6: `register`)."""
        if not self.decision.allowed and self.waiver_id is None:
            self.waiver_id = record_waiver(
                self.ws, self.data[0].input.version.node_id, self.stage, str(self.waive), self.decision
            )
        gate_doc = gate_document(self.decision, self.waiver_id, self.waive)
        with tracking.started_run(self.ws, self.spec.name, self.run_name) as run_id:
            self.run_id = run_id
            chain_head = self._record(run_id, gate_doc)
            try:
                self._log_start(params or {}, gate_doc, chain_head)
                yield self
                if self.model_version is None:
                    raise RuntimeError(f"the {self.stage} stage ended without registering what it trained")
            except BaseException:
                finish_run(self.ws, run_id, "failed", None, None, {})
                raise
        finish_run(self.ws, run_id, "finished", self.model_name, self.model_version, self.metrics)

    def _record(self, run_id: str, gate_doc: dict) -> str:
        inputs = [(("version", d.input.version.node_id), d.relation) for d in self.data]
        inputs += [(m.node, "initialized") for m in self.models]
        return record_run(
            self.ws, run_id, self.stage, self.spec_path, self.spec.name, self.data[0].input.version, gate_doc,
            self.waiver_id, inputs=inputs, waivers=self.waivers,
        )  # fmt: skip

    def _log_start(self, params: dict[str, Any], gate_doc: dict, chain_head: str) -> None:
        assert self.run_id is not None
        tracking.log_params({**flatten(dataclasses.asdict(self.spec)), **params})
        gate = "open" if self.decision.allowed else "waived"
        tracking.set_tags({**self.provenance(), tags.GATE: gate, tags.CHAIN_HEAD: chain_head})
        for model in self.models:
            tracking.log_model_input(self.run_id, model.node, model.model_tags)
        tracking.log_file(self.spec_path, "pipeline")
        tracking.log_json(gate_doc, "gate/decision.json")
        self.log_datasets()

    def log_datasets(self) -> None:
        """The inputs as MLflow datasets, on the active run (a nested baseline logs them too)."""
        for d in self.data:
            for context, every in d.contexts:
                tracking.log_dataset(self.ws, d.input.version, context, holdout_every=every)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        tracking.log_metrics(metrics, step=step)

    def tag(self, values: dict[str, str]) -> None:
        tracking.set_tags(values)

    def log_json(self, doc: dict, name: str) -> None:
        tracking.log_json(doc, name)

    def register(self, model, arch: dict, metrics: dict) -> str:
        """Steps 5-6: check every input is the bytes the gate vouched for, then
        register the weights (safetensors, hashed) and move the alias if allowed."""
        for d in self.data:
            d.input.require_unchanged("register a model trained on it")
        self.model_version = register_model(self.ws, model, arch, self.model_name, self.alias, self.provenance())
        self.metrics = metrics
        return self.model_version
