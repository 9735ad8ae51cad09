"""What pretraining is worth, as measured: the value tables the benchmarks
write (README "Results" and "Fashion-MNIST") and keep here as data, so the
shift report's transfer recommendation and the demo cite the table and row
they rely on instead of a rule of thumb.

Each table is keyed by the dataset it was measured on and the encoder kind
(`digits/mlp`, `fashion-mnist/conv`, ...): `transfer_results.json` holds the
digits table (`bench/transfer_results.py --readme`), `fashion_results.json`
the Fashion-MNIST tables (`python -m bench.fashion_value --readme`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TABLE_FILE = Path(__file__).with_name("transfer_results.json")
FASHION_FILE = Path(__file__).with_name("fashion_results.json")
STRATEGIES = ("scratch", "features", "finetune")  # the table's columns, in order (bench/transfer_results.py)
DEFAULT_KEY = "digits/mlp"


@dataclass(frozen=True)
class Row:
    labels_per_class: float
    everything: bool  # the row for every labelled row of the pool
    scores: dict[str, tuple[float, float]]  # strategy: (mean, std) eval accuracy
    pixels: tuple[float, float] | None = None  # logistic regression on raw pixels, same rows, same run

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


@dataclass(frozen=True)
class Table:
    dataset: str
    encoder_kind: str
    meta: dict  # what it was measured on: data, image_shape, encoder, budget, seeds, produced_by
    rows: tuple[Row, ...]  # by labels per class

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.encoder_kind}"

    @property
    def source(self) -> str:
        return f"the value table {self.key} ({self.meta['data']}; {self.meta['encoder']})"

    def nearest_row(self, labels_per_class: float) -> Row:
        """The measured row closest to a label count, on a log scale (7 per class is nearer 5 than 10)."""
        wanted = math.log(max(labels_per_class, 1e-9))
        return min(self.rows, key=lambda r: abs(math.log(r.labels_per_class) - wanted))


def _table(doc: dict) -> Table:
    def pixels(r: dict) -> tuple[float, float] | None:
        base = r.get("pixels_logistic_regression")
        return (base["mean"], base["std"]) if base else None

    rows = tuple(
        Row(
            float(r["labels_per_class"]),
            bool(r["all"]),
            {s: (r[s]["mean"], r[s]["std"]) for s in STRATEGIES},
            pixels(r),
        )
        for r in doc["rows"]
    )
    meta = {k: v for k, v in doc.items() if k not in ("rows", "dataset", "encoder_kind")}
    return Table(doc["dataset"], doc["encoder_kind"], meta, tuple(sorted(rows, key=lambda r: r.labels_per_class)))


@cache
def tables() -> dict[str, Table]:
    """Every measured table, by key; the digits table first."""
    docs = [json.loads(TABLE_FILE.read_text())]
    if FASHION_FILE.is_file():
        docs += json.loads(FASHION_FILE.read_text())["tables"]
    return {t.key: t for t in map(_table, docs)}


def table_for(shape: str | None = None, encoder_kind: str | None = None) -> Table:
    """The table measured on images of `shape` (CxHxW) with this encoder kind;
    else on that shape with the encoder that scored best at few labels; else
    the digits table (which the caller then calls a guide, not a prediction)."""
    same_shape = [t for t in tables().values() if shape and t.meta.get("image_shape") == shape]
    for t in same_shape:
        if t.encoder_kind == encoder_kind:
            return t
    if same_shape:
        return max(same_shape, key=lambda t: max(m for m, _ in t.rows[0].scores.values()))
    return tables()[DEFAULT_KEY]


def table() -> tuple[dict, tuple[Row, ...]]:
    """(what the digits table was measured on, its rows by labels per class)."""
    t = tables()[DEFAULT_KEY]
    return t.meta, t.rows


def nearest_row(labels_per_class: float) -> Row:
    """The digits table's nearest row (the demo's data)."""
    return tables()[DEFAULT_KEY].nearest_row(labels_per_class)
