"""`datagov gc` over 1,000 versions and 10,000 files: 100 datasets of 10
versions, each of 10 Parquet files, `[retention] keep_versions = 2`, and 20
store folders no version references (writers killed before COMMIT).

Baseline: removing exactly the unreferenced folders with `shutil.rmtree`
(the plan given, no catalog), in this process. Candidate: `datagov gc` (a
fresh CLI process, start-up included), on a fresh copy of the workspace
each turn. Checked every turn: the bytes gc reports reclaimed equal the
bytes of the folders no kept version references, measured on disk before,
and what is left on disk is exactly what the kept versions reference.

  python -m bench.gc [DATASETS] [REPEATS]
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATAGOV, OUT, alternate, machine, report, timed

VERSIONS, FILES, KEEP, ORPHANS = 10, 10, 2, 20


def build(root: Path, datasets: int) -> Path:
    """Versions registered through the library (as ingest does), each with its own files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import NewVersion, register
    from datagov.layout import init_workspace
    from datagov.store import build_manifest, duckdb_connection, staged_version, staging

    shutil.rmtree(root, ignore_errors=True)
    ws, _ = init_workspace(root)
    duck = duckdb_connection()
    for d in range(datasets):
        for v in range(VERSIONS):
            with staging(ws) as folder:
                for f in range(FILES):
                    rows = [d * 1_000_000 + v * 1000 + f * 10 + i for i in range(10)]
                    pq.write_table(
                        pa.table({"id": rows, "x": [float(r) for r in rows]}), folder / f"part-{f:05d}.parquet"
                    )
                manifest = build_manifest(folder, duck)
                with staged_version(ws, folder, manifest.digest) as staged, open_catalog(ws, write=True) as con:
                    register(ws, con, NewVersion(f"d{d:03d}", manifest, staged, "tabular", "bench", "parquet"))
    duck.close()
    for i in range(ORPHANS):
        stray = ws.store_dir / f"{i:064x}"
        stray.mkdir()
        pq.write_table(pa.table({"x": list(range(100))}), stray / "part-00000.parquet")
    config = ws.root / "datagov.toml"
    config.write_text(config.read_text().replace("keep_versions = 0", f"keep_versions = {KEEP}"))
    return ws.root


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def unreferenced(ws: Path) -> list[Path]:
    """The store folders no kept version references: all but each dataset's newest KEEP."""
    from datagov.catalog.db import open_catalog
    from datagov.catalog.versions import all_versions
    from datagov.workspace import load_workspace

    with open_catalog(load_workspace(ws)) as con:
        versions = all_versions(con)  # by dataset, newest first
    kept: dict[str, list[str]] = {}
    for v in versions:
        kept.setdefault(v.dataset, []).append(v.digest)
    keep = {d for digests in kept.values() for d in digests[:KEEP]}
    return [p for p in sorted((ws / "catalog" / "store").iterdir()) if p.name not in keep]


def fresh(ws: Path, scratch: Path) -> Path:
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(ws, scratch)
    return scratch


def rmtree_plan(ws: Path, scratch: Path) -> float:
    copy = fresh(ws, scratch)
    doomed = [copy / "catalog" / "store" / p.name for p in unreferenced(ws)]
    return timed(lambda: [shutil.rmtree(p) for p in doomed])


def gc_cli(ws: Path, scratch: Path, checks: list) -> float:
    import time

    copy = fresh(ws, scratch)
    expected = sum(folder_bytes(p) for p in unreferenced(copy))
    start = time.perf_counter()
    proc = subprocess.run([*DATAGOV, "--workspace", str(copy), "gc", "--json"], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    doc = json.loads(proc.stdout)
    left = sorted(p.name for p in (copy / "catalog" / "store").iterdir())
    wanted = sorted(p.name for p in (ws / "catalog" / "store").iterdir() if p not in unreferenced(ws))
    checks.append((doc["bytes_reclaimed"], expected, len(doc["deleted"]), doc["files_removed"], left == wanted))
    return elapsed


def main(datasets: int = 100, repeats: int = 3) -> None:
    ws = build(OUT / "gc" / "ws", datasets)
    checks: list = []
    base, cand = alternate(lambda: rmtree_plan(ws, OUT / "gc" / "scratch"),
                           lambda: gc_cli(ws, OUT / "gc" / "scratch", checks), repeats)  # fmt: skip
    reclaimed, expected, deleted, files, exact = checks[-1]
    print(f"# {machine()}; {datasets * VERSIONS:,} versions, {datasets * VERSIONS * FILES:,} files, "
          f"keep_versions = {KEEP}, {ORPHANS} unreferenced folders")  # fmt: skip
    report("gc vs removing the unreferenced folders by hand", "shutil.rmtree of the plan (no catalog)", base,
           "datagov gc (CLI, retention and catalog)", cand, "time reported; bytes must match", True)  # fmt: skip
    same = all(r == e and ok for r, e, _, _, ok in checks)
    print(f"  versions deleted {deleted:,}, stored files removed {files:,}, bytes reclaimed {reclaimed:,}, "
          f"unreferenced bytes on disk before {expected:,}: {'EQUAL' if same else 'DIFFERENT'} in every turn; "
          f"left on disk exactly the kept versions: {'yes' if exact else 'NO'}")  # fmt: skip


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
