"""A workspace for the desk's tests, built once per module through the real
CLI: an image dataset whose description, owner, tags, file names and suite
arguments carry hostile text, a validation receipt, a near-duplicate
receipt with image pairs, and a split. The desk runs over it in-process
(Starlette's test client) unless a test starts the real server."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient
from typer.testing import CliRunner

from datagov.cli.app import app as cli_app
from datagov.layout import init_workspace
from datagov.web.app import create_app
from datagov.web.auth import TokenDoor
from datagov.workspace import Workspace

TOKEN = "test-token-0123456789"
BASE = "http://127.0.0.1"

# What an attacker would put wherever the catalog keeps text it shows.
HOSTILE = [
    "<script>alert('desk')</script>",
    '"><img src=x onerror=alert(1)>',
    "</td></tr></table><svg onload=alert(2)>",
    "' onmouseover='alert(3)",
    "{{7*7}} {% raw %}",
]


def run(ws: Workspace, *args: str) -> str:
    result = CliRunner().invoke(cli_app, ["--workspace", str(ws.root), *map(str, args)], catch_exceptions=False)
    assert result.exit_code in (0, 3), result.output
    return result.output


def hostile_images(root: Path) -> Path:
    """Two classes of small images; some are exact or brightened copies (the
    near-duplicate check pairs them), and their file names are hostile."""
    rng = np.random.default_rng(7)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(8):
            pixels = rng.integers(0, 256, (16, 16), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
            if i < 2:
                copy = np.clip(pixels.astype(int) + 8, 0, 255).astype(np.uint8)
                name = HOSTILE[i].replace("/", "∕") + f"-{label}{i}.png"  # a file name cannot hold '/'
                Image.fromarray(copy).save(root / label / name)
    (root / "a" / (HOSTILE[3] + "-broken.png")).write_bytes(b"\x89PNG not an image")  # a reject, by name
    return root


def build(root: Path) -> Workspace:
    ws, _ = init_workspace(root / "ws")
    folder = hostile_images(root / "images")
    run(ws, "ingest", folder, "--name", "pics", "--owner", HOSTILE[0], "--license", "CC-BY-4.0",
        "--description", HOSTILE[1], "--tag", f"note={HOSTILE[2]}", "--skip-bad", "--no-progress")  # fmt: skip
    suite = {
        "name": "pics-quality",
        "expectations": [
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1, "max_value": 100}},
            {"type": "expect_column_values_to_not_be_in_set", "kwargs": {"column": "label_name", "value_set": HOSTILE}},
        ],
    }  # fmt: skip
    (ws.expectations_dir / "pics-quality.json").write_text(json.dumps(suite))
    run(ws, "validate", "pics", "--suite", "pics-quality", "--no-progress")
    run(ws, "dedup", "pics")
    run(ws, "split", "pics", "--into", "train=0.5,test=0.5")
    run(ws, "shift", "pics-train", "pics-test")
    run(ws, "audit", "run")
    return ws


@pytest.fixture(scope="module")
def desk_ws(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("desk")
    yield build(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def anonymous(desk_ws) -> TestClient:
    """A browser that has not signed in."""
    return TestClient(create_app(desk_ws, TokenDoor(TOKEN)), base_url=BASE, follow_redirects=False)


@pytest.fixture
def browser(anonymous) -> TestClient:
    """A browser signed in through the token link (a session cookie)."""
    response = anonymous.get(f"/login?token={TOKEN}")
    assert response.status_code == 303, response.text
    return anonymous


def links(html: str) -> set[str]:
    return {h for h in re.findall(r'(?:href|src)="([^"]+)"', html) if h.startswith("/") and not h.startswith("//")}


def crawl(client: TestClient, start: str = "/datasets") -> tuple[set[str], int]:
    """Every page and image reachable from `start` (redirects followed), each
    answering 200; (the paths seen, how many were HTML pages)."""
    seen, queue, pages = set(), [start], 0
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        if response.status_code == 303:  # a dataset's name leads to its newest version
            queue.append(response.headers["location"])
            continue
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
        if response.headers["content-type"].startswith("text/html"):
            pages += 1
            queue += [link.split("#")[0] for link in links(response.text) if urlsplit(link).path != "/logout"]
    return seen, pages


def csrf_of(client: TestClient) -> str:
    return client.get("/api/whoami").json()["csrf"]


class LiveDesk:
    """`datagov serve` running in a child process on 127.0.0.1."""

    def __init__(self, url: str, token: str, proc) -> None:
        self.url, self.token, self.proc = url, token, proc


@pytest.fixture(scope="module")
def live_desk(desk_ws):
    """The real server over the module's workspace, on a free port; stopped after the module."""
    import re
    import subprocess
    import sys

    from tests.conftest import _free_port, wait_for_port

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "datagov", "--workspace", str(desk_ws.root), "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    printed = []
    while proc.stdout and not any("token=" in line for line in printed):
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("datagov serve exited: " + "".join(printed))
        printed.append(line)
    link = next(re.search(r"http://\S+", line).group(0) for line in printed if "token=" in line)  # type: ignore[union-attr]
    wait_for_port(port, proc, 60, "datagov serve")
    yield LiveDesk(f"http://127.0.0.1:{port}", link.split("token=", 1)[1], proc)
    proc.terminate()
    proc.wait(timeout=20)
