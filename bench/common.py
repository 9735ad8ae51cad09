"""Timing helpers: every figure is a ratio against a baseline timed in the
same run, alternating baseline and candidate so machine noise hits both."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
DATAGOV = [sys.executable, "-m", "datagov"]  # the CLI as `python -m datagov` runs it


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(cmd: list[str], **kw) -> float:
    """Wall time of a command; raises with its stderr when it fails."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def timed_ingest(workspace: str, source: Path | str) -> float:
    """Wall time of `datagov ingest SOURCE` into a fresh workspace under bench/out."""
    import shutil

    ws = OUT / workspace
    shutil.rmtree(ws, ignore_errors=True)
    run([*DATAGOV, "init", str(ws)])
    return run([*DATAGOV, "--workspace", str(ws), "ingest", str(source), "--name", "bench", "--no-progress"])


def alternate(baseline: Callable[[], float], candidate: Callable[[], float], repeats: int) -> tuple[float, float]:
    """Median seconds of each, measured in turns; the order flips each turn, so
    neither always runs first on a machine that drifts (caches, clocks, neighbours)."""
    base: list[float] = []
    cand: list[float] = []
    for turn in range(repeats):
        for timer, times in ((baseline, base), (candidate, cand))[:: 1 if turn % 2 == 0 else -1]:
            times.append(timer())
    return statistics.median(base), statistics.median(cand)


def report(name: str, base_label: str, base: float, cand_label: str, cand: float, target: str, ok: bool) -> None:
    print(f"{name}")
    print(f"  {base_label:<44} {base:8.3f} s")
    print(f"  {cand_label:<44} {cand:8.3f} s")
    print(f"  ratio {cand / base:6.2f}   target {target}   {'PASS' if ok else 'MISS'}")


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"


def peak_rss_children_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
