"""`datagov datasets retire|delete`, `validations retire`, `expectations retire`, `models retire`.

Each is recorded with who did it and why (`--reason`, required)."""

from __future__ import annotations

import typer

REASON = typer.Option(None, "--reason", "-r", help="Why (required; recorded with your name).")


def datasets_retire(
    ref: str = typer.Argument(..., metavar="NAME[@DIGEST]", help="A version, or NAME alone for every version."),
    reason: str = REASON,
) -> None:
    """Retire a version (or a whole dataset): kept and readable by digest, but out of
    `NAME`, audits and default listings, and refused by the gate for new training."""
    from datagov.cli.state import console, workspace
    from datagov.lifecycle.retire import retire_versions

    retired = retire_versions(workspace(), ref, reason)
    out = console()
    for v in retired:
        out.print(f"retired {v.ref}")
    out.print(f"{len(retired)} version(s) retired; read one by digest, list them with `datagov datasets history "
              f"{retired[0].dataset} --all`")  # fmt: skip


def datasets_delete(
    ref: str = typer.Argument(..., metavar="NAME[@DIGEST]", help="A version, or NAME alone for every version."),
    reason: str = REASON,
    force: bool = typer.Option(
        False, "--force", help="Delete data that registered models were trained on (recorded; the models are flagged)."
    ),
) -> None:
    """Delete versions nothing depends on (no registered model, no derived version), and their stored bytes."""
    from datagov.cli.state import console, human_bytes, styled, workspace
    from datagov.lifecycle.retire import delete_versions

    done = delete_versions(workspace(), ref, reason, force=force)
    out = console()
    for v in done.versions:
        out.print(f"deleted {v.ref}")
    out.print(f"{len(done.versions)} version(s) deleted; {len(done.removed.files)} stored file(s), "
              f"{human_bytes(done.removed.bytes)}, removed")  # fmt: skip
    for root in done.removed.skipped:
        out.print(styled("[yellow]kept[/yellow] {} (not inside this workspace's store)", root))
    if done.flagged:
        out.print(styled("[yellow]flagged[/yellow] (cannot be promoted until retrained or waived): {}",
                         ", ".join(done.flagged)))  # fmt: skip


def datasets_license(
    name: str = typer.Argument(..., metavar="NAME"),
    license_: str = typer.Argument(None, metavar="SPDX", help="The new license, e.g. CC-BY-NC-4.0."),
    revoke: bool = typer.Option(False, "--revoke", help="The license was revoked: no use is allowed any more."),
    reason: str = REASON,
) -> None:
    """Change (or revoke) a dataset's license; every model whose training content carries it is re-evaluated:
    a change that adds a restriction, and every revocation, flags those models."""
    from datagov.cli.state import console, styled, workspace
    from datagov.lifecycle.license_change import change_license

    change = change_license(workspace(), name, license_, reason, revoke=revoke)
    out = console()
    out.print(f"{name}: license {change.old or 'none'} -> {change.new}")
    out.print(f"{len(change.models)} model version(s) carry it in their training content"
              + (f": {', '.join(change.models)}" if change.models else ""))  # fmt: skip
    if change.flagged:
        out.print(styled("[yellow]flagged[/yellow] (adds {}; promotion refused until retrained or waived): {}",
                         ", ".join(change.added_flags), ", ".join(change.flagged)))  # fmt: skip
    elif change.models:
        out.print("none flagged: the new license adds no restriction; [promote] reads it at the next promotion")


def validations_retire(
    receipt: str = typer.Argument(..., metavar="RECEIPT_ID", help="See `datagov validations list`."),
    reason: str = REASON,
) -> None:
    """Retire an exploratory validation's receipt: the gate and audits stop counting it."""
    from datagov.cli.state import console, workspace
    from datagov.lifecycle.retire import retire_receipt

    record = retire_receipt(workspace(), receipt, reason)
    console().print(f"retired receipt {receipt} ({record.id}); `datagov validations list --all` still shows it")


def expectations_retire(
    suite: str = typer.Argument(..., metavar="SUITE"),
    reason: str = REASON,
) -> None:
    """Retire a suite: `validate` refuses it and the gate refuses pipelines that require it."""
    from datagov.cli.state import console, workspace
    from datagov.lifecycle.retire import retire_suite

    record = retire_suite(workspace(), suite, reason)
    console().print(f"retired suite {suite} ({record.id})")


def models_retire(
    name: str = typer.Argument(..., metavar="NAME"),
    version: str = typer.Argument(..., metavar="VERSION"),
    reason: str = REASON,
) -> None:
    """Retire a model version: `models promote` refuses it from now on (tagged datagov.retired in MLflow)."""
    from datagov.cli.state import console, workspace
    from datagov.lifecycle.retire import retire_model

    record = retire_model(workspace(), name, version, reason)
    console().print(f"retired models:/{name}/{version} ({record.id})")


def register(datasets: typer.Typer, validations: typer.Typer, expectations: typer.Typer, models: typer.Typer) -> None:
    datasets.command("retire")(datasets_retire)
    datasets.command("delete")(datasets_delete)
    datasets.command("license")(datasets_license)
    validations.command("retire")(validations_retire)
    expectations.command("retire")(expectations_retire)
    models.command("retire")(models_retire)
