"""What pretraining is worth on Fashion-MNIST's 70,000 real images
(Debian's dataset-fashion-mnist), through datagov end to end.

  python -m bench.fashion_value                      # MLP and conv table, 3 seeds
  python -m bench.fashion_value --kinds resnet18 --pool 10000 --epochs 2 --labels 5,10 \
      --block results-fashion-resnet --readme      # README's ResNet-18 row, at a CPU budget
  python -m bench.fashion_value --pretexts reconstruct,denoise,masked   # which autoencoder
  python -m bench.fashion_value --pool-sizes 1000,5000,20000,60000      # how much pretraining data
  python -m bench.fashion_value --select 10000       # chosen vs random pretraining data
  python -m bench.fashion_value --readme             # with any of the above: its blocks into README.md,
                                                     # the tables into datagov/fashion_results.json

The 60,000 training images are ingested with `datagov ingest --format idx
--split train` as the pool, the 10,000 test images as eval; the pool passes
a suggested suite before `datagov pretrain` (pipelines/pretrain-fashion.yaml)
trains on it. Labelled subsets (5, 10, 50 per class) are drawn per seed
from the pool, and the classifiers are trained by the same
`train_classifier` that `datagov transfer` uses, with the budget of
pipelines/transfer-fashion.yaml. The baseline, in the same run on the same
labelled rows, is scikit-learn's logistic regression on raw pixels.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATAGOV, OUT, REPO, run
from bench.transfer_results import batches, labelled_subset, load
from datagov.value_table import FASHION_FILE, STRATEGIES

FASHION = Path("/usr/share/datasets/fashion-mnist")
SEEDS = (0, 1, 2)
ALL_EPOCHS, ALL_BATCH = 3, 256  # the all-labels row's budget: 100 epochs of 48,000 rows at 32 would take hours
PRETRAIN = REPO / "pipelines" / "pretrain-fashion.yaml"
TRANSFER = REPO / "pipelines" / "transfer-fashion.yaml"
WS = OUT / "fashion-value"


def dg(*args) -> None:
    run([*DATAGOV, "--workspace", str(WS), *map(str, args)])


def prepare(root: Path) -> None:
    """A fresh workspace: fashion-pool (validated) and fashion-eval."""
    import shutil

    shutil.rmtree(WS, ignore_errors=True)
    run([*DATAGOV, "init", str(WS)])
    for name, split in (("fashion-pool", "train"), ("fashion-eval", "test")):
        dg("ingest", root, "--format", "idx", "--split", split, "--name", name, "--license", "MIT", "--no-progress")
    gated("fashion-pool")


def gated(name: str) -> None:
    """Suggest a suite from the version and validate it: the gate pretraining asks for."""
    dg("expectations", "suggest", name, "--suite", name, "--force")
    dg("validate", name, "--suite", name)


def pretrain(name: str, kind: str, pretext: str, epochs: int, seed: int):
    from datagov.training.placement import place
    from datagov.training.pretrain import run_pretraining
    from datagov.training.weights import load_model
    from datagov.workspace import Workspace

    ws = Workspace(WS)
    overrides = [f"data.dataset={name}", f"data.suites=[{name}]", f"train.seed={seed}", f"model.kind={kind}",
                 f"train.pretext={pretext}", f"train.epochs={epochs}", "register.model_name=bench-fashion",
                 "train.device=auto"]  # fmt: skip
    if pretext != "reconstruct":
        overrides.append("train.noise=0.1")
    result = run_pretraining(ws, PRETRAIN, overrides, progress=False)
    return place(load_model(ws, "bench-fashion", result.model_version).encoder)


class Data:
    def __init__(self) -> None:
        from datagov.workspace import Workspace

        ws = Workspace(WS)
        self.pool_x, self.pool_y = load(ws, "fashion-pool")
        self.eval_x, self.eval_y = load(ws, "fashion-eval")
        self.names = [str(c) for c in range(10)]


def classify(data: Data, encoder, per_class: int | None, seed: int, strategies=STRATEGIES) -> dict[str, float]:
    import torch

    from datagov.training.classify import Budget, accuracy, train_classifier
    from datagov.training.spec import TransferSpec, load_spec

    spec = load_spec(TRANSFER, cls=TransferSpec)
    t, every = spec.train, spec.data.validation_every
    idx = labelled_subset(data.pool_y, per_class, seed)
    held = torch.zeros(len(idx), dtype=torch.bool)
    held[::every] = True  # the Parquet stream's hold-out rule
    tx, ty = data.pool_x[idx][~held], data.pool_y[idx][~held]
    vx, vy = data.pool_x[idx][held], data.pool_y[idx][held]
    budget = Budget(t.epochs, t.patience, t.batch_size, t.lr, t.encoder_lr, t.weight_decay, seed)
    if per_class is None:
        budget = Budget(ALL_EPOCHS, ALL_EPOCHS, ALL_BATCH, t.lr, t.encoder_lr, t.weight_decay, seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    out = {}
    for strategy in strategies:
        clf, _ = train_classifier(
            strategy, encoder, data.names,
            train=lambda epoch: batches(tx, ty, budget.batch_size, seed=seed * 1000 + epoch),
            train_ordered=lambda: batches(tx, ty, 1024), val=batches(vx, vy, 1024), budget=budget, device=device,
        )  # fmt: skip
        out[strategy] = accuracy(clf, batches(data.eval_x, data.eval_y, 2048), device, data.names).overall
    return out


def pixels_baseline(data: Data, per_class: int | None, seed: int) -> float:
    """Logistic regression on raw pixels, on every labelled row of the subset."""
    return _logistic(data, per_class, seed, lambda x: x.flatten(1).numpy() / 255.0)


def probe(data: Data, encoder, per_class: int, seed: int) -> float:
    """A diagnostic, not a product path: the same logistic regression on the
    frozen encoder's standardized features (every labelled row, L-BFGS to
    convergence), against `features`' linear head (Adam, early-stopped on
    a fifth of the rows)."""
    import torch

    from datagov.pixels.tensors import to_unit_float

    def embed(x):
        encoder.eval()
        with torch.no_grad():
            z = torch.cat([encoder(to_unit_float(x[i : i + 2048])).flatten(1) for i in range(0, len(x), 2048)])
        return z.numpy()

    return _logistic(data, per_class, seed, embed, standardize=True)


def _logistic(data: Data, per_class: int | None, seed: int, features, standardize: bool = False) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    idx = labelled_subset(data.pool_y, per_class, seed)
    train, test = features(data.pool_x[idx]), features(data.eval_x)
    if standardize:
        scale = StandardScaler().fit(train)
        train, test = scale.transform(train), scale.transform(test)
    model = LogisticRegression(max_iter=3000).fit(train, data.pool_y[idx].numpy())
    return float(model.score(test, data.eval_y.numpy()))


def cell(values: list[float]) -> str:
    return f"{100 * statistics.mean(values):.1f} ± {100 * statistics.stdev(values):.1f}"


@dataclass(frozen=True)
class Plan:
    """What the value table measures: which encoders, pretrained how, on what, at which label counts."""

    kinds: list[str]
    pretext: str
    epochs: dict[str, int]
    labels: tuple[int | None, ...]  # per class; None: every labelled row of the pool
    pool: str = "fashion-pool"  # the version pretraining reads (a split of the pool with --pool)
    pool_size: int = 60_000


def table(data: Data, plan: Plan, results: dict) -> list[str]:
    """The value table: per kind, labels per class x strategy, and the pixel baseline."""
    kinds, labels = plan.kinds, plan.labels
    for seed in SEEDS:
        for per_class in labels:
            done = results.get(("pixels", None))
            # all labels: the same rows every seed, and L-BFGS is deterministic: one fit
            score = done[0] if per_class is None and done else pixels_baseline(data, per_class, seed)
            results.setdefault(("pixels", per_class), []).append(score)
        for kind in kinds:
            encoder = pretrain(plan.pool, kind, plan.pretext, plan.epochs[kind], seed)
            for per_class in labels:
                got = classify(data, encoder, per_class, seed)
                if per_class is not None:  # the diagnostic is about few labels
                    got["probe"] = probe(data, encoder, per_class, seed)
                for strategy, acc in got.items():
                    results.setdefault((kind, per_class, strategy), []).append(acc)
                    print(f"  seed {seed} {kind} {per_class or 'all'}/class {strategy}: {acc:.4f}", flush=True)
    lines = ["| encoder | labels per class | pixels + logistic regression | " + " | ".join(STRATEGIES)
             + " | frozen features + logistic regression (diagnostic) |",
             "|---|---|---|" + "---|" * (len(STRATEGIES) + 1)]  # fmt: skip
    for kind in kinds:
        for per_class in labels:
            scores = [results[(kind, per_class, s)] for s in STRATEGIES]
            row = [cell(v) for v in scores]
            best = max(range(len(row)), key=lambda i: statistics.mean(scores[i]))
            row[best] = f"**{row[best]}**"
            pixels = cell(results[("pixels", per_class)])
            diagnostic = cell(results[(kind, per_class, "probe")]) if per_class else "—"
            labels = per_class or f"all ({len(data.pool_y) // 10:,})"
            lines.append(f"| {kind} | {labels} | {pixels} | " + " | ".join(row) + f" | {diagnostic} |")
    return lines


def pretexts(data: Data, kind: str, names: list[str], epochs: int) -> list[str]:
    """Which autoencoder: each pretext's best strategy at 5 labels per class."""
    lines = ["| pretext | features | finetune |", "|---|---|---|"]
    for pretext in names:
        scores: dict[str, list[float]] = {}
        for seed in SEEDS:
            encoder = pretrain("fashion-pool", kind, pretext, epochs, seed)
            for strategy, acc in classify(data, encoder, 5, seed, ("features", "finetune")).items():
                scores.setdefault(strategy, []).append(acc)
            print(f"  seed {seed} {pretext}: { ({k: round(v[-1], 4) for k, v in scores.items()}) }", flush=True)
        lines.append(f"| {pretext} | {cell(scores['features'])} | {cell(scores['finetune'])} |")
    return lines


def pool_part(size: int, total: int) -> str:
    """The version to pretrain on: the whole pool, or a `datagov split` of
    `size` of its images with its own suite and receipt."""
    if size >= total:
        return "fashion-pool"
    name = f"fashion-pool-{size}"
    dg("split", "fashion-pool", "--into", f"part={size / total:.6f}", "--prefix", name, "--seed", "0")
    gated(f"{name}-part")
    return f"{name}-part"


def pool_sizes(data: Data, kind: str, pretext: str, sizes: list[int], epochs: int) -> list[str]:
    """Accuracy at 5 labels per class against how many images the encoder was
    pretrained on."""
    lines = ["| pretraining images | features | finetune |", "|---|---|---|"]
    total = len(data.pool_y)
    for size in sizes:
        name = pool_part(size, total)
        scores: dict[str, list[float]] = {}
        for seed in SEEDS:
            # the same optimizer steps as `epochs` over the whole pool (at most 100 epochs): compute held equal
            encoder = pretrain(name, kind, pretext, min(100, round(epochs * total / size)), seed)
            for strategy, acc in classify(data, encoder, 5, seed, ("features", "finetune")).items():
                scores.setdefault(strategy, []).append(acc)
        print(f"  {size:,} images: { ({k: cell(v) for k, v in scores.items()}) }", flush=True)
        lines.append(f"| {size:,} | {cell(scores['features'])} | {cell(scores['finetune'])} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=FASHION, help="Fashion-MNIST's IDX folder")
    parser.add_argument("--kinds", default="mlp,conv", help="encoders for the table (mlp, conv, resnet18)")
    parser.add_argument("--pretext", default="reconstruct", help="the table's pretext")
    parser.add_argument("--pretexts", help="compare these pretexts (conv, 5 labels per class)")
    parser.add_argument("--pool-sizes", help="pretraining pool sizes, e.g. 1000,5000,20000,60000")
    parser.add_argument("--select", type=int, help="compare N selected against N random pretraining images")
    parser.add_argument("--select-share", type=float, default=0.25, help="Fashion-MNIST's share of the mixed pool")
    parser.add_argument("--epochs", type=int, default=5, help="pretraining epochs over the whole pool")
    parser.add_argument("--kind-epochs", default="", help="per-kind epochs, e.g. resnet18=1")
    parser.add_argument("--labels", default="5,10,50,all", help="labels per class in the table (all: 6,000)")
    parser.add_argument("--pool", type=int, help="pretrain the table's encoders on this many of the pool's images")
    parser.add_argument("--block", default="results-fashion", help="README block the table goes to")
    parser.add_argument("--no-table", action="store_true", help="skip the value table")
    parser.add_argument("--readme", action="store_true", help="write README's blocks and datagov/fashion_results.json")
    args = parser.parse_args()
    if not any((args.root / f"train-images-idx3-ubyte{gz}").exists() for gz in ("", ".gz")):
        raise SystemExit(f"no Fashion-MNIST under {args.root}: sudo apt-get install dataset-fashion-mnist")
    started = time.perf_counter()
    prepare(args.root)
    data = Data()
    print(f"pool {len(data.pool_y):,} images, eval {len(data.eval_y):,}; seeds {SEEDS}", flush=True)
    kinds = args.kinds.split(",")
    epochs = {kind: args.epochs for kind in kinds} | {
        k: int(v) for k, v in (item.split("=") for item in args.kind_epochs.split(",") if item)
    }
    labels = tuple(None if n == "all" else int(n) for n in args.labels.split(","))
    total = len(data.pool_y)
    size = min(args.pool or total, total)
    plan = Plan(kinds, args.pretext, epochs, labels, pool_part(size, total) if not args.no_table else "", size)
    if plan.pool and size < total:
        print(f"the table's encoders pretrain on {size:,} of them ({plan.pool})", flush=True)
    blocks: dict[str, list[str]] = {}
    results: dict = {}
    if not args.no_table:
        clock = time.perf_counter()
        blocks[args.block] = table(data, plan, results)
        trained = ", ".join(f"{k} {n} epoch{'s' * (n != 1)}" for k, n in epochs.items()) + f" over {size:,} pool images"
        if None in labels:
            trained += (f"; with all labels the classifiers get {ALL_EPOCHS} epochs in batches of {ALL_BATCH} (the "
                        "seeds differ in pretraining and order only) and the pixel baseline is one fit")  # fmt: skip
        blocks[args.block] += ["", footnote(args, "value table", clock, f"pretext {args.pretext}, {trained}")]
    if args.pretexts:
        clock = time.perf_counter()
        blocks["results-fashion-pretexts"] = pretexts(data, "conv", args.pretexts.split(","), args.epochs)
        trained = f"conv, {args.epochs} epochs; denoise and masked: noise 0.1, half of the 4x4 patches blanked"
        blocks["results-fashion-pretexts"] += ["", footnote(args, "pretext comparison", clock, trained)]
    if args.pool_sizes:
        clock = time.perf_counter()
        sizes = [int(s) for s in args.pool_sizes.split(",")]
        blocks["results-fashion-pool"] = pool_sizes(data, "conv", args.pretext, sizes, args.epochs)
        trained = (f"conv, {args.pretext}, at every size the optimizer steps of {args.epochs} epochs over the whole "
                   "pool (at most 100 epochs)")  # fmt: skip
        blocks["results-fashion-pool"] += ["", footnote(args, "pool sizes", clock, trained)]
    if args.select:
        from bench.fashion_select import compare

        clock = time.perf_counter()
        blocks["results-fashion-select"] = compare(WS, data, args.select, args.epochs, args.select_share)
        trained = f"conv, reconstruct, {args.epochs} epochs over the {args.select:,} chosen or random images"
        blocks["results-fashion-select"] += ["", footnote(args, "selection", clock, trained)]
    for name, lines in blocks.items():
        print(f"\n{name}:\n" + "\n".join(lines), flush=True)
    print(f"\nwhole run: {(time.perf_counter() - started) / 60:.1f} min on {_machine()}")
    if args.readme:
        write_readme(blocks)
        if results:
            doc = merged(document(results, plan, total))
            FASHION_FILE.write_text(json.dumps(doc, indent=2) + "\n")
            print(f"README.md and {FASHION_FILE.relative_to(REPO)} updated")


def footnote(args, what: str, clock: float, trained: str) -> str:
    return (
        f"Eval accuracy (%) on the 10,000 Fashion-MNIST test images, mean ± std over seeds "
        f"{', '.join(map(str, SEEDS))}; {trained}; classifier budget from pipelines/transfer-fashion.yaml. The "
        f"{what} took {(time.perf_counter() - clock) / 60:.1f} min on {_machine()} (`python -m bench.fashion_value "
        f"{' '.join(sys.argv[1:])}`)."
    )


def write_readme(blocks: dict[str, list[str]]) -> None:
    import re

    readme = REPO / "README.md"
    text = readme.read_text()
    for name, lines in blocks.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        block = f"{start}\n" + "\n".join(lines) + f"\n{end}"
        text, n = re.subn(re.escape(start) + r".*?" + re.escape(end), lambda _m, b=block: b, text, flags=re.S)
        if n != 1:
            raise SystemExit(f"README.md needs one {start} ... {end} block")
    readme.write_text(text)


def document(results: dict, plan: Plan, pool: int) -> dict:
    """One value table per encoder kind, as `datagov.value_table` reads them."""

    def score(values: list[float]) -> dict:
        return {"mean": round(statistics.mean(values), 6), "std": round(statistics.stdev(values), 6)}

    on = "the pool" if plan.pool_size >= pool else f"{plan.pool_size:,} of the pool's images"
    return {
        "tables": [
            {
                "dataset": "fashion-mnist",
                "encoder_kind": kind,
                "data": "Fashion-MNIST (28x28 grayscale, 10 classes): 60000 pool images, 10000 eval",
                "image_shape": "1x28x28",
                "encoder": f"{kind} autoencoder, pipelines/pretrain-fashion.yaml ({plan.pretext}, "
                f"{plan.epochs[kind]} epochs), pretrained on {on} without labels",
                "budget": f"pipelines/transfer-fashion.yaml; all labels: {ALL_EPOCHS} epochs, batches of {ALL_BATCH}",
                "seeds": list(SEEDS),
                "produced_by": f"python -m bench.fashion_value {' '.join(sys.argv[1:])}",
                "rows": [
                    {
                        "labels_per_class": n or pool // 10,
                        "all": n is None,
                        "pixels_logistic_regression": score(results[("pixels", n)]),
                    }
                    | ({"features_logistic_regression": score(results[(kind, n, "probe")])} if n else {})
                    | {s: score(results[(kind, n, s)]) for s in STRATEGIES}
                    for n in plan.labels
                ],
            }
            for kind in plan.kinds
        ]
    }


def merged(doc: dict) -> dict:
    """`doc`'s tables in place of the file's tables for the same encoder kinds; the others kept."""
    if not FASHION_FILE.is_file():
        return doc
    new = {t["encoder_kind"] for t in doc["tables"]}
    kept = [t for t in json.loads(FASHION_FILE.read_text())["tables"] if t["encoder_kind"] not in new]
    return {"tables": kept + doc["tables"]}


def _machine() -> str:
    import os

    import torch

    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{os.cpu_count()} CPU cores{gpu}, torch {torch.__version__}"


if __name__ == "__main__":
    main()
