"""runs, waivers and promotions: typed rows in, the same rows out, and the
CLI labels each column by what it holds."""

import json
from datetime import timedelta

from datagov.catalog import runs
from datagov.catalog.db import open_catalog
from datagov.catalog.versions import now


def _run(run_id="r1", status="running"):
    return runs.RunRow(run_id, "pretrain", "pipelines/p.yaml", "exp-name", "digits", "ab" * 32,
                       {"allowed": True}, None, status, None, None)  # fmt: skip


def test_a_run_round_trips_and_finishes(ws):
    with open_catalog(ws, write=True) as con:
        runs.insert_run(con, _run())
        runs.finish_run(con, "r1", "finished", ("m", "3"), {"val_loss": 0.5})
        [row] = runs.list_runs(con)
        assert (row.pipeline, row.experiment, row.status, row.model, row.metrics) == (
            "pipelines/p.yaml", "exp-name", "finished", "m/3", {"val_loss": 0.5}
        )  # fmt: skip
        assert runs.models_trained_on(con, "digits", "ab" * 32) == ["m/3"]
        assert runs.newest_pretrained_model(con, "ab" * 32) == ("m", "3")
        assert runs.runs_by_id(con, ["r1", "nope"]) == [row]


def test_only_runs_whose_process_is_gone_are_marked_interrupted(ws):
    import subprocess

    from datagov.catalog.db import close_dead_runs

    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid now names no process
    with open_catalog(ws, write=True) as con:
        runs.insert_run(con, _run("alive"))  # this process
        runs.insert_run(con, _run("dead"))
        runs.insert_run(con, _run("elsewhere"))
        con.execute("UPDATE runs SET pid = ? WHERE run_id IN ('dead', 'elsewhere')", [gone.pid])
        con.execute("UPDATE runs SET host = 'another-machine' WHERE run_id = 'elsewhere'")
        assert sorted(r[0] for r in runs.running_runs(con)) == ["alive", "dead", "elsewhere"]
        assert close_dead_runs(ws, con) == ["dead"]
        status = {r.run_id: r.status for r in runs.list_runs(con)}
        assert status == {"alive": "running", "dead": "interrupted", "elsewhere": "running"}
        assert close_dead_runs(ws, con) == []  # only `running` rows


def test_waivers_and_promotions(ws):
    at = now()
    with open_catalog(ws, write=True) as con:
        runs.insert_waiver(con, runs.WaiverRow("w1", "d@x", "pretrain", "why", "me", [{"code": "x"}], at,
                                               at - timedelta(days=1), None))  # fmt: skip
        runs.attach_waiver(con, "w1", "r1")
        [w] = runs.waivers_of_run(con, "r1")
        assert w.refused == [{"code": "x"}] and w.expired
        runs.insert_promotion(con, runs.PromotionRow("p1", "m", "1", "prod", None, {"allowed": True}, None, "me", at))
        assert runs.promotions_of(con, "m", "1")[0].decision == {"allowed": True}


def test_runs_list_fills_every_column_at_140_and_json_has_the_rest(cli, ws):
    with open_catalog(ws, write=True) as con:
        row = runs.RunRow("f" * 32, "transfer", "pipelines/transfer-digits.yaml", "digits-transfer",
                          "digits-finetune", "cd" * 32, {"allowed": True}, None, "running", None, None)  # fmt: skip
        runs.insert_run(con, row)
        metrics = {"eval_accuracy": 0.8757, "baseline_eval_accuracy": 0.8462, "pretraining_gain": 0.0295}
        runs.finish_run(con, "f" * 32, "finished", ("digits-classifier", "12"), metrics)
        runs.insert_run(con, _run())
    table = cli("runs", "list")  # captured: rendered at 140 columns, a narrow terminal
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert max(map(len, lines)) <= 140
    header = next(line for line in lines if "stage" in line)
    for name in ("run", "stage", "trained on", "gate", "status", "model", "results", "started"):
        assert name in header, name  # no column squeezed to nothing
    body = " ".join(lines)
    for shown in ("ffffffff", "transfer", "digits-finetune@cdcdcdcdcdcd", "open", "finished", "digits-classifier/12",
                  "eval acc 0.8757", "gain 0.0295", "running"):  # fmt: skip
        assert shown in body, shown
    doc = next(d for d in json.loads(cli("runs", "list", "--json").stdout) if d["run_id"] == "r1")
    assert doc["pipeline"] == "pipelines/p.yaml" and doc["experiment"] == "exp-name"
