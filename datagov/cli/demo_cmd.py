"""`datagov demo`: the main job end to end, as the CLI commands a user would type."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

STEPS: list[list[str]] = [
    [
        "ingest",
        "sklearn:digits",
        "--name",
        "digits",
        "--owner",
        "data-team@example.com",
        "--license",
        "CC-BY-4.0",
        "--tag",
        "source=uci",
        "--description",
        "UCI optical digits, 8x8 grayscale, 10 classes (bundled with scikit-learn)",
    ],
    # Near-duplicates inside the source (reported, tolerated up to 5 %), then a split
    # that removes them, so no eval image has a near-copy in the other splits.
    ["dedup", "digits", "--max-share", "0.05"],
    [
        "split",
        "digits",
        "--into",
        "pretrain=0.7,finetune=0.1,eval=0.2",
        # Five labels per class: the few-label regime pretraining is for (README Results).
        "--per-class",
        "finetune=5",
        "--drop-labels",
        "pretrain",
        "--seed",
        "0",
        "--dedupe",
        "near",
    ],
    ["datasets", "list"],
    ["datasets", "show", "digits-finetune"],
    ["datasets", "verify", "digits"],
    # Starter suites: one for the unlabelled pretraining split, one for the labelled
    # splits (suggested from eval, with a row margin that admits the 50 fine-tuning rows).
    ["expectations", "suggest", "digits-pretrain", "--suite", "digits-pretrain"],
    ["expectations", "suggest", "digits-eval", "--suite", "digits-labelled", "--row-margin", "0.9"],
    ["expectations", "list"],
    ["validate", "digits-pretrain", "--suite", "digits-pretrain"],
    ["validate", "digits-finetune", "--suite", "digits-labelled"],
    ["validate", "digits-eval", "--suite", "digits-labelled"],
    ["validations", "list", "--limit", "6"],
    # The gate opens: digits-pretrain has a passing receipt for its suite.
    ["pretrain", "pipelines/pretrain-digits.yaml"],
    # Before fine-tuning: is the labelled data like the pretraining data? A report
    # (columns, encoder embeddings), then the distribution-match suite the transfer
    # gate requires (rewritten each time: it encodes the current pretraining version).
    ["shift", "digits-pretrain", "digits-finetune"],
    ["expectations", "match", "digits-pretrain", "--suite", "digits-pretrain-match", "--force"],
    ["validate", "digits-finetune", "--suite", "digits-pretrain-match"],
    # The transfer gate also requires that eval holds no near-copy of the
    # fine-tuning data or of the encoder's pretraining data.
    ["contamination", "digits-finetune", "digits-eval"],
    ["contamination", "digits-pretrain", "digits-eval"],
    # Transfer to the few labelled rows, both ways, beside a from-scratch baseline.
    ["transfer", "pipelines/transfer-digits.yaml", "--strategy", "features"],
    ["transfer", "pipelines/transfer-digits.yaml", "--strategy", "finetune", "--baseline"],
    ["runs", "list"],
    ["lineage", "digits"],
    # What a reviewer and an operator do next: what was the newest classifier trained
    # on, is that data still good, and does everything behind a model still check out?
    ["models", "review", "digits-classifier"],
    ["audit", "run"],
    # What auditors and dataset users take away: the classifier's training content
    # with every license in it, and the fine-tuning data as Croissant metadata.
    ["models", "card", "digits-classifier", "--out", "catalog/exports/digits-classifier.card.md"],
    ["datasets", "croissant", "digits-finetune", "--out", "catalog/exports/digits-finetune.croissant.json"],
]

FASHION = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist (MIT)
FASHION_LABELS = ["--owner", "zalando-research", "--license", "MIT", "--tag", "source=debian-dataset-fashion-mnist"]

# The same job on Fashion-MNIST's 70,000 real images. Its test set holds near-copies of
# training images (a third of it, at dedup's defaults), so the 70,000 are ingested as one
# dataset and split after removing near-duplicates: no eval image has a near-copy in the
# pretraining or fine-tuning data, and the contamination gate can pass honestly.
FASHION_STEPS: list[list[str]] = [
    ["ingest", FASHION, "--name", "fashion", "--split", "all", *FASHION_LABELS,
     "--description", "Fashion-MNIST, 60,000 training and 10,000 test images, 28x28 grayscale, 10 classes"],
    ["split", "fashion", "--into", "pretrain=0.8,finetune=0.05,eval=0.15", "--per-class", "finetune=5",
     "--drop-labels", "pretrain", "--seed", "0", "--dedupe", "near"],
    ["datasets", "list"],
    ["expectations", "suggest", "fashion-pretrain", "--suite", "fashion-pretrain"],
    # from eval, admitting tables as small as the 50 fine-tuning rows
    ["expectations", "suggest", "fashion-eval", "--suite", "fashion-labelled", "--row-margin", "0.995"],
    ["validate", "fashion-pretrain", "--suite", "fashion-pretrain"],
    ["validate", "fashion-finetune", "--suite", "fashion-labelled"],
    ["validate", "fashion-eval", "--suite", "fashion-labelled"],
    ["pretrain", "pipelines/pretrain-fashion.yaml"],
    # sized for the 50 fine-tuning rows it checks: 50 rows show a KL of ~0.1-0.25 by chance alone
    ["expectations", "match", "fashion-pretrain", "--suite", "fashion-pretrain-match", "--force", "--for-rows", "50"],
    ["validate", "fashion-finetune", "--suite", "fashion-pretrain-match"],
    ["contamination", "fashion-finetune", "fashion-eval"],
    ["contamination", "fashion-pretrain", "fashion-eval"],
    ["transfer", "pipelines/transfer-fashion.yaml", "--strategy", "features"],
    ["transfer", "pipelines/transfer-fashion.yaml", "--strategy", "finetune", "--baseline"],
    ["runs", "list"],
    ["models", "review", "fashion-classifier"],
]  # fmt: skip

PIPELINE_STEPS = ("pretrain", "transfer")


def _skip_reason(ws, step: list[str]) -> str | None:
    """Suggest never overwrites: a suite that exists (perhaps edited) is kept."""
    if step[:2] == ["expectations", "suggest"]:
        suite = step[step.index("--suite") + 1]
        if (ws.expectations_dir / f"{suite}.json").exists():
            return f"expectations/{suite}.json exists; keeping it (delete it to suggest again)"
    return None


def _in_workspace(ws, step: list[str]) -> list[str]:
    """Paths in a step (specs, --out files) resolved against the workspace, not the current directory."""
    if step[0] in PIPELINE_STEPS:
        step = [step[0], str(ws.root / step[1]), *step[2:]]
    if "--out" in step:
        at = step.index("--out") + 1
        step = [*step[:at], str(ws.root / step[at]), *step[at + 1 :]]
    return step


def _missing_specs(ws, steps: list[list[str]]) -> list[str]:
    """The pipeline specs the demo's training steps run that this workspace lacks."""
    return sorted({step[1] for step in steps if step[0] in PIPELINE_STEPS and not (ws.root / step[1]).is_file()})


def demo(
    ctx: typer.Context,
    fashion: bool = typer.Option(
        False, "--fashion", help=f"The same job on Fashion-MNIST's 70,000 images (needs {FASHION}; minutes)."
    ),
) -> None:
    """Run the main job here: ingest, split, validate, pretrain, shift, transfer, lineage, review, audit.

    Every step is an ordinary datagov command, printed before it runs.
    Running it again changes no data (the same content is the same version);
    each validation adds a receipt and each training a run and a model version.
    """
    from datagov.cli.state import console, state, styled, workspace
    from datagov.errors import InvalidInput

    ws = workspace()
    steps = FASHION_STEPS if fashion else STEPS
    if fashion and not Path(FASHION).is_dir():
        raise InvalidInput(
            f"{FASHION} is missing: the Fashion-MNIST demo reads Debian's copy",
            hint="apt-get install dataset-fashion-mnist (`make demo-fashion` does it for you)",
        )
    if missing := _missing_specs(ws, steps):  # before any step: a demo without training would show nothing it promises
        raise InvalidInput(
            f"the demo trains with {', '.join(missing)}, which {ws.root} does not have",
            hint="run it in a clone of the datagov repository (`make demo`), or copy its pipelines/ folder here",
        )
    root = ctx.find_root().command
    prefix = ["--workspace", str(ws.root)] + (["--debug"] if state.debug else [])
    out = console()
    for step in steps:
        out.print(styled("\n[bold green]$ datagov {}[/bold green]", shlex.join(step)))
        if reason := _skip_reason(ws, step):
            out.print(styled("[dim]skipped: {}[/dim]", reason))
            continue
        step = _in_workspace(ws, step)
        try:
            # not standalone: click hands a failed command's exit code back instead of exiting
            code = root.main(prefix + step, prog_name="datagov", standalone_mode=False)
        except typer.Exit as exc:
            code = exc.exit_code
        if isinstance(code, int) and code:
            out.print(styled("\n[red]The demo stops here: `datagov {}` exited {}.[/red]", shlex.join(step), code))
            raise typer.Exit(code)
        if step[0] == "transfer" and "--baseline" in step and not fashion:  # the value table is the digits'
            out.print(compare_with_table(ws, step[step.index("--strategy") + 1]))
    out.print(styled("\n[bold]Done.[/bold] The catalog is in {}", ws.catalog_name))


def compare_with_table(ws, strategy: str) -> str:
    """The newest transfer run with a baseline (trained with `strategy`)
    beside the value table's row for its labels per class: what the README predicts."""
    from datagov.catalog.db import open_catalog
    from datagov.catalog.runs import list_runs
    from datagov.catalog.versions import resolve
    from datagov.training.inputs import label_counts
    from datagov.value_table import nearest_row

    with open_catalog(ws) as con:
        run = next(r for r in list_runs(con, "transfer", 20) if "baseline_eval_accuracy" in r.metrics)
        trained = resolve(con, f"{run.dataset}@{run.digest}")
    counts = label_counts(ws, trained, "label")
    per_class = sum(n for _, n in counts.values()) / len(counts)
    row = nearest_row(per_class)
    ours, scratch = run.metrics["eval_accuracy"], run.metrics["baseline_eval_accuracy"]
    (predicted, p_std), (base, b_std) = row.scores[strategy], row.scores["scratch"]
    return (
        f"Against the value table (README Results), {per_class:.0f} labels per class:\n"
        f"  this run   {strategy} {100 * ours:.1f} %, scratch {100 * scratch:.1f} %: "
        f"gain {100 * (ours - scratch):+.1f} points (one seed)\n"
        f"  the table  {strategy} {100 * predicted:.1f} ± {100 * p_std:.1f}, "
        f"scratch {100 * base:.1f} ± {100 * b_std:.1f}: "
        f"gain {100 * (predicted - base):+.1f} points (row {row.name!r}, 3 seeds; best there: {row.best})"
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
