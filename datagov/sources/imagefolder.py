"""ImageFolder layout: one subfolder per class (PNG, JPEG, ...), or a flat
folder of unlabelled images. Labels are class indices in sorted folder order,
as torchvision's ImageFolder assigns them."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from datagov.errors import SourceError
from datagov.sources import IngestOptions, SourceResult
from datagov.store.images.columns import decode_files
from datagov.store.images.writer import ImageParquetWriter, chunked, run_chunks

CHUNK = 512


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")  # .DS_Store and friends are not samples


def display_name(text: str) -> str:
    """A file name as UTF-8 text: bytes that are not UTF-8 (kept by Python as
    surrogates) are shown as \\xNN escapes, so names stay readable and storable."""
    return os.fsencode(text).decode("utf-8", errors="backslashreplace")


def scan(root: Path) -> tuple[list[tuple[str, str, int | None]], list[str], list[tuple[str, str]]]:
    """[(absolute path, relative path, label)] in a stable order, the class
    names, and the symlinks found: [(relative path, reason)]. Symlinks are
    never followed, so nothing outside the folder is read."""
    entries = sorted(p for p in root.iterdir() if _visible(p))
    links = [(display_name(p.name), "a symlink (not followed)") for p in entries if p.is_symlink()]
    class_dirs = [p for p in entries if p.is_dir() and not p.is_symlink()]
    loose = [p for p in entries if p.is_file() and not p.is_symlink()]
    if class_dirs and loose:
        raise SourceError(
            f"{root} mixes class folders and loose files ({display_name(loose[0].name)}); "
            "use one subfolder per class, or a flat folder of unlabelled images"
        )
    if not class_dirs:
        return [(str(p), display_name(p.name), None) for p in loose], [], links
    items: list[tuple[str, str, int | None]] = []
    for label, folder in enumerate(class_dirs):
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
            here = Path(dirpath)
            dirnames.sort()
            for name in [d for d in dirnames if (here / d).is_symlink()]:
                links.append((display_name((here / name).relative_to(root).as_posix()), "a symlink (not followed)"))
            for name in sorted(filenames):
                path = here / name
                if not _visible(path):
                    continue
                rel = display_name(path.relative_to(root).as_posix())
                if path.is_symlink():
                    links.append((rel, "a symlink (not followed)"))
                elif path.is_file():
                    items.append((str(path), rel, label))
    items.sort(key=lambda item: (item[2], Path(item[1]).parts))
    return items, [display_name(d.name) for d in class_dirs], links


def write_imagefolder(source: str, out: Path, opts: IngestOptions) -> SourceResult:
    root = Path(source)
    if not root.is_dir():
        raise SourceError(f"an image folder must be a directory: {source}")
    items, classes, links = scan(root)
    if links and not opts.skip_bad:
        raise SourceError(
            f"{links[0][0]!r} in {source} is a symlink; datagov does not follow links out of an ingested folder"
            + (f" (and {len(links) - 1} more)" if len(links) > 1 else ""),
            hint="copy the files in, or pass --skip-bad to skip links (they are recorded as rejects)",
        )
    if not items:
        raise SourceError(f"source is empty: {source} holds no image files")
    labelled = bool(classes)
    rejects: list[tuple[str, str]] = list(links)

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
        partial(decode_files, max_pixels=opts.max_pixels),
        chunks,
        len(items),
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
