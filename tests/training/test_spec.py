from pathlib import Path

import pytest

from datagov.errors import InvalidInput
from datagov.training.spec import SPEC_CLASSES, TransferSpec, load_spec
from tests.conftest import REPO

SPECS = sorted((REPO / "pipelines").glob("*.yaml"))


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_every_shipped_spec_loads_and_says_how_to_run_it(path: Path):
    first = path.read_text().splitlines()[0].split()
    assert first[:2] == ["#", "datagov"] and first[3] == f"pipelines/{path.name}", first
    cls = SPEC_CLASSES[first[2]]  # the command named in the first line
    spec = load_spec(path, cls=cls)
    assert isinstance(spec, cls) and spec.data.suites


def test_both_stages_ship_a_digits_spec():
    firsts = {p.read_text().split()[2] for p in SPECS}
    assert {"pretrain", "transfer"} <= firsts


def test_transfer_spec_problems_are_reported_with_key_paths(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("name: t\nstrategy: distill\ndata: {train: a, suites: [s], validation_every: 1}\n")
    with pytest.raises(InvalidInput) as info:
        load_spec(path, ["train.patience=0"], cls=TransferSpec)
    message = info.value.message
    for fragment in (
        "encoder: required",
        "data.eval: required",
        "strategy: 'distill' is not one of finetune, features",
        "data.validation_every: must be at least 2",
        "train.patience: must be at least 1",
    ):
        assert fragment in message


def test_overrides_are_typed(tmp_path):
    spec = load_spec(
        REPO / "pipelines" / "pretrain-digits.yaml",
        ["train.epochs=3", "train.lr=0.01", "model.hidden=[64, 32]", "train.device=cpu"],
    )
    assert (spec.train.epochs, spec.train.lr, spec.model.hidden, spec.train.device) == (3, 0.01, [64, 32], "cpu")


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: x\n"
        "data: {dataset: d, suites: [s], colour: red}\n"
        "train: {epochs: three, batch_size: 0, loss: l1}\n"
        "model: {hidden: 12}\n"
    )
    with pytest.raises(InvalidInput) as info:
        load_spec(path, ["nokey"])
    message = info.value.message
    assert message.startswith(f"pipeline spec {path} has 6 problem(s):")
    for fragment in (
        "override 'nokey': expected KEY=VALUE",
        "data.colour: unknown key (known: dataset, suites, validation_every)",
        "train.epochs: expected int, got str ('three')",
        "model.hidden: expected a list of int, got int",
        "train.loss: 'l1' is not one of mse, bce",
        "train.batch_size: must be at least 1",
    ):
        assert fragment in message


def test_missing_parts(tmp_path):
    path = tmp_path / "thin.yaml"
    path.write_text("name: x\ndata: {dataset: d}\n")
    with pytest.raises(InvalidInput, match=r"data\.suites: name at least one suite"):
        load_spec(path)
    with pytest.raises(InvalidInput, match="pipeline spec not found"):
        load_spec(tmp_path / "nope.yaml")
