"""A reviewer and a steward in a real browser (Playwright driving Debian's
Chromium) against the real `datagov serve` on 127.0.0.1, over a team
catalog on PostgreSQL: the steward signs in with database credentials and
approves a pending waiver by clicking; the engineer's run then passes the
gate; the reviewer opens the model, follows its data to a contamination
receipt and sees the pair's images. Screenshots of the main pages go to
$DATAGOV_SCREENSHOTS (default: the test's tmp folder), never into git."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _free_port, wait_for_port
from tests.test_team import PEOPLE, team, team_ws  # noqa: F401  (the team's fixtures)
from tests.training.conftest import SPEC, TINY

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("DATAGOV_CHROMIUM", "/usr/bin/chromium"))
# Without the background flags Chromium keeps calling home, which floods a closed network.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture
def served(team, tmp_path):  # noqa: F811
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "datagov", "--workspace", str(team.cli.ws.root), "serve", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    wait_for_port(port, proc, 60, "datagov serve", log)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


@pytest.fixture
def chromium():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DATAGOV_SCREENSHOTS", tmp_path / "screens"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_steward_approves_in_the_browser_and_a_reviewer_follows_a_model_to_its_evidence(
    team,  # noqa: F811
    served,
    chromium,
    tmp_path,
):
    shots = screenshots(tmp_path)
    refused = team.as_("alice", "pretrain", SPEC, *TINY, "--no-progress", "--waive", "need a baseline today")
    assert refused.exit_code == 4, refused.output
    waiver = re.search(r"waiver (w-[0-9a-f]+)", refused.stderr).group(1)  # type: ignore[union-attr]

    steward = chromium.new_page()
    steward.goto(f"{served}/approvals")
    assert "sign in first" in steward.content()
    steward.goto(f"{served}/login")
    steward.fill("input[name=user]", "sam")
    steward.fill("input[name=password]", PEOPLE["sam"][0])
    steward.click("button:has-text('Sign in')")
    assert "signed in as" in steward.inner_text("header") and "sam" in steward.inner_text("header")
    steward.goto(f"{served}/approvals")
    card = steward.locator(f"#{waiver}")
    assert "need a baseline today" in card.inner_text() and "alice" in card.inner_text()
    steward.screenshot(path=shots / "approvals.png", full_page=True)
    card.locator("input[name=reason]").fill("baseline only; suites land Friday")
    card.locator("button[value=approved]").click()
    decided = steward.locator("table").last.inner_text()
    assert waiver in decided and "approved" in decided and "sam" in decided

    passed = team.as_("alice", "pretrain", SPEC, *TINY, "--no-progress", "--waive", "need a baseline today")
    assert passed.exit_code == 0, passed.output  # the gate opened for the approved waiver
    checked = team.as_("alice", "contamination", "digits-pretrain", "digits-eval")
    assert checked.exit_code in (0, 3), checked.output

    reviewer = steward  # same browser: the reviewer's walk
    reviewer.goto(f"{served}/models")
    reviewer.screenshot(path=shots / "models.png", full_page=True)
    reviewer.click("text=models:/digits-autoencoder/1")
    body = reviewer.inner_text("main")
    assert "approved by sam" in body and "baseline only; suites land Friday" in body
    reviewer.screenshot(path=shots / "model.png", full_page=True)
    reviewer.locator("main table").first.locator("a", has_text="digits-pretrain@").first.click()
    assert "Lineage" in reviewer.inner_text("main") and reviewer.locator("svg").count() == 1
    reviewer.screenshot(path=shots / "version.png", full_page=True)
    reviewer.goto(f"{served}/datasets/digits-eval")
    reviewer.locator("a", has_text="r-").first.click()
    assert "contamination" in reviewer.inner_text("main") and "Pairs found" in reviewer.inner_text("main")
    images = reviewer.locator("tr.pair img")
    assert images.count() >= 2
    reviewer.wait_for_load_state("networkidle")
    first = reviewer.request.get(served + images.first.get_attribute("src"))
    assert first.status == 200 and first.headers["content-type"] == "image/png", (first.status, first.text()[:500])
    widths = images.evaluate_all("imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert all(w > 0 for w in widths), widths  # every image of the pairs loaded (no broken image)
    reviewer.screenshot(path=shots / "receipt.png", full_page=True)
    reviewer.goto(f"{served}/datasets")
    reviewer.screenshot(path=shots / "datasets.png", full_page=True)
