"""Training as a user sees it: in a real terminal, where Rich draws the progress bar."""

import re

from tests.terminal import run_in_terminal
from tests.training.conftest import SPEC, TINY


def test_pretrain_draws_its_progress_in_a_terminal_and_finishes(digits_ws, ws):
    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    run = run_in_terminal("--workspace", ws.root, "pretrain", SPEC, *TINY, "train.epochs=3")
    assert run.returncode == 0, run.text[-3000:]
    assert "Traceback" not in run.text and "KeyError" not in run.text
    assert "epoch 3/3" in run.text and "Registered models:/digits-autoencoder/1" in run.text
    shown = [tuple(map(int, m)) for m in re.findall(r"(\d+)/(\d+) loss", run.text)]
    assert shown and all(done <= total for done, total in shown)  # the bar never counts past its total
    assert any(done == total for done, total in shown)
