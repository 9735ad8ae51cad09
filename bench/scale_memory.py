"""Peak memory of `datagov split`, `datagov expectations suggest` (the
profile) and `datagov shift` on a 10M-row version (5 columns, 10 classes),
each a fresh CLI process. The version's Parquet is ~300 MB; a command that
held a whole column as Python objects would need gigabytes. Target: each
under 1.5 GB peak RSS.

  python -m bench.scale_memory [ROWS]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATAGOV, OUT, machine, run
from bench.validate import make_data, max_rss_mb

LIMIT_MB = 1536


def main(rows: int = 10_000_000) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    data = make_data(rows)
    ws = OUT / "ws-scale"
    shutil.rmtree(ws, ignore_errors=True)
    run([*DATAGOV, "init", str(ws)])
    run([*DATAGOV, "--workspace", str(ws), "ingest", str(data), "--name", "big", "--label", "label", "--no-progress"])
    commands = {
        "split (stratified, 3 ways)": ["split", "big", "--into", "a=0.7,b=0.1,c=0.2"],
        "expectations suggest (profile)": ["expectations", "suggest", "big", "--suite", "big"],
        "shift (10M against 1M rows)": ["shift", "big", "big-b", "--encoder", "none"],
    }
    print(f"Memory at scale: {rows:,} rows x 5 columns ({machine()})")
    for name, args in commands.items():
        wall, rss = max_rss_mb([*DATAGOV, "--workspace", str(ws), *args])
        ok = "PASS" if rss <= LIMIT_MB else "MISS"
        print(f"  {name:<36} {wall:8.1f} s   peak RSS {rss:7.0f} MB   target <= {LIMIT_MB}  {ok}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
