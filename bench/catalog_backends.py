"""Catalog backends benchmark: `datagov datasets list` and `datagov datasets
show` at 1,000 versions and 10,000 files, on the DuckDB file against the same
catalog moved to PostgreSQL (`catalog migrate --to`), in turns, same run.
Targets: each under 0.5 s, and PostgreSQL at most 1.5x DuckDB.

  python -m bench.catalog_backends [DATASETS] [VERSIONS_EACH] [FILES]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.catalog_files import write_shards
from bench.common import DATAGOV, OUT, alternate, machine, run


def populate(root: Path, datasets: int, versions: int, files: int) -> Path:
    """`datasets` x `versions` small stored versions, and one version of
    `files` Parquet shards registered in place ("many")."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from datagov.ingest import ingest_in_place, ingest_source
    from datagov.layout import init_workspace
    from datagov.sources import IngestOptions

    shutil.rmtree(root, ignore_errors=True)
    ws, _ = init_workspace(root / "ws")
    src = root / "src.parquet"
    for d in range(datasets):
        for v in range(versions):
            pq.write_table(pa.table({"x": [d, v]}), src)
            ingest_source(ws, str(src), f"d{d:03d}", options=IngestOptions(show_progress=False))
    ingest_in_place(ws, str(write_shards(root / "shards", files)), "many")
    return root / "ws"


def moved_to_postgres(duck: Path, url: str) -> Path:
    """A copy of the workspace whose catalog is the same rows on PostgreSQL."""
    from tests.conftest import use_postgres_catalog

    team = duck.parent / "ws-postgres"
    shutil.rmtree(team, ignore_errors=True)
    shutil.copytree(duck, team, symlinks=True)
    run([*DATAGOV, "--workspace", str(duck), "catalog", "migrate", "--to", url])
    use_postgres_catalog(team, url)
    return team


def main(datasets: int = 100, versions: int = 10, files: int = 9_000) -> None:
    from tests import pg

    cluster = pg.start()
    try:
        duck = populate(OUT / "catalog-backends", datasets, versions, files)
        team = moved_to_postgres(duck, cluster.create_database("bench"))
        total = datasets * versions + 1
        print(f"# {machine()}; {total:,} versions, {datasets * versions + files:,} files, PostgreSQL 15 on 127.0.0.1")
        print(f"{'command':<36} {'DuckDB s':>9} {'Postgres s':>11} {'ratio':>6}   targets: each < 0.5 s, ratio <= 1.5")
        for command in (["datasets", "list"], ["datasets", "show", "many"], ["datasets", "show", "d050"]):
            base, cand = alternate(
                lambda cmd=command: run([*DATAGOV, "--workspace", str(duck), *cmd]),
                lambda cmd=command: run([*DATAGOV, "--workspace", str(team), *cmd]),
                7,
            )
            verdict = "PASS" if max(base, cand) < 0.5 and cand / base <= 1.5 else "MISS"
            print(f"{' '.join(command):<36} {base:>9.3f} {cand:>11.3f} {cand / base:>6.2f}   {verdict}")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
