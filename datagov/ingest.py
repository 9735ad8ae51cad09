"""Ingest: source -> staged Parquet -> manifest and digest -> catalog.

The slow part (reading, decoding, writing, hashing) runs before the catalog
lock is taken; registering is one short transaction under it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from datagov import faults
from datagov.catalog.db import open_catalog
from datagov.catalog.locations import locate
from datagov.catalog.versions import NewVersion, Registered, check_name, now, register
from datagov.errors import InvalidInput, SourceError
from datagov.sources import BUILTIN_FORMATS, IN_PLACE_FORMATS, IngestOptions, resolved_format, write_source
from datagov.store import build_manifest, staged_version, staging
from datagov.verify import damaged_stored_copy
from datagov.workspace import Workspace


@dataclass(frozen=True)
class IngestResult:
    registered: Registered
    format: str
    rejects: list[tuple[str, str]]
    files: int = 0
    root: str = ""  # where the version's files are

    @property
    def version(self):
        return self.registered.version


def parse_tags(pairs: list[str] | None) -> dict[str, str]:
    tags = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"invalid tag {pair!r}: expected KEY=VALUE")
        tags[key.strip()] = value.strip()
    return tags


def source_id(source: str, fmt: str) -> str:
    """How lineage names a source: its absolute path, or the built-in name."""
    if fmt in BUILTIN_FORMATS:
        return source if ":" in source else f"{fmt}:{source}"
    return str(Path(source).resolve())


def ingest_source(
    ws: Workspace,
    source: str,
    name: str,
    fmt: str = "auto",
    *,
    owner: str | None = None,
    license: str | None = None,
    tags: dict[str, str] | None = None,
    description: str | None = None,
    options: IngestOptions | None = None,
) -> IngestResult:
    check_name(name)
    started = now()  # the lineage edge keeps it: an ingest run has a start and an end
    opts = dataclasses.replace(
        options or IngestOptions(),
        max_pixels=ws.max_image_pixels,
        max_columns=ws.max_columns,
        max_array_bytes=ws.max_array_bytes,
        max_line_bytes=ws.max_csv_line_bytes,
    )
    fmt = resolved_format(source, fmt)
    sid = source_id(source, fmt)
    with staging(ws) as folder:
        result = write_source(source, fmt, folder, opts)
        manifest = build_manifest(folder)
        if manifest.rows == 0:
            raise SourceError(f"source is empty: {source} has no rows")
        faults.point("ingest:staged")
        with staged_version(ws, folder, manifest.digest) as staged:
            new = NewVersion(
                name=name,
                manifest=manifest,
                staged=staged,
                modality=result.modality,
                source=sid,
                format=fmt,
                label_column=result.label_column,
                owner=owner,
                license=license,
                description=description,
                tags=tags or {},
                details={**result.details, "ingest_options": {"label": opts.label, "skip_bad": opts.skip_bad}},
                rejects=result.rejects,
                stage="ingest",
                inputs=[("source", sid, "ingested", {"format": fmt, "started": started.isoformat()})],
                restore=damaged_stored_copy(ws, name, manifest.digest),
            )
            with open_catalog(ws, write=True) as con:
                registered = register(ws, con, new)
                located = locate(ws, con, manifest.digest, name)
    return IngestResult(registered, fmt, result.rejects, len(located.entries), located.root)


def ingest_in_place(
    ws: Workspace,
    source: str,
    name: str,
    fmt: str = "auto",
    *,
    label: str | None = None,
    owner: str | None = None,
    license: str | None = None,
    tags: dict[str, str] | None = None,
    description: str | None = None,
    progress=None,
) -> IngestResult:
    """Register the shards under a folder or s3:// prefix without copying them."""
    from datagov.in_place import in_place_manifest

    check_name(name)
    started = now()
    if fmt not in IN_PLACE_FORMATS:
        raise InvalidInput(
            f"--in-place takes Parquet or WebDataset shards, not --format {fmt}", hint="drop --in-place to copy it"
        )
    found = in_place_manifest(ws, source, fmt, progress)
    root, manifest = found.root, found.manifest
    if manifest.rows == 0:
        raise SourceError(f"source is empty: the shards under {root} have no rows")
    columns = [c["name"] for c in manifest.schema]
    if found.layout == "webdataset":
        from datagov.sources.webdataset import refuse_label_option

        refuse_label_option(label)
        label = "label" if found.labelled else None
    elif label is not None and label not in columns:
        raise InvalidInput(f"label column {label!r} is not among the columns of {root}: {', '.join(columns[:20])}")
    if len(columns) > ws.max_columns:
        raise SourceError(f"{root} has {len(columns)} columns, more than [ingest] max_columns = {ws.max_columns}")
    new = NewVersion(
        name=name,
        manifest=manifest,
        staged=None,
        location=root,
        layout=found.layout,
        modality="image" if found.layout == "webdataset" else "tabular",
        source=root,
        format=found.layout,
        label_column=label,
        owner=owner,
        license=license,
        description=description,
        tags=tags or {},
        details={"in_place": True, "shards": len(manifest.files)},
        stage="ingest",
        inputs=[("source", root, "registered in place", {"format": found.layout, "started": started.isoformat()})],
    )
    with open_catalog(ws, write=True) as con:
        registered = register(ws, con, new)
        located = locate(ws, con, manifest.digest, name)
    return IngestResult(registered, found.layout, [], len(located.entries), located.root)
