"""ImageFolder layout: one subfolder per class (PNG, JPEG, ...), or a flat
folder of unlabelled images. Labels are class indices in sorted folder order,
as torchvision's ImageFolder assigns them."""

from __future__ import annotations

from pathlib import Path

from datagov.errors import SourceError
from datagov.sources import IngestOptions, SourceResult
from datagov.sources.image_features import decode_files
from datagov.sources.images import ImageParquetWriter, chunked, run_chunks

CHUNK = 512


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")  # .DS_Store and friends are not samples


def scan(root: Path) -> tuple[list[tuple[str, str, int | None]], list[str]]:
    """[(absolute path, relative path, label)] in a stable order, and the class names."""
    entries = sorted(p for p in root.iterdir() if _visible(p))
    class_dirs = [p for p in entries if p.is_dir()]
    loose = [p for p in entries if p.is_file()]
    if class_dirs and loose:
        raise SourceError(
            f"{root} mixes class folders and loose files ({loose[0].name}); "
            "use one subfolder per class, or a flat folder of unlabelled images"
        )
    if not class_dirs:
        return [(str(p), p.name, None) for p in loose], []
    items = []
    for label, folder in enumerate(class_dirs):
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and _visible(p)):
            items.append((str(path), path.relative_to(root).as_posix(), label))
    return items, [d.name for d in class_dirs]


def write_imagefolder(source: str, out: Path, opts: IngestOptions) -> SourceResult:
    root = Path(source)
    if not root.is_dir():
        raise SourceError(f"an image folder must be a directory: {source}")
    items, classes = scan(root)
    if not items:
        raise SourceError(f"source is empty: {source} holds no image files")
    labelled = bool(classes)
    rejects: list[tuple[str, str]] = []

    def on_bad(bad: list[tuple[str, str]]) -> None:
        if not opts.skip_bad:
            rel, reason = bad[0]
            more = f" (and {len(bad) - 1} more in the same batch)" if len(bad) > 1 else ""
            raise SourceError(
                f"cannot decode {rel!r} in {source}: {reason}{more}; nothing was ingested",
                hint="fix or remove the file, or pass --skip-bad to skip unreadable files "
                "(they are recorded as rejects)",
            )
        rejects.extend(bad)

    writer = ImageParquetWriter(out, labelled, classes)
    chunks = chunked(items, CHUNK)
    run_chunks(
        decode_files,
        chunks,
        [len(c) for c in chunks],
        writer,
        workers=opts.workers,
        label="decoding images",
        show_progress=opts.show_progress,
        on_bad=on_bad,
    )
    if writer.rows == 0:
        raise SourceError(f"no readable images in {source}: all {len(items)} files failed to decode")
    return SourceResult(
        modality="image",
        label_column="label" if labelled else None,
        rejects=rejects,
        details={"classes": classes, "skipped": len(rejects)},
    )
