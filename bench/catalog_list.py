"""Catalog scale benchmark: `datagov datasets list` with 1,000 versions
(100 datasets of 10 versions), against `datagov datasets list` on a
workspace with one version, in turns, same run. Target: under 0.5 s.

  python -m bench.catalog_list [DATASETS] [VERSIONS_EACH]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATAGOV, OUT, alternate, machine, run


def populate(root: Path, datasets: int, versions: int) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from datagov.ingest import ingest_source
    from datagov.layout import init_workspace
    from datagov.sources import IngestOptions

    shutil.rmtree(root, ignore_errors=True)
    ws, _ = init_workspace(root)
    src = root / "src.parquet"
    for d in range(datasets):
        for v in range(versions):
            pq.write_table(pa.table({"x": [d, v]}), src)
            ingest_source(ws, str(src), f"d{d:03d}", options=IngestOptions(show_progress=False))
    return root


def main(datasets: int = 100, versions: int = 10) -> None:
    big = populate(OUT / "catalog-big", datasets, versions)
    small = populate(OUT / "catalog-small", 1, 1)
    base, cand = alternate(
        lambda: run([*DATAGOV, "--workspace", str(small), "datasets", "list"]),
        lambda: run([*DATAGOV, "--workspace", str(big), "datasets", "list"]),
        5,
    )
    print(f"# {machine()}; {datasets * versions:,} versions in {datasets} datasets")
    print("datasets list with many versions")
    print(f"  {'datasets list, 1 version':<44} {base:8.3f} s")
    print(f"  {f'datasets list, {datasets * versions:,} versions':<44} {cand:8.3f} s")
    print(f"  ratio {cand / base:6.2f}   target < 0.5 s   {'PASS' if cand < 0.5 else 'MISS'}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
