"""CLI start: wall time of `datagov --help` and `datagov datasets list`
against `python -c pass`, medians of repeated fresh processes.
Target: `--help` under 0.5 s. Usage: python -m bench.cli_start"""

from __future__ import annotations

import shutil
import statistics
import sys

from bench.common import DATAGOV, OUT, machine, run


def main(repeats: int = 15) -> float:
    ws = OUT / "ws-cli"
    shutil.rmtree(ws, ignore_errors=True)
    run([*DATAGOV, "init", str(ws)])
    run([*DATAGOV, "--workspace", str(ws), "ingest", "sklearn:digits", "--name", "digits", "--no-progress"])
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "datagov --help": [*DATAGOV, "--help"],
        "datagov datasets list": [*DATAGOV, "--workspace", str(ws), "datasets", "list"],
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(repeats):
        for name, cmd in commands.items():
            times[name].append(run(cmd))
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["python -c pass"]
    print(f"CLI start ({machine()}, median of {repeats})")
    for name, value in med.items():
        print(f"  {name:<44} {value:8.3f} s   x{value / base:5.1f} of python -c pass")
    ok = med["datagov --help"] < 0.5
    print(f"  target: datagov --help under 0.5 s   {'PASS' if ok else 'MISS'}")
    return med["datagov --help"]


if __name__ == "__main__":
    main()
