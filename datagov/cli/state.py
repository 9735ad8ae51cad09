"""Shared CLI state: the --workspace/--debug options, output helpers."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from datagov.units import human_bytes as human_bytes  # re-exported: the commands import it from here


@dataclass
class State:
    workspace: str | None = None
    debug: bool = False


state = State()


def workspace():
    """The workspace for this invocation (--workspace, DATAGOV_HOME or the cwd)."""
    from datagov.workspace import find_workspace

    return find_workspace(state.workspace)


def console():
    """A console that prints text as written: no Rich markup is parsed, so a
    name, a value set `[false, true]` or an error message prints whole.
    Styling datagov adds itself goes through `styled`."""
    from rich.console import Console

    out = Console(highlight=False, soft_wrap=False, markup=False)
    if not out.is_terminal:  # piped or captured: no terminal width to respect
        out = Console(highlight=False, soft_wrap=False, markup=False, width=140)
    return out


def styled(markup: str, *values: object):
    """Rich markup datagov wrote, with `values` put in its `{}` fields escaped
    (data never becomes markup): styled("[red]{}[/red] failed", name)."""
    from rich.markup import escape
    from rich.text import Text

    return Text.from_markup(markup.format(*(escape(str(v)) for v in values)))


def when(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def tags_text(tags: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "-"
