"""Datasets and their versions: names, references, registration, queries."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from datagov import faults
from datagov.catalog.db import transaction
from datagov.catalog.locations import IN_PLACE, STORED, locate, location_of, record_location, stored_roots
from datagov.catalog.rows import Cursor, column_list, read, read_one
from datagov.catalog.rows import insert as insert_row
from datagov.catalog.team import who
from datagov.errors import AmbiguousReference, InvalidInput, NotFound
from datagov.store import Manifest, Staged, store_of
from datagov.workspace import Workspace

if TYPE_CHECKING:
    from datagov.catalog.db import Connection

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_HEX = re.compile(r"^[0-9a-f]+$")
SHORT = 12  # digest characters shown to people


def now() -> datetime:
    """The catalog's timestamps: UTC, stored without a zone (DuckDB TIMESTAMP)."""
    return datetime.now(UTC).replace(tzinfo=None)


def utc_iso(ts: datetime) -> str:
    """A catalog timestamp for a document: ISO 8601 with its zone."""
    return ts.replace(tzinfo=UTC).isoformat()


def utc_text(ts: datetime) -> str:
    """A catalog timestamp for a page people read."""
    return f"{ts:%Y-%m-%d %H:%M:%S} UTC"


def check_name(name: str, what: str = "dataset") -> str:
    """Names become folder and file names and SQL values: keep them to a safe alphabet."""
    if not _NAME.match(name) or ".." in name:
        raise InvalidInput(
            f"invalid {what} name {name!r}: use letters, digits, '.', '_' and '-' "
            "(up to 128 characters, starting with a letter or digit, no '..')"
        )
    return name


@dataclass(frozen=True)
class Ref:
    name: str
    digest_prefix: str | None = None

    def __str__(self) -> str:
        return f"{self.name}@{self.digest_prefix}" if self.digest_prefix else self.name


def parse_ref(text: str) -> Ref:
    name, _, prefix = text.partition("@")
    check_name(name)
    if "@" in text:
        prefix = prefix.lower()
        if not _HEX.match(prefix):
            raise InvalidInput(f"invalid digest {prefix!r} in {text!r}: expected hexadecimal characters")
        return Ref(name, prefix)
    return Ref(name)


@dataclass(frozen=True)
class Version:
    dataset: str
    digest: str
    parent_digest: str | None
    rows: int
    bytes: int
    schema: list[dict]
    created: datetime
    status: str
    source: str | None
    format: str | None
    details: dict = field(default_factory=dict)
    created_by: str | None = field(default=None, compare=False)  # who made it (set by the catalog on insert)

    @property
    def short(self) -> str:
        return self.digest[:SHORT]

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.short}"

    @property
    def node_id(self) -> str:
        """The id of this version in lineage edges."""
        return f"{self.dataset}@{self.digest}"

    @property
    def columns(self) -> list[str]:
        return [c["name"] for c in self.schema]


_VERSION_COLS = column_list(Version)
_VERSION_JSON = ("schema", "details")


def _versions(found: Cursor) -> list[Version]:
    return read(found, Version, json_columns=_VERSION_JSON)


@dataclass(frozen=True)
class Dataset:
    """A dataset's own record: what every version of it shares."""

    name: str
    description: str | None
    owner: str | None
    license: str | None
    tags: dict[str, str]
    modality: str
    source: str | None
    label_column: str | None
    created: datetime
    updated: datetime


_DATASET_COLS = column_list(Dataset)


def dataset_row(con: Connection, name: str) -> Dataset | None:
    found = con.execute(f"SELECT {_DATASET_COLS} FROM datasets WHERE name = ?", [name])
    return read_one(found, Dataset, json_columns=["tags"])


def dataset_of(con: Connection, version: Version) -> Dataset:
    """The record of a version's dataset: every version has one (the catalog
    refuses a version without it), so its absence is a damaged catalog."""
    found = dataset_row(con, version.dataset)
    if found is None:
        raise NotFound(f"dataset {version.dataset!r} of {version.ref} has no record in the catalog")
    return found


def dataset_of_digest(con: Connection, digest: str) -> str | None:
    """The first dataset name a digest was registered under."""
    row = con.execute("SELECT dataset FROM versions WHERE digest = ? ORDER BY created LIMIT 1", [digest]).fetchone()
    return row[0] if row else None


def replace_rejects(con: Connection, dataset: str, digest: str, stage: str, rejects: list[tuple[str, str]]) -> None:
    """A stage's rejects of a version, recorded once (a rerun replaces them)."""
    con.execute("DELETE FROM rejects WHERE dataset = ? AND digest = ? AND stage = ?", [dataset, digest, stage])
    con.executemany(
        "INSERT INTO rejects (dataset, digest, stage, item, reason, created, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [[dataset, digest, stage, item, reason, now(), who(con)] for item, reason in rejects],
    )


def scan_version(ws: Workspace, version: Version, options: str = "") -> str:
    """The DuckDB FROM clause reading exactly one version's manifest files
    (a verified local copy of them, for a version in an object store)."""
    from datagov.catalog.db import open_catalog

    with open_catalog(ws) as con:
        files = locate(ws, con, version.digest, version.dataset)
    return files.usable(ws.tmp_dir).scan(options)


@dataclass(frozen=True)
class DatasetSummary:
    """A dataset with its newest version, as `datasets list` shows it."""

    name: str
    modality: str
    owner: str | None
    license: str | None
    tags: dict[str, str]
    versions: int
    latest: str | None
    rows: int | None
    bytes: int | None
    updated: datetime | None


RETIRED = "retired"  # a version's status once retired: kept, out of name resolution and new training
_ACTIVE = f"status <> '{RETIRED}'"


def list_datasets(con: Connection, *, include_retired: bool = False) -> list[DatasetSummary]:
    """Datasets with their newest version; retired versions (and datasets
    with nothing else) only with `include_retired`."""
    active = "true" if include_retired else _ACTIVE
    found = con.execute(
        f"""
        WITH ranked AS (
            SELECT dataset, digest, rows, bytes, created, count(*) OVER (PARTITION BY dataset) AS n,
                   row_number() OVER (PARTITION BY dataset ORDER BY created DESC, digest) AS newest
            FROM versions WHERE {active}
        )
        SELECT d.name, d.modality, d.owner, d.license, d.tags, coalesce(v.n, 0) AS versions,
               v.digest AS latest, v.rows, v.bytes, v.created AS updated
        FROM datasets d LEFT JOIN ranked v ON v.dataset = d.name AND v.newest = 1
        WHERE v.dataset IS NOT NULL OR ? OR NOT EXISTS (SELECT 1 FROM versions x WHERE x.dataset = d.name)
        ORDER BY d.name
        """,
        [include_retired],
    )
    return read(found, DatasetSummary, json_columns=["tags"])


def retired_only(con: Connection) -> int:
    """How many datasets have versions, all of them retired (what `list_datasets` leaves out)."""
    row = con.execute(
        "SELECT count(*) FROM datasets d WHERE EXISTS (SELECT 1 FROM versions v WHERE v.dataset = d.name) "
        f"AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.dataset = d.name AND {_ACTIVE})"
    ).fetchone()
    return int(row[0]) if row else 0


def version_history(con: Connection, name: str) -> list[Version]:
    """Every version of a dataset, retired ones included, newest first."""
    check_name(name)
    if dataset_row(con, name) is None:
        raise NotFound(f"unknown dataset {name!r}", hint="see `datagov datasets list`")
    return _versions(
        con.execute(f"SELECT {_VERSION_COLS} FROM versions WHERE dataset = ? ORDER BY created DESC, digest", [name])
    )


def all_versions(con: Connection) -> list[Version]:
    """Every version of every dataset, retired ones included: by dataset, newest first."""
    return _versions(con.execute(f"SELECT {_VERSION_COLS} FROM versions ORDER BY dataset, created DESC, digest"))


def latest(con: Connection, name: str, *, include_retired: bool = False) -> Version | None:
    """The newest version `NAME` names: retired versions are out of name resolution."""
    active = "true" if include_retired else _ACTIVE
    found = con.execute(
        f"SELECT {_VERSION_COLS} FROM versions WHERE dataset = ? AND {active} ORDER BY created DESC LIMIT 1", [name]
    )
    return read_one(found, Version, json_columns=_VERSION_JSON)


def resolve(con: Connection, ref: str | Ref) -> Version:
    """`NAME` is the newest version; `NAME@PREFIX` the one whose digest starts so."""
    ref = parse_ref(ref) if isinstance(ref, str) else ref
    if dataset_row(con, ref.name) is None:
        raise NotFound(f"unknown dataset {ref.name!r}", hint="see `datagov datasets list`")
    if ref.digest_prefix is None:
        found = latest(con, ref.name)
        if found is None:
            newest = latest(con, ref.name, include_retired=True)
            if newest is not None:
                raise NotFound(
                    f"every version of {ref.name!r} is retired (the newest is {newest.ref})",
                    hint=f"name a digest to read a retired version ({newest.ref}); "
                    f"see `datagov datasets history {ref.name} --all`",
                )
            raise NotFound(f"dataset {ref.name!r} has no versions")
        return found
    rows = _versions(
        con.execute(
            f"SELECT {_VERSION_COLS} FROM versions WHERE dataset = ? AND starts_with(digest, ?) ORDER BY created DESC",
            [ref.name, ref.digest_prefix],
        )
    )
    if not rows:
        raise NotFound(
            f"dataset {ref.name!r} has no version with digest {ref.digest_prefix}…",
            hint=f"see `datagov datasets history {ref.name}`",
        )
    if len(rows) > 1:
        shown = ", ".join(r.short for r in rows[:5])
        raise AmbiguousReference(
            f"digest prefix {ref.digest_prefix!r} matches {len(rows)} versions of {ref.name!r} ({shown}); "
            "give more characters"
        )
    return rows[0]


def find_version(con: Connection, node: str) -> Version | None:
    """A version by its node id (`name@digest`), or None for one deleted since (lineage still names it)."""
    try:
        return resolve(con, node)
    except NotFound:
        return None


@dataclass(frozen=True)
class Reject:
    """A row or file a stage left out, and why (nothing is dropped silently)."""

    stage: str
    item: str
    reason: str


def rejects_of(con: Connection, name: str, digest: str) -> list[Reject]:
    """A version's rejects, by stage, in natural order (row 9 before row 10)."""
    rows = con.execute(
        "SELECT stage, item, reason FROM rejects WHERE dataset = ? AND digest = ?", [name, digest]
    ).fetchall()
    return [Reject(*row) for row in sorted(rows, key=lambda r: (r[0], _natural(r[1])))]


def _natural(text: str) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


@dataclass
class NewVersion:
    """Everything needed to register one version in one transaction."""

    name: str
    manifest: Manifest
    staged: Staged | None  # None for files registered in place (`location`)
    modality: str
    source: str
    format: str
    label_column: str | None = None
    owner: str | None = None
    license: str | None = None
    description: str | None = None
    tags: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    rejects: list[tuple[str, str]] = field(default_factory=list)  # (item, reason)
    stage: str = "ingest"
    # lineage edges into this version: (src_kind, src_id, relation, params)
    inputs: list[tuple[str, str, str, dict]] = field(default_factory=list)
    location: str | None = None  # the root of files registered in place
    layout: str = "parquet"  # how files registered in place are read (parquet | webdataset)
    # this content is already a stored version of `name` whose store copy is damaged or gone
    # (`verify.damaged_stored_copy`, hashed before the lock): the staged files replace it
    restore: bool = False


@dataclass(frozen=True)
class Registered:
    version: Version
    created: bool  # False when this content was already a version of this dataset
    previous: Version | None
    restored: bool = False  # the store's damaged or lost copy was replaced by this ingest's files


def _upsert_dataset(con: Connection, nv: NewVersion, at: datetime) -> None:
    existing = dataset_row(con, nv.name)
    if existing is None:
        record = Dataset(nv.name, nv.description, nv.owner, nv.license, nv.tags, nv.modality, nv.source,
                         nv.label_column, at, at)  # fmt: skip
        insert_row(con, "datasets", record, json_columns=["tags"])
        return
    if existing.modality != nv.modality:
        raise InvalidInput(
            f"dataset {nv.name!r} holds {existing.modality} data; this source is {nv.modality}",
            hint="ingest it under another name",
        )
    # Metadata given now replaces what was there; what is not given is kept.
    tags = {**existing.tags, **nv.tags}
    con.execute(
        """UPDATE datasets SET description = coalesce(?, description), owner = coalesce(?, owner),
           license = coalesce(?, license), tags = ?, source = ?,
           label_column = coalesce(?, label_column), updated = ? WHERE name = ?""",
        [nv.description, nv.owner, nv.license, json.dumps(tags), nv.source, nv.label_column, at, nv.name],
    )


def register(ws: Workspace, con: Connection, nv: NewVersion) -> Registered:
    """Publish the staged files and record the version, all or nothing.

    Call with the catalog lock held (inside `open_catalog(ws, write=True)`).
    """
    check_name(nv.name)
    digest = nv.manifest.digest
    previous = latest(con, nv.name, include_retired=True)  # history runs through retired versions too
    exists = con.execute(
        "SELECT count(*) FROM versions WHERE dataset = ? AND digest = ?", [nv.name, digest]
    ).fetchone() != (0,)
    at = now()
    if exists:
        _refuse_retired(con, nv.name, digest)
        with transaction(con):
            _upsert_dataset(con, nv, at)
            if nv.location is not None and _in_place(con, digest, nv.name):
                record_location(con, digest, nv.name, nv.location, IN_PLACE, nv.layout)  # moved: verify it there
            restored = nv.restore and nv.staged is not None
            if nv.restore and nv.staged is not None:
                _restore(ws, con, nv.staged)  # the same content again: it replaces a damaged or lost copy
        if nv.staged is not None and not nv.staged.published:
            store_of(ws).discard(nv.staged)  # an object store's upload of bytes already held
        return Registered(resolve(con, Ref(nv.name, digest)), False, previous, restored)
    store = store_of(ws)
    held = stored_roots(con, digest)  # the store already holds these bytes (in place elsewhere does not count)
    try:
        with transaction(con):
            _upsert_dataset(con, nv, at)
            parent = previous.digest if previous else None
            m = nv.manifest
            record = Version(nv.name, digest, parent, m.rows, m.bytes, m.schema, at, "ready", nv.source, nv.format,
                             nv.details)  # fmt: skip
            insert_row(con, "versions", record, json_columns=_VERSION_JSON)
            con.executemany(
                "INSERT INTO files (digest, path, sha256, rows, bytes, etag) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [[digest, f.path, f.sha256, f.rows, f.bytes, f.etag] for f in nv.manifest.files],
            )
            if nv.rejects:
                con.executemany(
                    "INSERT INTO rejects (dataset, digest, stage, item, reason, created, created_by) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [[nv.name, digest, nv.stage, item, reason, at, who(con)] for item, reason in nv.rejects],
                )
            node = f"{nv.name}@{digest}"
            if previous:
                add_edge(con, "version", previous.node_id, "version", node, "next-version", at=at)
            for kind, src, relation, params in nv.inputs:
                add_edge(con, kind, src, "version", node, relation, params=params, at=at)
            if nv.location is not None:
                record_location(con, digest, nv.name, nv.location, IN_PLACE, nv.layout)
            elif nv.staged is not None:
                # Publishing is the last step before COMMIT: a failure before
                # it rolls back the rows, a kill after it leaves an
                # unreferenced folder or prefix that the sweep removes.
                root = store.publish(nv.staged, referenced=bool(held))
                root = root if root is not None else next((r for r in held if r), None)
                if root is not None:
                    record_location(con, digest, nv.name, root, STORED)
            faults.point("register:published")
    except BaseException:
        if nv.staged is not None:
            store.discard(nv.staged)
        raise
    return Registered(resolve(con, Ref(nv.name, digest)), True, previous)


def _refuse_retired(con: Connection, name: str, digest: str) -> None:
    """The same content again does not bring a retired version back."""
    found = resolve(con, Ref(name, digest))
    if found.status == RETIRED:
        raise InvalidInput(
            f"this content is {found.ref}, which is retired; a retired version is not brought back",
            hint=f"see `datagov datasets history {name} --all`; ingest it under another name if it is wanted again",
        )


def _restore(ws: Workspace, con: Connection, staged: Staged) -> None:
    """Put freshly written files of a version (the same digest, so the same
    bytes) where the damaged copy was; every stored version of them reads the new copy."""
    root = store_of(ws).publish(staged, referenced=False)  # not referenced: the damaged copy is replaced
    if root is not None:
        con.execute("UPDATE locations SET root = ? WHERE digest = ? AND mode = ?", [root, staged.digest, STORED])


def _in_place(con: Connection, digest: str, dataset: str) -> bool:
    found = location_of(con, digest, dataset)
    return found is not None and found[1] == IN_PLACE


def add_edge(
    con: Connection,
    src_kind: str,
    src_id: str,
    dst_kind: str,
    dst_id: str,
    relation: str,
    *,
    run_id: str | None = None,
    params: dict | None = None,
    at: datetime | None = None,
) -> None:
    con.execute(
        "INSERT INTO lineage (src_kind, src_id, dst_kind, dst_id, relation, run_id, params, created, created_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [src_kind, src_id, dst_kind, dst_id, relation, run_id, json.dumps(params or {}), at or now(), who(con)],
    )
