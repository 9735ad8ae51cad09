"""Run every benchmark and print its figures. Usage: python bench/run.py"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import (
    audit,
    catalog_list,
    cli_start,
    contamination,
    csv_ingest,
    hash_cost,
    image_ingest,
    in_place,
    near_planted,
    shift,
    validate,
)

if __name__ == "__main__":
    benches = (csv_ingest, image_ingest, cli_start, validate, shift, audit, in_place, catalog_list)
    for bench in (*benches, hash_cost, contamination, near_planted):
        bench.main()
        print()
