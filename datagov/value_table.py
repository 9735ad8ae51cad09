"""What pretraining is worth, as measured: the value table that
`bench/transfer_results.py --readme` writes (README "Results") and keeps
here as data, so the shift report's transfer recommendation and the demo
cite the row they rely on instead of a rule of thumb."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TABLE_FILE = Path(__file__).with_name("transfer_results.json")
STRATEGIES = ("scratch", "features", "finetune")  # the table's columns, in order (bench/transfer_results.py)


@dataclass(frozen=True)
class Row:
    labels_per_class: float
    everything: bool  # the row for every labelled row of the pool
    scores: dict[str, tuple[float, float]]  # strategy: (mean, std) eval accuracy

    @property
    def name(self) -> str:
        if self.everything:
            return f"all (~{self.labels_per_class:.0f}) labels per class"
        return f"{self.labels_per_class:g} labels per class"

    @property
    def best(self) -> str:
        return max(self.scores, key=lambda s: self.scores[s][0])

    def ranking(self) -> str:
        """e.g. 'features 81.7 ± 2.3 > finetune 78.9 ± 1.0 > scratch 72.6 ± 8.2' (percent)."""
        ordered = sorted(self.scores, key=lambda s: -self.scores[s][0])
        return " > ".join(f"{s} {100 * self.scores[s][0]:.1f} ± {100 * self.scores[s][1]:.1f}" for s in ordered)


@cache
def table() -> tuple[dict, tuple[Row, ...]]:
    """(what the table was measured on, its rows by labels per class)."""
    doc = json.loads(TABLE_FILE.read_text())
    rows = tuple(
        Row(float(r["labels_per_class"]), bool(r["all"]), {s: (r[s]["mean"], r[s]["std"]) for s in STRATEGIES})
        for r in doc["rows"]
    )
    return {k: v for k, v in doc.items() if k != "rows"}, tuple(sorted(rows, key=lambda r: r.labels_per_class))


def nearest_row(labels_per_class: float) -> Row:
    """The measured row closest to a label count, on a log scale (7 per class is nearer 5 than 10)."""
    _, rows = table()
    wanted = math.log(max(labels_per_class, 1e-9))
    return min(rows, key=lambda r: abs(math.log(r.labels_per_class) - wanted))
