"""`datagov erase` and `datagov erasures list | show ID | purge ID`."""

from __future__ import annotations

import typer

erasures = typer.Typer(rich_markup_mode=None, help="Erasure records: what was removed, from where, and the proof.",
                       no_args_is_help=True)  # fmt: skip

SHOWN = 20  # similar copies shown in a plan


def erase(
    more: list[str] = typer.Argument(
        None, metavar="IMAGE", help="More example images, as --like takes them (so `--like takedown/*.jpg` works)."
    ),
    like: list[str] = typer.Option(
        None, "--like", metavar="IMAGE", help="An example image: it and its near-copies go (repeatable)."
    ),
    paths: str = typer.Option(None, "--paths", metavar="GLOB", help="Items whose source path matches, e.g. 'alice/*'."),
    keys: str = typer.Option(
        None, "--keys", metavar="FILE", help="A file of keys, one per line: pixel hashes, or a table's --key-column."
    ),
    key_column: str = typer.Option(None, "--key-column", metavar="COL", help="Tables: the column naming each row."),
    dataset: list[str] = typer.Option(
        None, "--dataset", metavar="NAME", help="Only these datasets and what derives from them (repeatable)."
    ),
    reason: str = typer.Option(None, "--reason", "-r", help="Why (required; recorded with your name)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show the plan (copies found, models affected); change nothing."
    ),
    purge: bool = typer.Option(False, "--purge", help="Also delete the old versions' bytes, with a proof."),
    all_matching: bool = typer.Option(False, "--all-matching", help="Allow a --paths glob that matches every row."),
    min_similarity: float = typer.Option(
        None,
        "--min-similarity",
        metavar="S",
        help="--like: the thumbnail similarity a copy must reach (default: `datagov dedup`'s, 0.975); "
        "raise it when the plan lists lookalikes that are not copies.",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show what is running (on a terminal)."),
) -> None:
    """Remove items, and their near-copies, from every version that holds them.

    Writes a new version of each affected dataset without them (lineage edge
    `erased`), retires the old versions, and flags every model trained on
    them: `models promote` refuses a flagged model until it is retrained or
    the refusal is waived. --purge deletes the old bytes and records a proof."""
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

    from datagov.cli.state import workspace
    from datagov.lifecycle.erase import erase as run_erase
    from datagov.lifecycle.erase_select import Selector
    from datagov.progress import progress_bar

    selector = Selector(like=[*(like or []), *(more or [])], paths=paths, keys_file=keys, key_column=key_column,
                        datasets=list(dataset or []), all_matching=all_matching,
                        min_similarity=min_similarity)  # fmt: skip
    line = progress_bar(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), enabled=progress)
    with line:
        task = line.add_task("searching", total=None)
        result = run_erase(workspace(), selector, reason, dry_run=dry_run, purge=purge,
                           on_version=lambda v: line.update(task, description=f"searching {v.ref}"))  # fmt: skip
    _print_plan(result)
    if dry_run:
        typer.echo("dry run: nothing changed")
        return
    _print_outcome(result)


def _print_plan(result) -> None:
    from datagov.cli.state import console
    from datagov.lifecycle.erase import RETIRE, REWRITE, WAS_RETIRED
    from datagov.lineage import short_version

    out = console()
    sel = result.selection
    similar = sum(h.copies for h in sel.searched)
    found_by = f"; {similar:,} copies found by similarity" if similar else ""
    out.print(f"{len(sel.keys):,} item(s), {result.rows_removed:,} row(s) in {len(result.planned)} version(s) "
              f"of {len(sel.searched)} searched{found_by}")  # fmt: skip
    for p in result.planned:
        what = {REWRITE: "written again without them", RETIRE: "retired (an older version)",
                WAS_RETIRED: "retired already"}[p.action]  # fmt: skip
        out.print(f"  {p.old.ref}: {p.hits.removed:,} of {p.hits.total:,} row(s); {what}")
    copies = [(p, s) for p in result.planned for s in p.hits.similar]
    if copies:
        out.print("copies found by similarity (most alike first):")
        for p, s in copies[:SHOWN]:
            out.print(f"  {p.old.ref} {s['path'] or s['key'][:16]}: like {s['like']}, similarity "
                      f"{s['similarity']:.4f}, {s['distance']} bits")  # fmt: skip
        if len(copies) > SHOWN or similar > len(copies):
            out.print(f"  … {similar:,} copies in all")
    if sel.skipped:
        out.print(f"not searched (no key column): {', '.join(sel.skipped[:8])}")
    if result.models:
        out.print("models trained or evaluated on them (flagged; promotion refused until retrained or waived):")
        for model, nodes in sorted(result.models.items()):
            out.print(f"  {model}: {', '.join(short_version(n) for n in sorted(nodes))}")
    else:
        out.print("no registered model was trained on them")


def _print_outcome(result) -> None:
    from datagov.cli.state import console

    out = console()
    out.print(f"erasure {result.id}: {result.rows_removed:,} row(s) removed")
    for p in result.planned:
        if p.new is not None:
            out.print(f"  {p.old.ref} -> {p.new.ref}")
    if result.flagged:
        out.print(f"flagged: {', '.join(result.flagged)}")
    proof = result.purge
    if proof is None:
        out.print(
            f"the old versions are retired, their bytes kept; delete them with `datagov erasures purge {result.id}`"
        )
        return
    _print_proof(result.id, proof)


def _print_proof(erasure_id: str, proof: dict) -> None:
    from datagov.cli.state import console, human_bytes
    from datagov.errors import CheckFailed

    out = console()
    rescan = proof["rescan"]
    out.print(f"purged {erasure_id}: {len(proof['files'])} file(s), {human_bytes(proof['bytes'])} deleted; re-scan of "
              f"{len(rescan['versions'])} version(s) found {rescan['rows_found']} row(s) of the {rescan['keys']} "
              "item(s)")  # fmt: skip
    for node in proof["kept"]:
        out.print(f"  kept: the bytes of {node} (another version holds the same bytes)")
    for node in proof.get("in_place", []):
        out.print(f"  not deleted: the files of {node} are registered in place (yours): delete them at their source")
    if not proof["complete"]:
        raise CheckFailed(
            f"the purge of erasure {erasure_id} is not complete; see `datagov erasures show {erasure_id}`"
        )


@erasures.command("purge")
def purge(erasure_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Delete an applied erasure's old versions and their bytes, and record the proof."""
    from datagov.cli.state import workspace
    from datagov.lifecycle.purge import purge_erasure

    _print_proof(erasure_id, purge_erasure(workspace(), erasure_id))


@erasures.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Erasures, newest first."""

    from rich.table import Table

    from datagov.catalog.db import open_catalog
    from datagov.catalog.lifecycle import erasures as all_erasures
    from datagov.cli.state import console, print_json, when, workspace

    if as_json:
        from datagov.documents import erasures_document

        print_json(erasures_document(workspace()))
        return
    with open_catalog(workspace()) as con:
        found = all_erasures(con)
    if not found:
        typer.echo("No erasures yet.")
        return
    table = Table(title="Erasures", title_justify="left")
    for col in ("id", "when", "by", "items", "rows", "versions", "models", "status", "reason"):
        table.add_column(col)
    for e in found:
        table.add_row(e.id, when(e.created), e.created_by or "-", f"{e.items:,}", f"{e.rows_removed:,}",
                      str(len(e.versions)), str(len(e.models)), e.status, e.reason)  # fmt: skip
    console().print(table)


@erasures.command("show")
def show(erasure_id: str = typer.Argument(..., metavar="ID"), as_json: bool = typer.Option(False, "--json")) -> None:
    """One erasure: the request, the versions rewritten, the models flagged, the purge's proof."""

    from datagov.catalog.db import open_catalog
    from datagov.catalog.lifecycle import erasure
    from datagov.cli.state import console, human_bytes, print_json, when, workspace
    from datagov.errors import NotFound
    from datagov.lineage import short_version

    if as_json:
        from datagov.documents import erasure_document

        print_json(erasure_document(workspace(), erasure_id))
        return
    with open_catalog(workspace()) as con:
        e = erasure(con, erasure_id)
    if e is None:
        raise NotFound(f"no erasure {erasure_id!r}", hint="see `datagov erasures list`")
    out = console()
    out.print(f"erasure {e.id} · {e.status} · {when(e.created)} by {e.created_by or '-'}")
    out.print(f"reason: {e.reason}")
    out.print(f"request: {_selector_text(e.selector)}")
    out.print(f"{e.items:,} item(s), {e.rows_removed:,} row(s) removed")
    for v in e.versions:
        new = f" -> {short_version(v['new'])}" if v["new"] else ""
        out.print(f"  {short_version(v['old'])}{new}: {v['removed']:,} row(s), {v['action']}")
    out.print(f"models flagged: {', '.join(e.models) or 'none'}")
    if e.purge:
        p = e.purge
        complete = "yes" if p["complete"] else "NO"
        out.print(f"purged {when(e.purged)}: {len(p['files'])} file(s), {human_bytes(p['bytes'])}; "
                  f"re-scan found {p['rescan']['rows_found']} row(s); complete: {complete}")  # fmt: skip
        for f in p["files"][:SHOWN]:
            state = "gone" if f["gone"] else "STILL THERE"
            out.print(f"  {f['where']}/{f['path']} sha256 {f['sha256'][:16]}… {state}")
    else:
        out.print("not purged: the old versions are retired and their bytes kept")


def _selector_text(selector: dict) -> str:
    parts = []
    if "paths" in selector:
        parts.append(f"--paths {selector['paths']!r}")
    if "keys_file" in selector:
        parts.append(f"--keys {selector['keys_file']['name']} (sha256 {selector['keys_file']['sha256'][:12]}…)")
    if "like" in selector:
        parts.append(f"--like {len(selector['like'])} example image(s)")
    if selector.get("datasets"):
        parts.append("--dataset " + " --dataset ".join(selector["datasets"]))
    return " ".join(parts)


def register(app: typer.Typer) -> None:
    app.command("erase")(erase)
    app.add_typer(erasures, name="erasures")
