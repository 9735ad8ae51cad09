"""`datagov demo`: the main job end to end, as the CLI commands a user would type."""

from __future__ import annotations

import shlex

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
    # splits (suggested from finetune, with a row margin wide enough for eval).
    ["expectations", "suggest", "digits-pretrain", "--suite", "digits-pretrain"],
    ["expectations", "suggest", "digits-finetune", "--suite", "digits-labelled", "--row-margin", "1.5"],
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
    ["models", "card", "digits-classifier", "--out", "catalog/reports/digits-classifier.card.md"],
    ["datasets", "croissant", "digits-finetune", "--out", "catalog/reports/digits-finetune.croissant.json"],
]


PIPELINE_STEPS = ("pretrain", "transfer")


def _skip_reason(ws, step: list[str]) -> str | None:
    """Suggest never overwrites: a suite that exists (perhaps edited) is kept."""
    if step[:2] == ["expectations", "suggest"]:
        suite = step[step.index("--suite") + 1]
        if (ws.expectations_dir / f"{suite}.json").exists():
            return f"expectations/{suite}.json exists; keeping it (delete it to suggest again)"
    if step[0] in PIPELINE_STEPS and not (ws.root / step[1]).is_file():
        return f"no {step[1]} in this workspace (the repository ships one)"
    return None


def demo(ctx: typer.Context) -> None:
    """Run the main job here: ingest, split, validate, pretrain, shift, transfer, lineage, review, audit.

    Every step is an ordinary datagov command, printed before it runs.
    Running the demo again changes nothing: the same content is the same version.
    """
    from datagov.cli.state import console, state, workspace

    ws = workspace()
    root = ctx.find_root().command
    prefix = ["--workspace", str(ws.root)] + (["--debug"] if state.debug else [])
    out = console()
    for step in STEPS:
        out.print(f"\n[bold green]$ datagov {shlex.join(step)}[/bold green]")
        if reason := _skip_reason(ws, step):
            out.print(f"[dim]skipped: {reason}[/dim]")
            continue
        if step[0] in PIPELINE_STEPS:  # specs are paths: resolve against the workspace, not the cwd
            step = [step[0], str(ws.root / step[1]), *step[2:]]
        try:
            root.main(prefix + step, prog_name="datagov", standalone_mode=False)
        except typer.Exit as exc:
            if exc.exit_code:
                raise
    out.print("\n[bold]Done.[/bold] The catalog is in", str(ws.db_path))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
