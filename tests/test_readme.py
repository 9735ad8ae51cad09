"""The README's command examples (bash and Python blocks) run as written, in
order, in a fresh tour workspace (`datagov init` plus
`examples/make_tour.py`), so a README that drifts from the CLI or the library
fails CI. A block marked
`<!-- readme-test: skip (REASON) -->` is skipped with its reason (network,
servers, the user's crontab); a command whose comment says `exit N`
must exit N, every other one 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
SKIP_MARK = r"<!-- readme-test: skip \((?P<skip>[^)]*(?:\([^)]*\)[^)]*)*)\) -->\n"  # a reason may hold (parentheses)
BLOCK = re.compile(rf"(?:{SKIP_MARK})?```(?P<lang>bash|python)\n(?P<body>.*?)```", re.S)
EXPECTED_EXIT = re.compile(r"#\s*exit (\d+)\b")  # a comment that begins "exit N"


@dataclass(frozen=True)
class Command:
    line: int
    text: str
    exit_code: int


def readme_blocks(text: str, lang: str = "bash") -> list[tuple[int, str | None, str]]:
    """(first line, skip reason or None, body) of every block in `lang`, in order."""
    return [
        (text.count("\n", 0, m.start("body")) + 1, m["skip"], m["body"])
        for m in BLOCK.finditer(text)
        if m["lang"] == lang
    ]


def readme_steps(text: str) -> list[tuple[int, str | None, list[Command]]]:
    """Every bash and python block in order: a bash block's commands, or a python block as one command."""
    steps = []
    for m in BLOCK.finditer(text):
        line = text.count("\n", 0, m.start("body")) + 1
        if m["lang"] == "bash":
            steps.append((line, m["skip"], commands(line, m["body"])))
        else:
            steps.append((line, m["skip"], [Command(line, f"python - <<'README'\n{m['body']}README", 0)]))
    return steps


def commands(first_line: int, body: str) -> list[Command]:
    """A block's commands: continuation lines joined, comment-only lines dropped."""
    out, pending, start = [], "", first_line
    for offset, raw in enumerate(body.splitlines()):
        if not pending:
            start = first_line + offset
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1].strip() + " "
            continue
        full = (pending + raw.strip()).strip()
        pending = ""
        if full and not full.startswith("#"):
            found = EXPECTED_EXIT.search(full)
            out.append(Command(start, full, int(found[1]) if found else 0))
    return out


def test_the_parser_reads_skips_continuations_and_exit_codes():
    text = (
        "<!-- readme-test: skip (needs a server (Marquez)) -->\n```bash\nserve\n```\n"
        "```bash\n# a comment\ndatagov a \\\n    --b  # exit 3\ndatagov c\n```\n"
    )
    (_, reason, _), (line, none, body) = readme_blocks(text)
    assert reason == "needs a server (Marquez)" and none is None
    assert commands(line, body) == [Command(7, "datagov a --b  # exit 3", 3), Command(9, "datagov c", 0)]


@pytest.mark.slow
@pytest.mark.timeout(1200)  # every README command in turn: several minutes on two cores
def test_every_readme_command_runs_as_written_in_a_fresh_tour(tmp_path):
    tour = tmp_path / "tour"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path)}
    env.pop("MLFLOW_TRACKING_URI", None)
    setup = [[str(bin_dir / "datagov"), "init", str(tour)], [sys.executable, "examples/make_tour.py", str(tour)]]
    for step in setup:  # what `make tour` does
        assert subprocess.run(step, cwd=README.parent, env=env, capture_output=True).returncode == 0, step
    skipped, ran = [], 0
    for line, reason, steps in readme_steps(README.read_text()):
        if reason is not None:
            skipped.append(f"README.md:{line}: {reason}")
            continue
        for command in steps:
            done = subprocess.run(["bash", "-c", command.text], cwd=tour, env=env, capture_output=True, text=True,
                                  timeout=900)  # fmt: skip
            tail = (done.stdout + done.stderr)[-3000:]
            assert done.returncode == command.exit_code, (
                f"README.md:{command.line}: `{command.text}` exited {done.returncode}, "
                f"the README says {command.exit_code}:\n{tail}"
            )
            ran += 1
    print(f"{ran} README commands ran; skipped blocks:", *skipped, sep="\n  ")
    # Skips are for what needs a server or a network (a bucket, an OpenLineage
    # receiver, PostgreSQL's team set-up, ...): each names the test that runs it.
    assert ran >= 40 and len(skipped) <= 12
