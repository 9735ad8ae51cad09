"""`datagov models list | review | promote | diff`."""

from __future__ import annotations

import typer

from datagov import tags
from datagov.training.backbone_names import names_text

app = typer.Typer(
    rich_markup_mode=None, help="Review registered models and promote them through the data gate.", no_args_is_help=True
)

KEY_METRICS = ("eval_accuracy", "baseline_eval_accuracy", "val_loss", "train_loss")


@app.command("list")
def list_(
    name: str = typer.Argument(None, help="Only this registered model."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Registered model versions, newest first: aliases, data, audit status."""
    from rich.table import Table

    from datagov.cli.state import console, print_json, styled, workspace
    from datagov.documents import models_document

    rows = models_document(workspace(), name)
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("No registered models yet. Run: datagov pretrain PIPELINE.yaml")
        return
    table = Table(title="Registered models", title_justify="left")
    for col in ("model", "version", "aliases", "stage", "trained on", "audit", "run"):
        table.add_column(col, no_wrap=True)
    for r in rows:
        audit = {"failed": styled("[red]failed[/red]"), "passed": styled("[green]passed[/green]")}.get(
            r["audit"], r["audit"]
        )
        table.add_row(r["model"], r["version"], ", ".join(r["aliases"]) or "-", r["stage"], r["dataset"], audit,
                      r["run_id"][:8])  # fmt: skip
    console().print(table)


@app.command("review")
def review(
    name: str = typer.Argument(..., help="Registered model name."),
    version: str = typer.Argument(None, help="Version (default: the newest)."),
    html: str = typer.Option(None, "--html", metavar="FILE", help="Also write a self-contained HTML page."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What was this model trained on, was that data valid, and is it still?

    Metrics, aliases, training and evaluation data (owners, licenses,
    digests), the receipts the gate used and whether they still hold, drift
    reports, waivers, the latest audit, and whether promotion would pass.
    """

    from rich.table import Table
    from rich.text import Text

    from datagov.cli.state import console, print_json, styled, when, workspace
    from datagov.outputs import check_writable, write_atomic
    from datagov.review.facts import gather
    from datagov.review.promote import promotion_reasons

    ws = workspace()
    html_path = check_writable(html, ws) if html else None
    facts = gather(ws, name, version)
    reasons = promotion_reasons(facts)
    if html_path:
        from datagov.review.html import render_review

        write_atomic(html_path, render_review(facts, reasons))
    if as_json:
        from datagov.documents import review_of

        print_json(review_of(facts, reasons))
        return
    out = console()
    metrics = ", ".join(f"{k} {facts.metrics[k]:.4f}" for k in KEY_METRICS if k in facts.metrics) or "-"
    out.print(styled("[bold]{}[/bold] ({}), aliases: {}, registered {}, run {}", facts.uri, facts.stage,
                     ", ".join(facts.aliases) or "-", when(facts.created), facts.run_id))  # fmt: skip
    out.print(f"Metrics: {metrics}")
    colour = "green" if facts.weights == "verified" else "red"
    out.print(styled(f"Weights: [{colour}]{{}}[/{colour}] (safetensors, sha256 recorded at registration)",
                     facts.weights))  # fmt: skip
    for m in facts.chain()[1:]:
        pretrained_on = ", ".join(d.ref for d in m.data if d.role == "trained") or "unknown data"
        if m.declared:
            pretrained_on = f"data declared, not verified: {m.declared['trained_on']!r} ({m.declared['license']})"
        out.print(f"Encoder: {m.uri}, pretrained on {pretrained_on} (its data is in the table below)")
    for m in facts.chain():
        if m.declared:
            said = m.declared
            out.print(styled("[yellow]Declared provenance[/yellow] of {}", f"{m.uri}: imported from {said['file']} "
                             f"(sha256 {said['file_sha256'][:12]}), trained on {said['trained_on']!r}, "
                             f"license {said['license']}, source {said.get('source') or 'not given'}"))  # fmt: skip
    if tags.DECLARED_ACCEPTED in facts.tags:
        out.print(f"Accepted at transfer: {facts.tags[tags.DECLARED_ACCEPTED]!r} "
                  f"({facts.tags.get(tags.DECLARED_ACCEPTED_ID, '?')})")  # fmt: skip
    if facts.encoder is None and tags.ENCODER_VERSION in facts.tags:
        out.print(f"Encoder: {facts.tags[tags.ENCODER_VERSION]} (not in this catalog's lineage)")
    table = Table(title="Data", title_justify="left")
    for col in ("role", "version", "owner", "license", "receipts at training (now)", "drift reports", "latest audit"):
        table.add_column(col, overflow="fold")
    for role, d in facts.all_data():
        receipts = Text("\n").join(
            styled(f"{{}} {{}} [{'green' if r.valid_now else 'red'}]{{}}[/]", r.id, r.suite,
                   "valid" if r.valid_now else "INVALID: " + r.why)
            for r in d.receipts
        ) or "-"  # fmt: skip
        drift = Text("\n").join(
            styled("{} vs {}: " + ("[red]drift[/red]" if r["drift"] else "[green]no drift[/green]"), r["id"],
                   r["reference"])
            for r in d.drift_reports[:3]
        ) or "-"  # fmt: skip
        colour = {"failed": "red", "passed": "green"}.get(d.audit[0], "yellow") if d.audit else ""
        audit = styled(f"[{colour}]{{}}[/{colour}] {{}}", *d.audit) if d.audit else "no audit yet"
        table.add_row(role, d.ref, d.owner or "-", d.license or "-", receipts, drift, audit)
    out.print(table)
    for w in (w for m in facts.chain() for w in m.waivers):
        state = "[red]expired[/red]" if w.expired else f"expires {w.expires:%Y-%m-%d}" if w.expires else "no expiry"
        out.print(styled("Waiver {} ({}) by {}, {}: {}, " + state, w.id, w.stage, w.who, w.approval, repr(w.reason)))
    for p in facts.promotions:
        approved = f", approved by {p['request']['approved_by']}" if p.get("request") else ""
        out.print(f"Promoted to @{p['alias']} by {p['who']}{approved} {when(p['created'])} ({p['id']})")
    if reasons:
        out.print(styled("[bold red]Promotion would be refused:[/bold red]"))
        for r in reasons:
            out.print(f"  - {r.message}")
    else:
        verdicts = {d.audit[0] for _, d in facts.all_data() if d.audit}
        audits = (
            "no audit yet (`datagov audit run`)" if not verdicts
            else "audits pass" if verdicts == {"passed"}
            else f"no audit failed ({', '.join(sorted(verdicts - {'passed'}))} data)"
        )  # fmt: skip
        out.print(styled("[bold green]Promotable:[/bold green] receipts hold, {}, no expired waiver, metrics in bounds",
                         audits))  # fmt: skip
    if html:
        out.print(f"Review page: {html}")


@app.command("diff")
def diff(
    name: str = typer.Argument(..., help="Registered model name."),
    v1: str = typer.Argument(..., metavar="V1", help="One version."),
    v2: str = typer.Argument(..., metavar="V2", help="The version to compare it with."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What differs between two versions of a model: datasets and digests,
    suites, receipts, waivers, the encoder, params and metrics."""
    from rich.table import Table

    from datagov.cli.state import console, print_json, workspace
    from datagov.review.diff import diff_versions

    result = diff_versions(workspace(), name, v1, v2)
    if as_json:
        print_json(result.to_json())
        return
    out = console()
    if not result.changes:
        out.print(f"{name} {result.old} and {result.new}: no differences in data, checks, params or metrics")
        return
    table = Table(title=f"{name}: version {result.old} -> {result.new}", title_justify="left")
    for col in ("section", "what", f"v{result.old}", f"v{result.new}"):
        table.add_column(col, overflow="fold")
    for c in result.changes:
        old, new = (("yes" if x else "-") if isinstance(x, bool) else _shown(x) for x in (c.old, c.new))
        table.add_row(c.section, c.key, old, new)
    out.print(table)


def _shown(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k} {str(v)[:16] if k == 'digest' else v}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@app.command("card")
def card(
    name: str = typer.Argument(..., help="Registered model name."),
    version: str = typer.Argument(None, help="Version (default: the newest)."),
    fmt: str = typer.Option("md", "--format", "-f", help="md (Markdown) or json."),
    out: str = typer.Option(None, "--out", "-o", metavar="FILE", help="Write the card here instead of stdout."),
) -> None:
    """A model card of the version's training content, with every license in it.

    Every dataset version it was trained on, transitively through splits and
    its encoder's pretraining: owner, SPDX license (upstream licenses
    included), source, size, receipts then and now, drift and contamination
    results, audits and waivers. Unknown, non-commercial and no-derivatives
    licenses are flagged. Laid out after the EU AI Act Art. 53(1)(d) template
    for summarising training content; "unknown" where datagov has no record.
    """
    import json

    from datagov.cli.state import console, workspace
    from datagov.errors import InvalidInput
    from datagov.outputs import check_writable, write_atomic
    from datagov.review.card import build_card, card_json, render_markdown

    if fmt not in ("md", "json"):
        raise InvalidInput(f"unknown card format {fmt!r}; use md or json")
    ws = workspace()
    path = check_writable(out, ws) if out else None
    built = build_card(ws, name, version)
    text = render_markdown(built) if fmt == "md" else json.dumps(card_json(built), indent=2) + "\n"
    if path is None:
        typer.echo(text, nl=False)
        return
    write_atomic(path, text)
    out_ = console()
    out_.print(f"Model card for {built.uri}: {path}")
    flags = built.license_flags
    out_.print(f"License flags: {', '.join(sorted(flags))}" if flags else "License flags: none")


@app.command("import")
def import_(
    weights: str = typer.Argument(..., help="A .safetensors, .pt or .pth state dict (never a pickled module), "
                                  "or torchvision:ENUM.NAME, e.g. torchvision:ResNet18_Weights.IMAGENET1K_V1."),
    name: str = typer.Option(..., "--name", help="Register it under this model name."),
    arch: str = typer.Option(None, "--arch", help=f"Its architecture: {names_text()} "
                             "(torchvision's keys). Taken from a torchvision: name."),
    shape: str = typer.Option(None, "--shape", metavar="C,H,W", help="The images it takes, e.g. 3,32,32. "
                              "For torchvision: names, 3 and its evaluation crop (224)."),
    trained_on: str = typer.Option(None, "--trained-on", metavar="TEXT", help="What it was trained on, as declared. "
                                   "For torchvision: names, the dataset its name says."),
    license_: str = typer.Option(..., "--license", metavar="SPDX", help="The weights' license (SPDX expression)."),
    source: str = typer.Option(None, "--source", metavar="URL", help="Where the weights came from "
                               "(for torchvision: names, its download URL)."),
    alias: str = typer.Option("imported", "--alias", help="Point this alias at the new version."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show download progress (on a terminal)."),
) -> None:  # fmt: skip
    """Register an encoder trained elsewhere, its training data declared, not verified.

    The record says so in the catalog and in MLflow; a transfer from it needs
    --accept-declared REASON, recorded on every model derived from it, and
    `models review` and `models card` show it. torchvision:ENUM.NAME downloads
    torchvision's published file into torch's hub cache (or from
    $DATAGOV_TORCHVISION_MIRROR) and checks it against the sha256 in its name.
    """
    import sys
    from functools import partial
    from pathlib import Path

    from datagov.cli.state import console, styled, workspace
    from datagov.errors import InvalidInput
    from datagov.training import published
    from datagov.training.imported import Declaration, check_request, import_weights

    pub = None
    if published.is_published(weights):
        pub = published.resolve(weights)
        if arch not in (None, pub.arch):
            raise InvalidInput(f"--arch {arch} does not match {weights}, which is a {pub.arch}")
        arch, shape = pub.arch, shape or f"3,{pub.crop},{pub.crop}"
        trained_on, source = trained_on or pub.trained_on, source or pub.url
    needed = (("--arch", arch), ("--shape", shape), ("--trained-on", trained_on))
    missing = [flag for flag, value in needed if not value]
    if missing:
        raise InvalidInput(f"a weights file needs {', '.join(missing)}", hint="see datagov models import --help")
    declared = Declaration(trained_on, license_, source)
    check_request(name, declared, alias)  # before a download
    image = _image_shape(shape)
    path = published.fetch(pub, progress=progress and sys.stderr.isatty()) if pub else Path(weights)
    check = partial(published.check_bytes, pub) if pub else None
    version = import_weights(workspace(), path, name, arch, image, declared, alias, check_bytes=check)
    out = console()
    out.print(f"Registered models:/{name}/{version} (alias models:/{name}@{alias}) from {path.name}")
    out.print(styled("[yellow]Declared, not verified:[/yellow] {}", f"trained on {trained_on!r}, license {license_}"
                     + (f", from {source}" if source else "")))  # fmt: skip
    out.print(f"Transfer from it with --accept-declared REASON: datagov transfer SPEC encoder=models:/{name}/{version}")


def _image_shape(shape: str):
    from datagov.errors import InvalidInput
    from datagov.pixels.shape import ImageShape

    try:
        c, h, w = (int(x) for x in shape.split(","))
    except ValueError:
        raise InvalidInput(f"--shape {shape!r} must be C,H,W, e.g. 3,32,32") from None
    if not (1 <= c <= MAX_CHANNELS and 1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise InvalidInput(f"--shape {shape!r}: channels must be 1..{MAX_CHANNELS} and sides 1..{MAX_SIDE:,} pixels")
    return ImageShape(c, h, w)


MAX_CHANNELS, MAX_SIDE = 4, 4096  # grey, RGB(A); an encoder for larger images is not something to import blind


@app.command("promote")
def promote_cmd(
    name: str = typer.Argument(..., help="Registered model name."),
    version: str = typer.Argument(..., help="The version to promote."),
    alias: str = typer.Option(..., "--alias", "-a", help="The alias to move, e.g. production."),
    waive: str = typer.Option(None, "--waive", metavar="REASON", help="Promote despite refusals (recorded)."),
) -> None:
    """Point ALIAS at VERSION, only if its data still holds up (else exit 4).

    Checks: receipts still valid (its encoder's too), no failed audit, no
    expired waiver, metric bounds from the pipeline spec, and the license
    policy in datagov.toml's [promote] for protected aliases. Recorded in the
    catalog and as MLflow tags.
    """
    from datagov.cli.state import console, styled, workspace
    from datagov.review.promote import promote

    p = promote(workspace(), name, version, alias, waive=waive)
    out = console()
    moved = f" (was version {p.previous})" if p.previous and p.previous != p.facts.version else ""
    out.print(f"models:/{name}@{alias} -> version {p.facts.version}{moved} · promotion {p.id}")
    if p.waiver_id:
        out.print(styled("[yellow]waived[/yellow] ({}): {}", p.waiver_id, "; ".join(r.message for r in p.reasons)))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="models")
