"""The results table: eval accuracy on the digits for 5, 10, 50 and all labels
per class, for a classifier trained from scratch, on frozen pretrained
features, and fine-tuned end to end; mean ± std over 3 seeds.

  python bench/transfer_results.py            # prints the table
  python bench/transfer_results.py --kind resnet18 --readme   # a ResNet-18 encoder: README's own block
  python bench/transfer_results.py --readme   # and writes it into README.md and
                                              # datagov/transfer_results.json (what
                                              # shift recommendations and the demo cite)
  python bench/transfer_results.py --root ~/data/mnist --readme   # your MNIST or CIFAR-10 files
                                              # (bench/public_datasets.py reads them)

Everything goes through datagov: the digits are ingested and split by the
CLI (with --root, the files' train split is the pool and their test split
the eval set, each ingested as an npz), the pool is validated, the autoencoder is pretrained (per seed) by
`datagov pretrain` on the unlabelled pool, and the classifiers are trained
by the same `train_classifier` that `datagov transfer` uses, with the
budget in pipelines/transfer-digits.yaml. Only the labelled subsets are
drawn here, per class and per seed, from the pool.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DATAGOV, OUT, REPO, run
from datagov.value_table import STRATEGIES

LABELS = (5, 10, 50, None)  # per class; None: every labelled row in the pool
SEEDS = (0, 1, 2)
MARKERS = ("<!-- results:start -->", "<!-- results:end -->")


def prepare(ws: Path, public=None) -> str:
    """A fresh workspace holding NAME-pool (validated) and NAME-eval; returns NAME."""
    shutil.rmtree(ws, ignore_errors=True)
    dg = [*DATAGOV, "--workspace", str(ws)]
    run([*DATAGOV, "init", str(ws)])
    name = "digits" if public is None else re.sub(r"[^a-z0-9]+", "-", public.name.lower()).strip("-") or "public"
    if public is None:
        run([*dg, "ingest", "sklearn:digits", "--name", "digits", "--no-progress"])
        run([*dg, "split", "digits", "--into", "pool=0.8,eval=0.2", "--seed", "0"])
    else:
        import numpy as np

        for part, split in (("pool", public.train), ("eval", public.test)):
            archive = ws / f"{name}-{part}.npz"
            np.savez(archive, images=split.images, label=split.labels)
            run([*dg, "ingest", str(archive), "--name", f"{name}-{part}", "--no-progress"])
            archive.unlink()
    run([*dg, "expectations", "suggest", f"{name}-pool", "--suite", f"{name}-pool"])
    run([*dg, "validate", f"{name}-pool", "--suite", f"{name}-pool"])
    return name


def load(ws, name: str):
    """All images and labels of a version, decoded by the training stream."""
    import torch

    from datagov.training.data import ParquetImageStream
    from datagov.training.inputs import image_input

    data = image_input(ws, name)
    stream = ParquetImageStream(data.files, data.shape, split="all", shuffle=False, batch_size=4096,
                                label_column="label")  # fmt: skip
    xs, ys = zip(*stream, strict=True)
    return torch.cat(xs), torch.cat(ys)


def labelled_subset(y, per_class: int | None, seed: int):
    import numpy as np

    if per_class is None:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    picks = [rng.choice(np.flatnonzero(y.numpy() == c), per_class, replace=False) for c in np.unique(y.numpy())]
    return np.sort(np.concatenate(picks))


def batches(x, y, size: int, seed: int | None = None):
    import torch

    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed)) if seed is not None else None
    idx = order if order is not None else torch.arange(len(y))
    return [(x[idx[i : i + size]], y[idx[i : i + size]]) for i in range(0, len(y), size)]


def main(update_readme: bool = False, kind: str | None = None, public=None) -> str:
    """`kind` (e.g. resnet18) pretrains that encoder instead of the spec's; its
    table goes to README's `results-KIND` block. `public` (a
    `public_datasets.PublicDataset`) replaces the digits; its table goes to
    `results-NAME[-KIND]`. Only the spec's encoder on the digits writes
    datagov/transfer_results.json (what the demo and shift cite)."""
    import torch

    from datagov.training.classify import Budget, accuracy, train_classifier
    from datagov.training.pretrain import run_pretraining
    from datagov.training.spec import TransferSpec, load_spec
    from datagov.workspace import Workspace

    started = time.perf_counter()
    label = None if public is None else public.name
    # One workspace per table, so two tables can be measured at once.
    ws_path = OUT / "-".join(re.sub(r"[^a-z0-9]+", "-", p.lower()) for p in ("transfer-results", label, kind) if p)
    name = prepare(ws_path, public)
    ws = Workspace(ws_path)
    spec = load_spec(REPO / "pipelines" / "transfer-digits.yaml", cls=TransferSpec)
    t, every = spec.train, spec.data.validation_every
    pool_x, pool_y = load(ws, f"{name}-pool")
    eval_x, eval_y = load(ws, f"{name}-eval")
    names = [str(c) for c in range(int(pool_y.max()) + 1)]
    device = torch.device("cpu")
    results: dict[tuple, list[float]] = {}
    for seed in SEEDS:
        encoder = run_pretraining(
            ws, REPO / "pipelines" / "pretrain-digits.yaml",
            [f"data.dataset={name}-pool", f"data.suites=[{name}-pool]", f"train.seed={seed}",
             "register.model_name=bench-autoencoder", "train.device=cpu", *([f"model.kind={kind}"] if kind else [])],
            progress=False,
        )  # fmt: skip
        from datagov.training.weights import load_model

        ae = load_model(ws, "bench-autoencoder", encoder.model_version)
        for per_class in LABELS:
            idx = labelled_subset(pool_y, per_class, seed)
            held = torch.zeros(len(idx), dtype=torch.bool)
            held[::every] = True  # the same hold-out rule as the Parquet stream
            tx, ty = pool_x[idx][~held], pool_y[idx][~held]
            vx, vy = pool_x[idx][held], pool_y[idx][held]
            budget = Budget(t.epochs, t.patience, t.batch_size, t.lr, t.encoder_lr, t.weight_decay, seed)
            for strategy in STRATEGIES:
                clf, _ = train_classifier(
                    strategy, ae.encoder, names,
                    train=lambda epoch, tx=tx, ty=ty, s=seed: batches(tx, ty, t.batch_size, seed=s * 1000 + epoch),
                    train_ordered=lambda tx=tx, ty=ty: batches(tx, ty, 1024),
                    val=batches(vx, vy, 1024), budget=budget, device=device,
                )  # fmt: skip
                acc = accuracy(clf, batches(eval_x, eval_y, 1024), device, names).overall
                results.setdefault((per_class, strategy), []).append(acc)
                print(f"  seed {seed} labels/class {per_class or 'all'} {strategy}: {acc:.4f}", flush=True)
    what = "digits"
    if public is not None:
        from datagov.pixels.shape import ImageShape
        from datagov.training.models import pick_kind

        shape = ImageShape(*pool_x.shape[1:])
        what = f"{name} test images ({shape}, {pick_kind(kind or 'auto', shape)} encoder)"
    table = render(results, len(pool_y), len(eval_y), time.perf_counter() - started, kind, what, public)
    print(table)
    if update_readme:
        readme = REPO / "README.md"
        text = readme.read_text()
        block_name = "-".join(part for part in ("results", None if public is None else name, kind) if part)
        start, end = f"<!-- {block_name}:start -->", f"<!-- {block_name}:end -->"
        block = f"{start}\n{table}{end}"
        text, n = re.subn(re.escape(start) + r".*?" + re.escape(end), lambda _m: block, text, flags=re.S)
        if n != 1:
            raise SystemExit(f"README.md needs one {start} ... {end} block")
        readme.write_text(text)
        if kind or public is not None:
            print("README.md updated")
            return table
        TABLE_FILE.write_text(json.dumps(document(results, len(pool_y), len(eval_y)), indent=2) + "\n")
        print(f"README.md and {TABLE_FILE.relative_to(REPO)} updated")
    return table


TABLE_FILE = REPO / "datagov" / "transfer_results.json"


def document(results: dict, pool: int, evals: int) -> dict:
    """The table as data, for `datagov.value_table`."""

    def score(values: list[float]) -> dict:
        return {"mean": round(statistics.mean(values), 4), "std": round(statistics.stdev(values), 4)}

    rows = [
        {"labels_per_class": per_class or round(pool / 10, 1), "all": per_class is None}
        | {s: score(results[(per_class, s)]) for s in STRATEGIES}
        for per_class in LABELS
    ]
    return {
        "dataset": "digits",
        "encoder_kind": "mlp",
        "data": f"scikit-learn digits (8x8 grayscale, 10 classes): {pool} pool images, {evals} eval",
        "image_shape": "1x8x8",  # a recommendation on other images cites the table, never predicts from it
        "encoder": "MLP autoencoder, pipelines/pretrain-digits.yaml, pretrained on the pool without labels",
        "budget": "pipelines/transfer-digits.yaml",
        "seeds": list(SEEDS),
        "produced_by": "python bench/transfer_results.py --readme",
        "rows": rows,
    }


def render(
    results: dict, pool: int, evals: int, seconds: float, kind: str | None = None, what: str = "digits", public=None
) -> str:
    def cell(values: list[float]) -> str:
        mean = 100 * statistics.mean(values)
        std = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{mean:.1f} ± {std:.1f}"

    lines = [
        "| labels per class | scratch | features (frozen encoder) | finetune |",
        "|---|---|---|---|",
    ]
    for per_class in LABELS:
        row = [cell(results[(per_class, s)]) for s in STRATEGIES]
        best = max(range(3), key=lambda i: statistics.mean(results[(per_class, STRATEGIES[i])]))
        row[best] = f"**{row[best]}**"
        lines.append(f"| {per_class or f'all (~{pool // 10})'} | " + " | ".join(row) + " |")
    lines.append("")
    flag = (f" --kind {kind}" if kind else "") + (" --root DIR" + _limits(public) if public is not None else "")
    lines.append(
        f"Eval accuracy (%) on {evals} held-out {what}, mean ± std over seeds {', '.join(map(str, SEEDS))}; "
        f"{kind + ' ' if kind else ''}encoder pretrained on the {pool} pool images without labels; budget from "
        f"pipelines/transfer-digits.yaml. Produced by `python bench/transfer_results.py{flag} --readme` "
        f"in {seconds / 60:.1f} min on {_machine()}."
    )
    return "\n".join(lines) + "\n"


def _limits(public) -> str:
    flags = zip(("train-limit", "test-limit"), public.limits, strict=True)
    return "".join(f" --{flag} {n}" for flag, n in flags if n)


def _machine() -> str:
    import os

    import torch

    return f"{os.cpu_count()} CPU cores, torch {torch.__version__}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    parser.add_argument("--kind", help="pretrain this encoder instead of the spec's (e.g. resnet18)")
    parser.add_argument("--root", type=Path, help="MNIST idx or CIFAR-10 binary files instead of the digits")
    parser.add_argument("--train-limit", type=int, help="with --root: pool of this many train images (fixed shuffle)")
    parser.add_argument("--test-limit", type=int, help="with --root: eval on this many test images")
    args = parser.parse_args()
    public = None
    if args.root:
        from bench.public_datasets import find

        public = find(args.root.expanduser()).subset(args.train_limit, args.test_limit)
    main(args.readme, args.kind, public)
