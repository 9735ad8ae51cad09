"""Run every benchmark and print its figures. Usage: python bench/run.py"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import (
    audit,
    catalog_backends,
    catalog_list,
    cli_start,
    contamination,
    csv_ingest,
    hash_cost,
    image_ingest,
    in_place,
    near_planted,
    shift,
    team_workload,
    validate,
)

if __name__ == "__main__":
    benches = (csv_ingest, image_ingest, cli_start, validate, shift, audit, in_place, catalog_list)
    for bench in (*benches, catalog_backends, team_workload, hash_cost, contamination, near_planted):
        bench.main()
        print()
