"""`GatedRun`: a new stage written in a few lines gets the gate, waivers,
records and provenance by construction (here a toy stage that "trains" a
linear layer on digits-pretrain)."""

from dataclasses import dataclass, field

import pytest

from datagov.catalog.db import open_catalog
from datagov.errors import GateRefused
from datagov.gate import check_gate
from datagov.training.inputs import image_input
from datagov.training.run import GatedRun, RunData
from tests.training.conftest import digits_ws, mlflow_runs  # noqa: F401


@dataclass
class _Data:
    suites: list[str] = field(default_factory=lambda: ["digits-pretrain"])


@dataclass
class _Register:
    model_name: str = "toy-model"
    alias: str = "latest-validated"


@dataclass
class ToySpec:
    name: str = "toy"
    data: _Data = field(default_factory=_Data)
    register: _Register = field(default_factory=_Register)


def toy_stage(ws, spec_path, waive=None, fail=False) -> GatedRun:
    """The whole stage: resolve, ask the gate, train inside the run, register."""
    import torch

    spec = ToySpec()
    data = image_input(ws, "digits-pretrain")
    decision = check_gate(ws, "toy", data.version.node_id, spec.data.suites)
    run = GatedRun(ws, "toy", spec, spec_path, decision, waive, data=[RunData(data, "trained")])
    run.enforce()
    with run.started({"device": "cpu"}):
        run.log_metrics({"loss": 0.5}, step=0)
        if fail:
            raise RuntimeError("the toy stage broke")
        run.register(torch.nn.Linear(64, 2), {"kind": "toy"}, {"loss": 0.5})
    return run


def _runs(ws):
    with open_catalog(ws) as con:
        return con.execute("SELECT stage, status, waiver_id, model_name, model_version FROM runs").fetchall()


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text("name: toy\n")
    return path


def test_a_refused_gate_stops_the_toy_stage_before_any_run(digits_ws, ws, spec_file):  # noqa: F811
    with pytest.raises(GateRefused):
        toy_stage(ws, spec_file)
    assert _runs(ws) == [] and not (ws.catalog_dir / "mlflow.db").exists()


def test_a_waived_toy_stage_is_recorded_and_does_not_move_the_alias(digits_ws, ws, spec_file):  # noqa: F811
    run = toy_stage(ws, spec_file, waive="trying the toy stage")
    [(stage, status, waiver_id, name, version)] = _runs(ws)
    assert (stage, status, name, version) == ("toy", "finished", "toy-model", "1") and waiver_id == run.waiver_id
    [logged] = mlflow_runs(ws)
    tags = logged.data.tags
    assert tags["datagov.gate"] == "waived" and tags["datagov.waiver"] == "trying the toy stage"
    assert tags["datagov.stage"] == "toy" and tags["datagov.digest"] == run.data[0].input.version.digest
    assert logged.data.params["device"] == "cpu" and logged.data.metrics["loss"] == 0.5
    assert run.alias is None
    with open_catalog(ws) as con:
        edges = con.execute("SELECT src_kind, relation, dst_kind FROM lineage WHERE dst_kind = 'run'").fetchall()
    assert edges == [("version", "trained", "run")]


def test_an_open_gate_moves_the_alias_and_a_failure_marks_the_run_failed_in_both_places(digits_ws, ws, spec_file):  # noqa: F811
    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    assert toy_stage(ws, spec_file).alias == "latest-validated"
    with pytest.raises(RuntimeError, match="the toy stage broke"):
        toy_stage(ws, spec_file, fail=True)
    assert sorted(status for _, status, *_ in _runs(ws)) == ["failed", "finished"]
    assert sorted(r.info.status for r in mlflow_runs(ws)) == ["FAILED", "FINISHED"]
