"""Many datagov processes on one catalog and one store: a mix of ingest,
split, validate, pretrain and audit, each a real `python -m datagov` process.

Used by tests/test_concurrency.py (8 processes: nothing lost, nothing
corrupt, every failure one `Error:` line) and as a benchmark: commands per
minute with 1, 2, 4 and 8 processes at once, on the DuckDB file and on
PostgreSQL, in one run.

  python -m bench.team_workload [ROUNDS]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATAGOV, OUT, REPO, machine

PRETRAIN = [str(REPO / "pipelines" / "pretrain-digits.yaml"), "train.epochs=1", "model.hidden=[16]",
            "model.latent=4", "train.device=cpu", "--no-progress"]  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    worker: int
    command: str
    returncode: int
    stderr: str
    seconds: float


def prepare(root: Path) -> None:
    """digits, split with the demo's fractions, and the repository's suites."""
    for suite in ("digits-pretrain", "digits-labelled"):
        shutil.copy(REPO / "expectations" / f"{suite}.json", root / "expectations")
    _must(root, "ingest", "sklearn:digits", "--name", "digits")
    _must(root, "split", "digits", "--into", "pretrain=0.7,finetune=0.1,eval=0.2", "--drop-labels", "pretrain",
          "--dedupe", "near")  # fmt: skip


def commands(worker: int, source: Path, pretrain: bool) -> list[list[str]]:
    """One worker's mix: its own dataset and a shared one, a split, a
    validation, an audit, and (some workers) a pretraining run."""
    mix = [
        ["ingest", str(source), "--name", f"w{worker}"],
        ["ingest", str(source), "--name", "shared"],  # every worker adds a version to one dataset
        ["split", f"w{worker}", "--into", "a=0.5,b=0.5", "--seed", str(worker)],
        ["validate", "digits-pretrain", "--suite", "digits-pretrain"],
        ["audit", "run", "--dataset", "digits-pretrain"],
    ]
    return mix + ([["pretrain", *PRETRAIN]] if pretrain else [])


def run_workers(root: Path, workers: int, *, env: dict[str, str] | None = None, pretrainers: int = 2) -> list[Outcome]:
    """`workers` processes at once, each running its mix in order."""
    sources = []
    for w in range(workers):
        src = root / f"src-{w}.csv"
        src.write_text("v,w\n" + "".join(f"{i + w * 1000},{(i * 7 + w) % 13}\n" for i in range(2_000)))
        sources.append(src)

    def one(w: int) -> list[Outcome]:
        return [_timed(root, w, cmd, env) for cmd in commands(w, sources[w], w < pretrainers)]

    with ThreadPoolExecutor(workers) as pool:
        return [o for outcomes in pool.map(one, range(workers)) for o in outcomes]


def _timed(root: Path, worker: int, args: list[str], env: dict[str, str] | None) -> Outcome:
    import os

    start = time.perf_counter()
    done = subprocess.run(
        [*DATAGOV, "--workspace", str(root), *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    return Outcome(worker, " ".join(args[:2]), done.returncode, done.stderr, time.perf_counter() - start)


def _must(root: Path, *args: str) -> None:
    done = subprocess.run([*DATAGOV, "--workspace", str(root), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"datagov {' '.join(args)} failed: {done.stderr[-2000:]}")


def main(rounds: int = 1) -> None:
    from datagov.layout import init_workspace
    from tests import pg
    from tests.conftest import use_postgres_catalog

    cluster = pg.start()
    try:
        print(f"# {machine()}; mix per process: 2 ingests, split, validate, audit (+ pretrain in 2 processes)")
        print(f"{'processes':>9} {'backend':>10} {'commands':>9} {'failed':>7} {'wall s':>8} {'cmds/min':>9}")
        for workers in (1, 2, 4, 8):
            for backend in ("duckdb", "postgresql"):  # alternating: noise hits both
                for r in range(rounds):
                    root = OUT / f"team-{backend}-{workers}-{r}"
                    shutil.rmtree(root, ignore_errors=True)
                    init_workspace(root)
                    if backend == "postgresql":
                        name = f"bench_{workers}_{r}"
                        cluster.drop_database(name)
                        use_postgres_catalog(root, cluster.create_database(name))
                    prepare(root)
                    start = time.perf_counter()
                    outcomes = run_workers(root, workers, pretrainers=min(2, workers))
                    wall = time.perf_counter() - start
                    failed = sum(o.returncode != 0 for o in outcomes)
                    print(f"{workers:>9} {backend:>10} {len(outcomes):>9} {failed:>7} {wall:>8.1f} "
                          f"{len(outcomes) / wall * 60:>9.1f}")  # fmt: skip
                    for o in outcomes:
                        if o.returncode:
                            print(f"    failed: worker {o.worker} {o.command}: {o.stderr.strip()[:200]}")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
