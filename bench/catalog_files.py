"""Catalog scale benchmark: `datagov datasets show` and `datagov lineage` of
a version of 10,000 files (Parquet shards registered in place) against the
same commands on a version of one file, in turns, same run. Target: each
under 0.5 s, as for `datasets list`.

  python -m bench.catalog_files [FILES]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATAGOV, OUT, alternate, machine, report, run


def populate(root: Path, files: int) -> Path:

    from datagov.ingest import ingest_in_place
    from datagov.layout import init_workspace

    shutil.rmtree(root, ignore_errors=True)
    ws, _ = init_workspace(root / "ws")
    ingest_in_place(ws, str(write_shards(root / "shards", files)), "many")
    return root / "ws"


def write_shards(shards: Path, files: int) -> Path:
    """`files` one-row Parquet shards, a thousand to a folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for i in range(files):
        folder = shards / f"{i // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"x": [i], "y": [float(i)]}), folder / f"part-{i:06d}.parquet")
    return shards


def main(files: int = 10_000) -> None:
    big = populate(OUT / "catalog-files-big", files)
    small = populate(OUT / "catalog-files-small", 1)
    print(f"# {machine()}; a version of {files:,} files against one of 1 file")
    for command in (["datasets", "show", "many"], ["lineage", "many"]):
        base, cand = alternate(
            lambda cmd=command: run([*DATAGOV, "--workspace", str(small), *cmd]),
            lambda cmd=command: run([*DATAGOV, "--workspace", str(big), *cmd]),
            5,
        )
        name = " ".join(command[:-1])
        report(f"{name} of a version with many files", f"{name}, 1 file", base, f"{name}, {files:,} files", cand,
               "< 0.5 s", cand < 0.5)  # fmt: skip


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
