"""What a training stage needs to know about a dataset version before it
starts torch: its files, its one image shape, its label column."""

from __future__ import annotations

from dataclasses import dataclass, field

from datagov.catalog.db import open_catalog
from datagov.catalog.images import image_shape
from datagov.catalog.locations import locate
from datagov.catalog.versions import Version, resolve, scan_version
from datagov.errors import IntegrityError, InvalidInput
from datagov.pixels.shape import ImageShape
from datagov.sql import sql_ident
from datagov.store import duckdb_connection
from datagov.workspace import Workspace


@dataclass
class ImageInput:
    version: Version
    files: list[str]
    shape: ImageShape
    sha256s: list[str] | None = None  # the manifest's, in the order of `files`
    fingerprints: list = field(default_factory=list)  # stat of each file when resolved (verify.Fingerprint)

    def require_unchanged(self, purpose: str) -> None:
        """Refuse when a file was written after this input was resolved (the
        gate hashed the files in between, so these are the bytes it vouched for)."""
        from datagov.verify import require_unchanged

        require_unchanged(self.version, self.fingerprints, purpose=purpose)


def image_input(ws: Workspace, ref: str) -> ImageInput:
    """Resolve once; the stage then uses this exact digest throughout."""
    with open_catalog(ws) as con:
        version = resolve(con, ref)
        located = locate(ws, con, version.digest, version.dataset)
    from datagov.store.leases import hold_read_lease
    from datagov.verify import Fingerprint

    hold_read_lease(ws, version.digest)  # until this process exits: no purge deletes it under the run
    usable = located.usable(ws.tmp_dir)  # an object store's: a copy verified as downloaded
    files = usable.paths
    try:
        prints = [Fingerprint.of(f) for f in files]
    except OSError as exc:
        raise IntegrityError(
            f"{version.ref} is missing a stored file: {exc.filename}",
            hint=f"see `datagov datasets verify {version.ref}`",
        ) from None
    return ImageInput(version, files, image_shape(ws, version), usable.sha256s, prints)


INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}


def label_counts(ws: Workspace, version: Version, column: str) -> dict[int, tuple[str, int]]:
    """{label: (display name, rows)}; errors when the column is missing,
    not integer class ids, or has nulls."""
    types = {c["name"]: c["type"].upper() for c in version.schema}
    if column not in types:
        raise InvalidInput(
            f"{version.ref} has no label column {column!r} (columns: {', '.join(version.columns)})",
            hint="transfer needs labelled data; set data.label_column, or split without --drop-labels",
        )
    if types[column] not in INTEGER_TYPES:
        raise InvalidInput(f"label column {column!r} of {version.ref} is {types[column]}, not integer class ids")
    name_col = f"{column}_name" if f"{column}_name" in types else None  # e.g. label_name, fine_label_name
    name_sql = f"any_value({sql_ident(name_col)})" if name_col else "NULL"
    con = duckdb_connection()
    try:
        rows = con.execute(
            f"SELECT {sql_ident(column)}, {name_sql}, count(*) FROM {scan_version(ws, version)} GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    if any(label is None for label, _, _ in rows):
        raise InvalidInput(f"label column {column!r} of {version.ref} has missing labels")
    return {int(label): (str(name) if name is not None else str(label), n) for label, name, n in rows}
