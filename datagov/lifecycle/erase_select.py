"""Which rows an erasure removes, and from which versions.

An item is identified by a key: the pixel hash for images (equal for equal
pixels, whatever the encoding), a key column's value for tables. The
request selects items by source path (glob over the `path` column), by a
file of keys, or by example images (`--like`), found through the
near-duplicate search at `datagov dedup`'s defaults, so re-encoded,
resized and brightened copies are found too. Every key selected anywhere
is then removed from every version searched: an exact copy in a split
child goes with the original.

Versions searched: those of the named datasets and every version derived
from them (splits, derivations), transitively, retired ones included; or
every version in the catalog.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datagov.catalog.db import open_catalog
from datagov.catalog.locations import locate
from datagov.catalog.versions import Version, all_versions, check_name, dataset_of, dataset_row
from datagov.errors import InvalidInput, NotFound
from datagov.near.images import ImageMethod, ImageRows
from datagov.sql import key_table, sql_ident
from datagov.store import VersionFiles, duckdb_connection, scan_memory
from datagov.store.leases import hold_read_lease
from datagov.verify import Intact, require_intact
from datagov.workspace import Workspace

IMAGE_KEY = "pixel_hash"
MAX_KEYS_FILE = 64 << 20  # a keys file larger than this is refused (64 MiB of keys)
SHOWN_SIMILAR = 200  # similar copies kept per version in the plan


@dataclass
class Selector:
    """What the request names; at least one of like, paths, keys_file."""

    like: list[str] = field(default_factory=list)
    paths: str | None = None
    keys_file: str | None = None
    key_column: str | None = None
    datasets: list[str] = field(default_factory=list)
    all_matching: bool = False
    min_similarity: float | None = None  # --like: None is `datagov dedup`'s default

    @property
    def method(self) -> ImageMethod:
        """How --like finds copies: the near-duplicate defaults, or a stricter similarity the steward chose."""
        if self.min_similarity is None:
            return ImageMethod()
        return ImageMethod(min_similarity=self.min_similarity).check()

    def check(self) -> Selector:
        if not (self.like or self.paths or self.keys_file):
            raise InvalidInput("name the items to erase: --like IMAGE..., --paths GLOB or --keys FILE")
        if self.min_similarity is not None and not self.like:
            raise InvalidInput("--min-similarity applies to --like: copies found by similarity")
        self.method  # noqa: B018  (an out-of-range threshold is refused before anything is read)
        if self.paths is not None and not self.paths.strip():
            raise InvalidInput("--paths needs a glob, e.g. 'photos/alice/*'")
        for name in self.datasets:
            check_name(name)
        if self.key_column is not None:
            check_name(self.key_column, "column")
        return self


@dataclass
class Example:
    """An example image of `--like`: its key and fingerprints (the image itself is never stored)."""

    name: str
    sha256: str
    key: str


@dataclass
class VersionHits:
    version: Version
    key_column: str
    intact: Intact
    total: int  # rows in the version
    selected: set[str] = field(default_factory=set)  # keys this version's rows matched directly
    similar: list[dict] = field(default_factory=list)  # the most alike copies (SHOWN_SIMILAR): {path, like, ...}
    copies: int = 0  # rows found by similarity that are not pixel for pixel an example
    removed: int = 0  # rows whose key is among all selected keys (set by `count_removed`)
    path_matches: int = 0  # rows the --paths glob matched
    in_place: bool = False  # registered where its user keeps it: datagov never deletes those files


@dataclass
class Selection:
    selector: Selector
    searched: list[VersionHits]
    keys: set[str]
    examples: list[Example] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # versions without the key column

    @property
    def affected(self) -> list[VersionHits]:
        return [h for h in self.searched if h.removed]

    def document(self) -> dict:
        """The selector as recorded: never the example images, only their hashes."""
        s = self.selector
        doc: dict = {"datasets": s.datasets, "all_matching": s.all_matching}
        if s.paths:
            doc["paths"] = s.paths
        if s.keys_file:
            doc["keys_file"] = {"name": Path(s.keys_file).name, "sha256": _sha256(Path(s.keys_file))}
        if s.key_column:
            doc["key_column"] = s.key_column
        if self.examples:
            doc["like"] = [{"name": e.name, "sha256": e.sha256, "key": e.key} for e in self.examples]
            doc["like_method"] = s.method.settings()
        return doc


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def scope(ws: Workspace, datasets: list[str]) -> list[Version]:
    """The versions to search: the named datasets' and everything derived from them."""
    from datagov.catalog.lineage import child_versions

    with open_catalog(ws) as con:
        every = all_versions(con)
        if not datasets:
            return sorted(every, key=lambda v: (v.created, v.dataset))
        for name in datasets:
            if dataset_row(con, name) is None:
                raise NotFound(f"unknown dataset {name!r}", hint="see `datagov datasets list --all`")
        by_node = {v.node_id: v for v in every}
        pending = [v.node_id for v in every if v.dataset in datasets]
        seen: set[str] = set()
        while pending:
            node = pending.pop()
            if node in seen:
                continue
            seen.add(node)
            pending += child_versions(con, node)
    # oldest first: a version is searched after the versions it was split from
    return sorted((by_node[n] for n in seen if n in by_node), key=lambda v: (v.created, v.dataset))


def load_examples(ws: Workspace, files: list[str]) -> tuple[list[Example], ImageRows]:
    """Decode the example images as ingest would and fingerprint them."""
    from datagov.pixels.codec import BadImage, decode, pixel_features
    from datagov.pixels.fingerprints import hash_thumbs, thumbs_array

    examples, thumbs, heights, widths = [], [], [], []
    for name in files:
        path = Path(name)
        if not path.is_file():
            raise InvalidInput(f"--like {name}: {_not_a_file(path)}")
        data = path.read_bytes()
        try:
            pixels = decode(data, ws.max_image_pixels)[0]
        except BadImage as exc:
            raise InvalidInput(f"--like {name} is not an image datagov can read: {exc}") from None
        height, width, *_, key, thumb = pixel_features(pixels)
        examples.append(Example(path.name, hashlib.sha256(data).hexdigest(), key))
        thumbs.append(thumb)
        heights.append(height)
        widths.append(width)
    grid = thumbs_array(thumbs)
    phash, dhash = hash_thumbs(grid)
    rows = ImageRows(phash, dhash, grid.astype(np.uint8), np.array(heights, np.int64), np.array(widths, np.int64))
    return examples, rows


def _not_a_file(path: Path) -> str:
    return "not a regular file" if path.exists() else "no such file"


def read_keys(selector: Selector) -> set[str]:
    if not selector.keys_file:
        return set()
    path = Path(selector.keys_file)
    if not path.is_file():
        raise InvalidInput(f"--keys {selector.keys_file}: {_not_a_file(path)}")
    if path.stat().st_size > MAX_KEYS_FILE:
        raise InvalidInput(f"--keys {selector.keys_file} is over {MAX_KEYS_FILE >> 20} MiB; split the request")
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise InvalidInput(f"--keys {selector.keys_file} is not text: one key per line") from None
    keys = {line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")}
    if not keys:
        raise InvalidInput(f"--keys {selector.keys_file} names no keys (one per line; '#' starts a comment)")
    return keys


def key_column_of(version: Version, modality: str, selector: Selector) -> str | None:
    """How this version's items are keyed: pixel hashes for images, else the
    key column (or `path`, for a request by path only); None: not searchable."""
    if modality == "image" and IMAGE_KEY in version.columns:
        return IMAGE_KEY
    wanted = selector.key_column or ("path" if selector.paths and not selector.keys_file else None)
    return wanted if wanted and wanted in version.columns else None


@dataclass
class _Facts:
    """What the catalog says of a version to search, read once for all of them."""

    modality: str
    files: VersionFiles
    split_of: set[str]  # the versions it was split from (its rows are a subset of theirs)


def _facts(ws: Workspace, versions: list[Version]) -> dict[str, _Facts]:
    from datagov.catalog.lineage import edges_at
    from datagov.lineage import HISTORY

    out = {}
    with open_catalog(ws) as con:
        for v in versions:
            edges = edges_at(con, ("version", v.node_id), "up", skip_relation=HISTORY)
            parents = {src for kind, src, _, _, relation, _ in edges if kind == "version" and relation == "split"}
            out[v.node_id] = _Facts(dataset_of(con, v).modality, locate(ws, con, v.digest, v.dataset), parents)
    return out


def select(ws: Workspace, selector: Selector, on_version=None) -> Selection:
    """Search every version in scope; then count, in each, the rows of every selected key."""
    selector.check()
    keys_wanted = read_keys(selector)
    examples, queries = load_examples(ws, selector.like) if selector.like else ([], None)
    if queries is not None:
        _warm_kernels()
    selection = Selection(selector, [], set(), examples)
    versions = scope(ws, selector.datasets)
    facts = _facts(ws, versions)
    keyed = {}
    for version in versions:
        key_column = key_column_of(version, facts[version.node_id].modality, selector)
        if key_column is None:
            selection.skipped.append(version.ref)
        else:
            keyed[version.node_id] = key_column
    searchable = [v for v in versions if v.node_id in keyed]
    intact = _verify_all(ws, searchable, facts)
    compared: set[str] = set()  # versions whose rows were compared with the examples
    duck = duckdb_connection(memory_limit=scan_memory())
    try:
        if keys_wanted:
            key_table(duck, "erase_wanted", sorted(keys_wanted))  # once, for every version searched
        for version in searchable:
            known = facts[version.node_id]
            if on_version:
                on_version(version)
            hits = VersionHits(version, keyed[version.node_id], intact[version.node_id], version.rows,
                               in_place=known.files.in_place)  # fmt: skip
            # A split holds some of its parent's rows, pixel for pixel: the parent's
            # matches are its matches, found by key; comparing them again finds nothing new.
            like = None if queries is None or known.split_of & compared else queries
            _search(ws, duck, hits, selector, keys_wanted, like, examples)
            if like is not None:
                compared.add(version.node_id)
            selection.searched.append(hits)
        if selector.datasets and not selection.searched:
            raise InvalidInput(
                f"no version of {', '.join(selector.datasets)} can be searched: tables need --key-column "
                "(a column naming each row) or a `path` column for --paths"
            )
        selection.keys = set().union(*(h.selected for h in selection.searched)) if selection.searched else set()
        _refuse_everything(selection)
        count_removed(selection.searched, selection.keys, duck)
    finally:
        duck.close()
    return selection


def _warm_kernels() -> None:
    """Load the compiled search kernels (numba and its cache: ~0.4 s) on a
    thread while this one reads the catalog and hashes files, which release
    the GIL; a search that gets there first waits on the same import lock."""
    import threading

    def warm() -> None:
        from datagov.near.images import ImageMethod, ImageRows, match_examples

        tiny = ImageRows(*(np.zeros(1, np.uint64),) * 2, np.zeros((1, 16, 16), np.uint8), *(np.ones(1, np.int64),) * 2)
        match_examples(tiny, tiny, ImageMethod())

    threading.Thread(target=warm, daemon=True).start()


def _verify_all(ws: Workspace, versions: list[Version], facts: dict[str, _Facts]) -> dict[str, Intact]:
    """Hold a read lease on each version, then hash every file of them all,
    a few versions at once (hashing releases the GIL)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    for v in versions:
        hold_read_lease(ws, v.digest)

    def verify(v: Version) -> Intact:
        return require_intact(ws, v, facts[v.node_id].files, purpose="erase items from it")

    with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        return {v.node_id: intact for v, intact in zip(versions, pool.map(verify, versions), strict=True)}


def _search(
    ws: Workspace, duck, hits: VersionHits, selector: Selector, keys: set[str], queries, examples: list[Example]
) -> None:  # fmt: skip
    key = sql_ident(hits.key_column)
    source = hits.intact.files.scan()
    if selector.paths and "path" in hits.version.columns:
        found = duck.execute(
            f"SELECT {key}, count(*) OVER () FROM {source} WHERE path GLOB ? AND {key} IS NOT NULL",
            [selector.paths],
        ).fetchall()
        hits.selected |= {str(r[0]) for r in found}
        hits.path_matches = int(found[0][1]) if found else 0
    if keys:  # their table is `erase_wanted`, made by `select`
        found = duck.execute(
            f"SELECT DISTINCT CAST({key} AS VARCHAR) FROM {source} WHERE CAST({key} AS VARCHAR) IN "
            "(SELECT key FROM erase_wanted)"
        ).fetchall()
        hits.selected |= {r[0] for r in found}
    if queries is not None and hits.key_column == IMAGE_KEY:
        _search_like(ws, hits, duck, source, queries, examples, selector.method)


def _fingerprinted(ws: Workspace, hits: VersionHits) -> tuple[ImageRows, list, list]:
    from datagov.near.rows import read_rows

    found = read_rows(ws, hits.version, hits.intact.files, modality="image", label_column=None, text_columns=[])
    assert found.images is not None and found.keys is not None
    return found.images, list(found.keys), found.names or [None] * found.rows


def _search_like(
    ws: Workspace, hits: VersionHits, duck, source: str, queries: ImageRows, examples: list[Example],
    method: ImageMethod,
) -> None:  # fmt: skip
    from datagov.near.images import match_examples
    from datagov.near.rows import image_rows_of

    columns = ["phash", "dhash", "thumb", "height", "width", IMAGE_KEY]
    if all(c in hits.version.columns for c in columns):
        path = "path" if "path" in hits.version.columns else "NULL"
        table = duck.sql(f"SELECT {', '.join(columns)}, {path} AS path FROM {source}").to_arrow_table()
        rows = image_rows_of(table)
        row_keys, names = table.column(IMAGE_KEY).to_pylist(), table.column("path").to_pylist()
    else:  # ingested before the fingerprint columns: the near-duplicate search's digest-checked cache
        rows, row_keys, names = _fingerprinted(ws, hits)
    found = match_examples(rows, queries, method)  # ref: the version's rows; target: the examples
    if not len(found):
        return
    exact = {e.key for e in examples}  # an example's own pixels: the item itself, not a copy of it
    hits.selected |= {row_keys[int(r)] for r in found.ref}
    hits.copies = len({int(r) for r in found.ref if row_keys[int(r)] not in exact})
    for i in np.argsort(-found.similarity, kind="stable"):
        row, query = int(found.ref[i]), int(found.target[i])
        if row_keys[row] in exact:
            continue
        hits.similar.append({
            "path": names[row], "key": row_keys[row], "like": examples[query].name,
            "similarity": round(float(found.similarity[i]), 4), "distance": int(found.distance[i]),
        })  # fmt: skip
        if len(hits.similar) == SHOWN_SIMILAR:
            break


def count_removed(searched: list[VersionHits], keys: set[str], duck=None) -> None:
    """Set each version's `removed`: its rows whose key is selected, all
    versions in one query (DuckDB scans them side by side)."""
    for hits in searched:
        hits.removed = 0
    if not keys or not searched:
        return
    own = duck is None
    duck = duck or duckdb_connection(memory_limit=scan_memory())
    try:
        key_table(duck, "erase_keys", sorted(keys))
        counts = " UNION ALL ".join(
            f"SELECT {i}, count(*) FROM {hits.intact.files.scan()} "
            f"WHERE CAST({sql_ident(hits.key_column)} AS VARCHAR) IN (SELECT key FROM erase_keys)"
            for i, hits in enumerate(searched)
        )
        for i, removed in duck.execute(counts).fetchall():
            searched[i].removed = int(removed)
    finally:
        if own:
            duck.close()


def _refuse_everything(selection: Selection) -> None:
    s = selection.selector
    if not selection.keys:
        searched = len(selection.searched)
        raise InvalidInput(
            f"no item matched in {searched} version(s) searched"
            + (f" of {', '.join(s.datasets)}" if s.datasets else ""),
            hint="check the glob, the keys file or the example images; "
            "`datagov datasets show NAME` lists a version's files",
        )
    if s.paths and not s.all_matching:
        whole = [h for h in selection.searched if h.total and h.path_matches == h.total]
        if whole and len(whole) == len([h for h in selection.searched if "path" in h.version.columns]):
            raise InvalidInput(
                f"--paths {s.paths!r} matches every row of every version searched",
                hint="narrow the glob, or pass --all-matching if that is really what is asked",
            )
