"""`datagov gc [--dry-run]`: apply [retention], then remove store bytes nothing references."""

from __future__ import annotations

import typer


def gc(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be removed; change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: what was deleted, kept and reclaimed."),
) -> None:
    """Apply [retention] in datagov.toml, then remove stored bytes no version references.

    Never removes a version a registered model was trained or evaluated on, or
    one a remaining version was derived from; never touches files registered
    in place or another workspace's store. Safe to rerun after an interruption."""
    from datagov.cli.state import console, human_bytes, print_json, workspace
    from datagov.lifecycle.gc import collect

    ws = workspace()
    report = collect(ws, dry_run=dry_run)
    if as_json:
        print_json(_document(report))
        return
    out = console()
    verb = "would delete" if dry_run else "deleted"
    for erasure_id in report.purges:
        out.print(f"finished the interrupted purge of erasure {erasure_id} (datagov erasures show {erasure_id})")
    for e in report.expiring:
        out.print(f"{verb} {e.version.ref} ({e.why})")
    for v, why in report.kept:
        out.print(f"kept {v.ref}: past retention, but {why}")
    for folder, size in report.orphans:
        out.print(
            f"{'would remove' if dry_run else 'removed'} {folder} ({human_bytes(size)}, no version references it)"
        )
    keep_versions, keep_days = ws.retention
    if not keep_versions and not keep_days:
        out.print("no [retention] set in datagov.toml: only unreferenced bytes are collected")
    if dry_run:
        out.print(f"dry run: {len(report.expiring)} version(s) and {len(report.orphans)} unreferenced folder(s) "
                  "would go; nothing changed")  # fmt: skip
        return
    removed = f"{len(report.removed.files):,} stored file(s) and {len(report.orphans):,} unreferenced folder(s) removed"
    out.print(f"gc: {len(report.expiring):,} version(s) deleted, {removed}, {human_bytes(report.reclaimed)} reclaimed")


def _document(report) -> dict:
    return {
        "dry_run": report.dry_run,
        "deleted" if not report.dry_run else "would_delete": [
            {"version": e.version.node_id, "why": e.why, "bytes": e.version.bytes} for e in report.expiring
        ],
        "kept": [{"version": v.node_id, "why": why} for v, why in report.kept],
        "unreferenced": [{"folder": f, "bytes": b} for f, b in report.orphans],
        "purges_finished": report.purges,
        "files_removed": len(report.removed.files),
        "bytes_reclaimed": report.reclaimed,
    }


def register(app: typer.Typer) -> None:
    app.command("gc")(gc)
