"""`datagov gc`: [retention], unreferenced bytes, and what it never touches;
killed at each named point, a rerun finishes and the catalog and store agree."""

from __future__ import annotations

import json
import signal

import pytest

from datagov.catalog.db import open_catalog
from datagov.catalog.lifecycle import store_deletions
from tests.conftest import catalog_counts, run_datagov, set_setting, store_folders
from tests.lifecycle.test_retire import _table


@pytest.fixture
def five_versions(cli, tmp_path):
    for seed in range(5):
        assert cli("ingest", _table(tmp_path / f"t{seed}.csv", 40 + seed, seed), "--name", "t").exit_code == 0
    return [v["digest"] for v in json.loads(cli("datasets", "history", "t", "--json").stdout)]  # newest first


def _folder_bytes(ws, digest: str) -> int:
    return sum(p.stat().st_size for p in (ws.store_dir / digest).rglob("*") if p.is_file())


def test_gc_applies_retention_and_reclaims_exactly_the_unreferenced_bytes(cli, ws, five_versions):
    set_setting(ws.root, "retention", "keep_versions", "2")
    plain = cli("gc", "--dry-run")
    assert plain.exit_code == 0 and plain.stdout.count("would delete t@") == 3
    assert "nothing changed" in plain.stdout and len(store_folders(ws)) == 5
    expected = sum(_folder_bytes(ws, d) for d in five_versions[2:])
    stray = ws.store_dir / ("f" * 64)  # a writer killed between its rename and COMMIT
    stray.mkdir()
    (stray / "part-00000.parquet").write_bytes(b"x" * 100)
    done = cli("gc")
    assert done.exit_code == 0, done.output
    assert store_folders(ws) == sorted(five_versions[:2])
    from datagov.cli.state import human_bytes

    assert f"{human_bytes(expected + 100)} reclaimed" in done.stdout
    assert cli("gc").stdout.startswith("gc: 0 version(s) deleted")  # nothing left to do


def test_gc_keeps_what_a_remaining_version_derives_from(cli, ws, five_versions):
    oldest = five_versions[-1]
    assert cli("split", f"t@{oldest[:12]}", "--into", "a=0.5,b=0.5").exit_code == 0
    set_setting(ws.root, "retention", "keep_versions", "1")
    result = cli("gc")
    assert result.exit_code == 0
    assert f"kept t@{oldest[:12]}: past retention, but 2 version(s) derived from it remain" in result.stdout
    assert oldest in store_folders(ws)


def test_gc_never_touches_another_workspaces_store(cli, ws, five_versions, tmp_path):
    other = tmp_path / "other-store"
    other.mkdir()
    (other / ("e" * 64)).mkdir()
    (other / ("e" * 64) / "keep.parquet").write_bytes(b"theirs")
    # A location row naming a folder outside this workspace is text someone could edit: never deleted.
    with open_catalog(ws, write=True) as con:
        con.execute(
            "INSERT INTO store_deletions (digest, root, erasure_id, files, created) VALUES (?, ?, NULL, '[]', now())",
            ["e" * 64, str(other / ("e" * 64))],
        )
    assert cli("gc").exit_code == 0
    assert (other / ("e" * 64) / "keep.parquet").read_bytes() == b"theirs"


@pytest.mark.parametrize("point", ["gc:rows-deleted", "gc:bytes-removed"])
def test_gc_killed_at_a_named_point_finishes_on_the_next_run(ws, five_versions, point):
    set_setting(ws.root, "retention", "keep_versions", "3")
    killed = run_datagov("--workspace", ws.root, "gc", env={"DATAGOV_FAULT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with open_catalog(ws) as con:
        assert store_deletions(con)  # what is still to remove is on record
    rerun = run_datagov("--workspace", ws.root, "gc")
    assert rerun.returncode == 0, rerun.stderr
    with open_catalog(ws) as con:
        assert store_deletions(con) == []
        held = {r[0] for r in con.execute("SELECT digest FROM versions").fetchall()}
    assert held == set(five_versions[:3]) and set(store_folders(ws)) == held
    assert catalog_counts(ws)["versions"] == 3


def test_gc_never_follows_a_link_in_the_store(cli, ws, five_versions, tmp_path):
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "data.parquet").write_bytes(b"not the workspace's")
    (ws.store_dir / ("d" * 64)).symlink_to(outside, target_is_directory=True)  # named like a digest no version holds
    (ws.cache_dir).mkdir(exist_ok=True)
    (ws.cache_dir / ("c" * 64)).symlink_to(outside, target_is_directory=True)
    with open_catalog(ws, write=True) as con:  # a deletion record naming a path, not a digest
        con.execute(
            "INSERT INTO store_deletions (digest, root, erasure_id, files, created) VALUES (?, '', NULL, '[]', now())",
            [f"../../../{outside.name}"],
        )
    assert cli("gc").exit_code == 0
    assert (outside / "data.parquet").read_bytes() == b"not the workspace's"
    assert (ws.store_dir / ("d" * 64)).is_symlink() and (ws.cache_dir / ("c" * 64)).is_symlink()
