"""Fixtures: a real workspace under tmp_path and an in-process CLI runner."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from datagov.cli.app import app
from datagov.layout import init_workspace
from datagov.workspace import Workspace, load_workspace

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    monkeypatch.delenv("DATAGOV_HOME", raising=False)
    monkeypatch.delenv("DATAGOV_FAULT", raising=False)
    monkeypatch.delenv("DATAGOV_LOCK_TIMEOUT", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # MLflow sets it; undone after each test


# Test files whose workspaces run on both catalog backends (CI runs both).
BOTH_BACKENDS = ("tests/catalog/", "tests/cli/", "tests/hostile/", "tests/lifecycle/", "tests/test_crash_safety.py",
                 "tests/test_concurrency.py")  # fmt: skip
BACKENDS = ("duckdb", "postgresql")


def pytest_generate_tests(metafunc):
    rel = Path(metafunc.definition.path).resolve().relative_to(REPO).as_posix()
    file_only = metafunc.definition.get_closest_marker("duckdb_file") is not None
    if "catalog_backend" in metafunc.fixturenames and rel.startswith(BOTH_BACKENDS) and not file_only:
        metafunc.parametrize("catalog_backend", BACKENDS, indirect=True)


@pytest.fixture
def catalog_backend(request) -> str:
    """The catalog a test's workspace uses: the DuckDB file unless the test's file runs on both."""
    return getattr(request, "param", "duckdb")


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL 15 cluster on 127.0.0.1, stopped after the session."""
    from tests import pg

    cluster = pg.start()
    yield cluster
    cluster.stop()


def use_postgres_catalog(root: Path, url: str) -> Workspace:
    """Point a workspace's `[catalog] url` at a PostgreSQL database."""
    set_setting(root, "catalog", "url", f'"{url}"')
    return load_workspace(root)


def set_setting(root: Path, section: str, key: str, toml_value: str) -> None:
    """Set `key` of `[section]` in a workspace's datagov.toml (the first such key after the header)."""
    import re

    config = root / "datagov.toml"
    head, rest = config.read_text().split(f"[{section}]\n", 1)
    rest, found = re.subn(rf"^{key} = .*$", lambda _: f"{key} = {toml_value}", rest, count=1, flags=re.M)
    assert found, f"no {key} under [{section}] in {config}"
    config.write_text(head + f"[{section}]\n" + rest)


@pytest.fixture
def pg_database(request, pg_cluster):
    """A fresh database in the session's cluster (dropped after the test); yields its admin URL."""
    import uuid

    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_cluster.create_database(name)
    yield url
    pg_cluster.drop_database(name)


@pytest.fixture
def ws(tmp_path: Path, catalog_backend: str, request) -> Workspace:
    workspace, _ = init_workspace(tmp_path / "ws")
    if catalog_backend == "postgresql":
        return use_postgres_catalog(workspace.root, request.getfixturevalue("pg_database"))
    return workspace


class Cli:
    """Runs `datagov --workspace WS ...` in-process and returns click's Result."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.runner = CliRunner()

    def __call__(self, *args: str, workspace: bool = True):
        argv = (["--workspace", str(self.ws.root)] if workspace else []) + [str(a) for a in args]
        return self.runner.invoke(app, argv, catch_exceptions=False)


@pytest.fixture
def cli(ws: Workspace) -> Cli:
    return Cli(ws)


def run_datagov(*args: str, cwd: Path | None = None, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """The real console entry point in a child process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "datagov", *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        **kw,
    )


def png_bytes(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def make_image_folder(root: Path, per_class: int = 6, classes=("cat", "dog"), size=(12, 10), seed=0) -> Path:
    """A real ImageFolder: PNGs and JPEGs with random pixels."""
    rng = np.random.default_rng(seed)
    for c_idx, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
            img = Image.fromarray(pixels)
            if i % 3 == 2:
                img.save(folder / f"{c_idx}_{i}.jpg", format="JPEG", quality=90)
            else:
                img.save(folder / f"{c_idx}_{i}.png", format="PNG")
    return root


def catalog_counts(ws: Workspace) -> dict[str, int]:
    from datagov.catalog.db import open_catalog

    with open_catalog(ws) as con:
        return {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("datasets", "versions", "files", "rejects", "lineage")
        }


def store_folders(ws: Workspace) -> list[str]:
    return sorted(p.name for p in ws.store_dir.iterdir()) if ws.store_dir.exists() else []


def tmp_entries(ws: Workspace) -> list[str]:
    return sorted(p.name for p in ws.tmp_dir.iterdir()) if ws.tmp_dir.exists() else []


def wait_for_port(port: int, proc: subprocess.Popen, seconds: float, what: str, log: Path | None = None) -> None:
    """Until a server started as `proc` accepts connections on 127.0.0.1:`port`;
    kills it and raises (with its log's tail) if it exits or takes too long."""
    import socket
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                tail = log.read_text()[-2000:] if log and log.exists() else ""
                raise RuntimeError(f"{what} did not start {tail}") from None
            time.sleep(0.1)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server (moto's standalone server) on 127.0.0.1,
    stopped after the session; yields its endpoint URL."""

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from moto.server import main; main()", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc, 30, "moto_server")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


@pytest.fixture
def bucket(s3_server, monkeypatch, request) -> str:
    """A fresh bucket on the test server, with the AWS variables pointing at
    it (children started by the test inherit them); yields `s3://NAME`."""
    import re

    from pyarrow import fs

    for key, value in {**S3_ENV, "AWS_ENDPOINT_URL": s3_server}.items():
        monkeypatch.setenv(key, value)
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + f"-{os.getpid() % 10000}"
    admin = fs.S3FileSystem(endpoint_override=s3_server.split("//")[1], scheme="http", allow_bucket_creation=True)
    admin.create_dir(name)
    return f"s3://{name}"


def s3_admin(endpoint: str):
    """An S3 client for tests to plant, change and delete objects directly."""
    from pyarrow import fs

    return fs.S3FileSystem(endpoint_override=endpoint.split("//")[1], scheme="http")


def version_rows(ws: Workspace, name: str, columns: str = "*", order_by: str | None = None) -> list[tuple]:
    """Rows of the newest version of `name`, read through its verified scan."""
    import duckdb

    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import resolve, scan_version

    with open_catalog(ws) as con:
        version = resolve(con, name)
    con = duckdb.connect()
    try:
        order = f" ORDER BY {order_by}" if order_by else ""
        return con.sql(f"SELECT {columns} FROM {scan_version(ws, version)}{order}").fetchall()
    finally:
        con.close()
