"""`--format webdataset`: copy the samples of tar shards (a file, a folder,
a glob or an s3:// prefix) into the image layout. The sample rules, the tar
reader and the conversion live in `store/images/`, which also renders
shards registered in place when they are used."""

from __future__ import annotations

from pathlib import Path

from datagov.errors import InvalidInput, SourceError
from datagov.sources import IngestOptions, SourceResult
from datagov.store.images.webdataset import SUFFIXES
from datagov.store.shards import find_shards


def refuse_label_option(label: str | None) -> None:
    """`--label` names a column; a WebDataset's labels are its samples' own."""
    if label is not None:
        raise InvalidInput(
            f"--label {label} does not apply to WebDataset shards: labels come from each sample's KEY.cls or KEY.json",
            hint="drop --label",
        )


def write_webdataset(source: str, out: Path, opts: IngestOptions) -> SourceResult:
    """Copy the samples of tar shards (a file, a folder, a glob or an s3:// prefix)."""
    from datagov.store.images.render import convert_shards

    refuse_label_option(opts.label)
    shards = find_shards(source, SUFFIXES)
    if not shards.shards:
        raise SourceError(f"no .tar shards in {source}", hint="WebDataset sources are .tar shards")
    done = convert_shards(
        shards,
        out,
        max_pixels=opts.max_pixels,
        skip_bad=opts.skip_bad,
        workers=opts.workers,
        show_progress=opts.show_progress,
    )
    if done.rows == 0:
        raise SourceError(f"no readable images in {source}: every sample failed to decode")
    return SourceResult(
        modality="image",
        label_column="label" if done.labelled else None,
        rejects=done.rejects,
        details={"shards": len(shards.shards), "skipped": len(done.rejects)},
    )
