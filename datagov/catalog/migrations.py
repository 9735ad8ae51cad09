"""Numbered schema migrations. Append; never edit one that has shipped.

The same SQL runs on the DuckDB file and on PostgreSQL (`DOUBLE` is spelled
`DOUBLE PRECISION` there); what only PostgreSQL can enforce (identity
stamps, four-eyes, append-only records) is in `catalog/team.py`.

Foreign keys are enforced in code rather than by DuckDB, whose foreign keys
forbid updating referenced rows.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from datagov.errors import DatagovError

if TYPE_CHECKING:
    from datagov.catalog.db import Connection

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "datasets, versions, files, rejects, lineage",
        """
        CREATE TABLE datasets (
            name VARCHAR PRIMARY KEY,
            description VARCHAR,
            owner VARCHAR,
            license VARCHAR,
            tags JSON,
            modality VARCHAR NOT NULL,
            source VARCHAR,
            label_column VARCHAR,
            created TIMESTAMP NOT NULL,
            updated TIMESTAMP NOT NULL
        );
        -- A version is a dataset name bound to a content digest; identical
        -- content under two names shares one digest and one stored copy.
        CREATE TABLE versions (
            dataset VARCHAR NOT NULL,
            digest VARCHAR NOT NULL,
            parent_digest VARCHAR,
            rows BIGINT NOT NULL,
            bytes BIGINT NOT NULL,
            schema JSON NOT NULL,
            created TIMESTAMP NOT NULL,
            status VARCHAR NOT NULL,
            source VARCHAR,
            format VARCHAR,
            details JSON,
            PRIMARY KEY (dataset, digest)
        );
        CREATE TABLE files (
            digest VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL,
            rows BIGINT NOT NULL,
            bytes BIGINT NOT NULL,
            PRIMARY KEY (digest, path)
        );
        -- Whatever ingest or split left out, and why (nothing is dropped silently).
        CREATE TABLE rejects (
            dataset VARCHAR NOT NULL,
            digest VARCHAR NOT NULL,
            stage VARCHAR NOT NULL,
            item VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            created TIMESTAMP NOT NULL
        );
        CREATE TABLE lineage (
            src_kind VARCHAR NOT NULL,
            src_id VARCHAR NOT NULL,
            dst_kind VARCHAR NOT NULL,
            dst_id VARCHAR NOT NULL,
            relation VARCHAR NOT NULL,
            run_id VARCHAR,
            params JSON,
            created TIMESTAMP NOT NULL,
            PRIMARY KEY (src_kind, src_id, dst_kind, dst_id, relation)
        );
        """,
    ),
    (
        2,
        "receipts",
        """
        -- One row per suite run against one version: the gate trusts these
        -- only when the suite file still has suite_digest.
        CREATE TABLE receipts (
            id VARCHAR PRIMARY KEY,
            dataset VARCHAR NOT NULL,
            digest VARCHAR NOT NULL,
            suite VARCHAR NOT NULL,
            suite_digest VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,            -- quality | match
            success BOOLEAN NOT NULL,
            status VARCHAR NOT NULL,          -- passed | failed | error
            evaluated INTEGER NOT NULL,
            successful INTEGER NOT NULL,
            results JSON NOT NULL,
            gx_version VARCHAR NOT NULL,
            started TIMESTAMP NOT NULL,
            duration DOUBLE NOT NULL,
            report VARCHAR,
            reference_digest VARCHAR          -- match receipts: the reference version
        );
        """,
    ),
    (
        3,
        "runs, waivers",
        """
        CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,       -- the MLflow run id
            stage VARCHAR NOT NULL,           -- pretrain | transfer
            pipeline VARCHAR NOT NULL,        -- the spec file
            experiment VARCHAR NOT NULL,
            dataset VARCHAR NOT NULL,
            digest VARCHAR NOT NULL,
            gate JSON NOT NULL,               -- the gate decision the run started under
            waiver_id VARCHAR,
            status VARCHAR NOT NULL,          -- running | finished | failed
            model_name VARCHAR,
            model_version VARCHAR,
            metrics JSON,
            started TIMESTAMP NOT NULL,
            ended TIMESTAMP
        );
        -- The only way past a refusing gate; always recorded with its reason.
        CREATE TABLE waivers (
            id VARCHAR PRIMARY KEY,
            target VARCHAR NOT NULL,          -- the version node (name@digest)
            stage VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            who VARCHAR NOT NULL,
            refused JSON NOT NULL,            -- what the gate said
            created TIMESTAMP NOT NULL,
            expires TIMESTAMP,
            run_id VARCHAR
        );
        """,
    ),
    (
        4,
        "drift_reports",
        """
        -- One row per `datagov shift`: the verdict and where its JSON and HTML are.
        CREATE TABLE drift_reports (
            id VARCHAR PRIMARY KEY,
            reference VARCHAR NOT NULL,       -- name@digest
            reference_digest VARCHAR NOT NULL,
            target VARCHAR NOT NULL,
            target_digest VARCHAR NOT NULL,
            drift BOOLEAN NOT NULL,
            share DOUBLE NOT NULL,            -- of tested columns drifting
            mode VARCHAR NOT NULL,            -- tests | distances
            encoder VARCHAR,                  -- the pinned model URI, when embeddings were compared
            embedding_drift BOOLEAN,
            recommendation VARCHAR,
            summary JSON NOT NULL,
            report VARCHAR NOT NULL,          -- HTML, relative to the workspace
            data VARCHAR NOT NULL,            -- JSON, relative to the workspace
            created TIMESTAMP NOT NULL,
            duration DOUBLE NOT NULL
        );
        """,
    ),
    (
        5,
        "audits, audit_results, promotions",
        """
        -- An audit row is written 'running' first and finished in one
        -- transaction with its results; a killed audit stays 'running' until
        -- the next one marks it 'interrupted'. Never 'passed' unless it ended.
        CREATE TABLE audits (
            id VARCHAR PRIMARY KEY,
            scope VARCHAR,                    -- a dataset name, or NULL for everything
            status VARCHAR NOT NULL,          -- running | passed | failed | interrupted
            pid INTEGER NOT NULL,
            host VARCHAR NOT NULL,
            versions INTEGER,
            failed INTEGER,
            summary JSON,
            report VARCHAR,
            started TIMESTAMP NOT NULL,
            ended TIMESTAMP
        );
        CREATE TABLE audit_results (
            audit_id VARCHAR NOT NULL,
            version VARCHAR NOT NULL,         -- name@digest
            digest VARCHAR NOT NULL,
            status VARCHAR NOT NULL,          -- passed | failed
            findings JSON NOT NULL,           -- [{check, severity, item, message}]
            profile JSON,                     -- compared by the next audit
            receipts JSON,                    -- receipts this audit wrote
            models JSON,                      -- model versions it fed
            PRIMARY KEY (audit_id, version)
        );
        CREATE TABLE promotions (
            id VARCHAR PRIMARY KEY,
            model_name VARCHAR NOT NULL,
            model_version VARCHAR NOT NULL,
            alias VARCHAR NOT NULL,
            previous_version VARCHAR,         -- where the alias pointed before
            decision JSON NOT NULL,
            waiver_id VARCHAR,
            who VARCHAR NOT NULL,
            created TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        6,
        "caches, model_artifacts, runs.pid/host",
        """
        -- Derived files (decoded pixels) carry their own digest: checked
        -- before every use, rebuilt from verified bytes when they differ.
        CREATE TABLE caches (
            digest VARCHAR NOT NULL,          -- the version it was derived from
            name VARCHAR NOT NULL,            -- file name under cache/<digest>/
            sha256 VARCHAR NOT NULL,
            bytes BIGINT NOT NULL,
            created TIMESTAMP NOT NULL,
            PRIMARY KEY (digest, name)
        );
        -- Every registered model's weight file: safetensors, hashed at
        -- registration and checked before every load; the architecture is
        -- read from here, never from the artifact.
        CREATE TABLE model_artifacts (
            model_name VARCHAR NOT NULL,
            model_version VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            artifact VARCHAR NOT NULL,        -- path inside the run's artifacts
            sha256 VARCHAR NOT NULL,
            bytes BIGINT NOT NULL,
            arch JSON NOT NULL,
            created TIMESTAMP NOT NULL,
            PRIMARY KEY (model_name, model_version)
        );
        ALTER TABLE runs ADD COLUMN pid INTEGER;
        ALTER TABLE runs ADD COLUMN host VARCHAR;
        """,
    ),
    (
        7,
        "locations, files.etag",
        """
        -- Where a version's files are when not catalog/store/<digest>/: a
        -- prefix of an object store, or shards registered in place.
        CREATE TABLE locations (
            digest VARCHAR PRIMARY KEY,
            root VARCHAR NOT NULL,            -- a local folder or an s3:// URL
            mode VARCHAR NOT NULL,            -- stored | in-place
            created TIMESTAMP NOT NULL
        );
        -- An object store's ETag when the object was hashed (quick checks).
        ALTER TABLE files ADD COLUMN etag VARCHAR;
        """,
    ),
    (
        8,
        "locations.layout",
        """
        -- How the files at a location are read: Parquet as they are, or
        -- WebDataset tar shards registered in place (rendered when used).
        ALTER TABLE locations ADD COLUMN layout VARCHAR DEFAULT 'parquet';
        """,
    ),
    (
        9,
        "receipts.engine",
        """
        -- Which engine evaluated a suite: duckdb, or spark (`validate --engine`).
        ALTER TABLE receipts ADD COLUMN engine VARCHAR DEFAULT 'duckdb';
        """,
    ),
    (
        10,
        "locations per dataset",
        """
        -- A location belongs to one dataset's version: the same bytes
        -- registered in place under two roots are two places to verify.
        -- Rows from before are given to every dataset holding that digest.
        CREATE TABLE locations_v10 (
            digest VARCHAR NOT NULL,
            dataset VARCHAR NOT NULL,
            root VARCHAR NOT NULL,
            mode VARCHAR NOT NULL,
            created TIMESTAMP NOT NULL,
            layout VARCHAR DEFAULT 'parquet',
            PRIMARY KEY (digest, dataset)
        );
        INSERT INTO locations_v10 (digest, dataset, root, mode, created, layout)
            SELECT l.digest, v.dataset, l.root, l.mode, l.created, l.layout
            FROM locations l JOIN versions v ON v.digest = l.digest;
        DROP TABLE locations;
        ALTER TABLE locations_v10 RENAME TO locations;
        """,
    ),
    (
        11,
        "chain",
        """
        -- Records that prove something, sealed in order (datagov/catalog/chain.py):
        -- the hash of each record's sealed columns, linked to the entry before.
        CREATE TABLE chain (
            seq BIGINT PRIMARY KEY,
            kind VARCHAR NOT NULL,            -- receipt | waiver | run | run-end | model | audit
            record VARCHAR NOT NULL,          -- the record's key
            record_hash VARCHAR NOT NULL,
            prev VARCHAR NOT NULL,            -- the previous entry's hash
            hash VARCHAR NOT NULL,            -- sha256(prev | kind | record | record_hash)
            sealed_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        12,
        "created_by, promotion requests, approvals",
        """
        -- Who made each record: the OS user on the DuckDB file (not
        -- authenticated), the database's session_user on PostgreSQL (set by
        -- a trigger, whatever the client sends). NULL for records from before.
        ALTER TABLE datasets ADD COLUMN created_by VARCHAR;
        ALTER TABLE versions ADD COLUMN created_by VARCHAR;
        ALTER TABLE rejects ADD COLUMN created_by VARCHAR;
        ALTER TABLE lineage ADD COLUMN created_by VARCHAR;
        ALTER TABLE receipts ADD COLUMN created_by VARCHAR;
        ALTER TABLE runs ADD COLUMN created_by VARCHAR;
        ALTER TABLE drift_reports ADD COLUMN created_by VARCHAR;
        ALTER TABLE audits ADD COLUMN created_by VARCHAR;
        ALTER TABLE promotions ADD COLUMN created_by VARCHAR;
        ALTER TABLE model_artifacts ADD COLUMN created_by VARCHAR;
        ALTER TABLE locations ADD COLUMN created_by VARCHAR;
        -- A promotion to a protected alias, waiting for a steward.
        CREATE TABLE promotion_requests (
            id VARCHAR PRIMARY KEY,
            model_name VARCHAR NOT NULL,
            model_version VARCHAR NOT NULL,
            alias VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            decision JSON NOT NULL,           -- what promotion's checks said when it was requested
            requested_by VARCHAR NOT NULL,
            created TIMESTAMP NOT NULL
        );
        -- A steward's decision on a waiver or a promotion request: one per
        -- request, never by its requester (a trigger on PostgreSQL).
        CREATE TABLE approvals (
            id VARCHAR PRIMARY KEY,
            request_kind VARCHAR NOT NULL,    -- waiver | promotion
            request_id VARCHAR NOT NULL,
            decision VARCHAR NOT NULL,        -- approved | denied
            reason VARCHAR NOT NULL,
            decided_by VARCHAR NOT NULL,
            created TIMESTAMP NOT NULL,
            UNIQUE (request_kind, request_id)
        );
        -- Aliases only an approved request may move, as the database knows them
        -- (`datagov catalog grant` copies [promote] protected_aliases here).
        CREATE TABLE protected_aliases (
            alias VARCHAR PRIMARY KEY
        );
        """,
    ),
    (
        13,
        "lifecycle: retirements, erasures, model flags, store deletions",
        """
        -- A version retired (kept, out of name resolution, audits and new
        -- training) or deleted, a receipt, suite or model version retired:
        -- who did it and why. `erasure_id` names the erasure that caused it.
        CREATE TABLE retirements (
            id VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,            -- version | dataset | receipt | suite | model
            target VARCHAR NOT NULL,          -- name@digest | name | receipt id | suite | NAME/VERSION
            action VARCHAR NOT NULL,          -- retired | deleted
            reason VARCHAR NOT NULL,
            erasure_id VARCHAR,
            created TIMESTAMP NOT NULL,
            created_by VARCHAR
        );
        -- `datagov erase`: the request, what it removed and from where, the
        -- models it affected, and (with --purge) the proof the bytes are gone.
        CREATE TABLE erasures (
            id VARCHAR PRIMARY KEY,
            reason VARCHAR NOT NULL,
            selector JSON NOT NULL,           -- how the items were chosen
            items INTEGER NOT NULL,           -- distinct items (keys) removed
            rows_removed BIGINT NOT NULL,
            versions JSON NOT NULL,           -- [{old, new, action, removed, similar, in_place}]
            models JSON NOT NULL,             -- model versions whose training content held an item
            keys JSON NOT NULL,               -- the erased items' keys (pixel hashes or row keys), for re-scans
            created TIMESTAMP NOT NULL,
            created_by VARCHAR,
            -- the proof: {files: [{where, path, sha256, bytes, gone}], kept, in_place, rescan, complete}
            purge JSON,
            purged TIMESTAMP
        );
        -- Why a model version may not be promoted: an erasure removed items
        -- of its training content, or a license in it changed.
        CREATE TABLE model_flags (
            id VARCHAR PRIMARY KEY,
            model_name VARCHAR NOT NULL,
            model_version VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,            -- erasure | license | deletion (forced)
            source VARCHAR NOT NULL,          -- the erasure id, or the dataset whose license changed
            message VARCHAR NOT NULL,
            created TIMESTAMP NOT NULL,
            created_by VARCHAR
        );
        -- Store bytes the catalog no longer references, written in the
        -- transaction that dropped the last reference and removed after it
        -- commits: a process killed in between leaves the row, and the next
        -- `datagov gc` finishes it. Only roots this catalog recorded are
        -- ever deleted, so no other workspace's store is touched.
        CREATE TABLE store_deletions (
            digest VARCHAR NOT NULL,
            root VARCHAR NOT NULL,            -- a bucket prefix, or '' for catalog/store/<digest>
            erasure_id VARCHAR,
            files JSON NOT NULL,              -- [{path, sha256, bytes}] as the manifest had them
            created TIMESTAMP NOT NULL,
            PRIMARY KEY (digest, root)
        );
        """,
    ),
]

# Run after the SQL of a migration, in its transaction: what SQL cannot do.
AFTER = {11: "seal_existing", 12: "seal_new_kinds"}

LATEST = MIGRATIONS[-1][0]


_CREATE_VERSIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, name VARCHAR, applied TIMESTAMP DEFAULT now())"
)


def current_version(con: Connection) -> int:
    if not has_table(con, "schema_migrations"):
        return 0
    row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return (row[0] if row else None) or 0


def has_table(con: Connection, table: str) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = current_schema()",
        [table],
    ).fetchone()
    return bool(found and found[0])


def dialect_sql(con: Connection, sql: str) -> str:
    """A migration's SQL as the connection's database spells it."""
    from datagov.catalog.db import is_postgres

    return re.sub(r"\bDOUBLE\b(?! PRECISION)", "DOUBLE PRECISION", sql) if is_postgres(con) else sql


def migrate(con: Connection, catalog: str = "the catalog") -> list[int]:
    """Apply pending migrations, each in its own transaction; returns those applied.

    The version is read again inside each transaction: on PostgreSQL the
    transaction holds the writers' lock, so two processes meeting a new
    catalog apply each migration once."""
    have = current_version(con)
    if have > LATEST:
        raise DatagovError(
            f"{catalog} is at schema version {have}, newer than this datagov knows ({LATEST})",
            hint="upgrade datagov (pip install -U datagov) on this machine; an older client must not write it",
        )
    applied: list[int] = []
    if have == LATEST:
        return applied
    for number, name, sql in MIGRATIONS:
        if number <= have:
            continue
        with _migration(con, catalog, number) as pending:
            if pending:
                _apply(con, number, name, sql)
                applied.append(number)
    return applied


def _apply(con: Connection, number: int, name: str, sql: str) -> None:
    from datagov.catalog import chain, team

    con.execute(dialect_sql(con, sql))
    if number in AFTER:
        getattr(chain, AFTER[number])(con)
    team.after_migration(con, number)
    con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [number, name])


class _migration:
    """One migration's transaction; yields whether it is still to be applied."""

    def __init__(self, con: Connection, catalog: str, number: int) -> None:
        self.con, self.catalog, self.number = con, catalog, number

    def __enter__(self) -> bool:
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(_CREATE_VERSIONS)
            return current_version(self.con) < self.number
        except BaseException as error:
            self.con.execute("ROLLBACK")
            self._explain(error)
            raise

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        if error is None:
            self.con.execute("COMMIT")
            return
        self.con.execute("ROLLBACK")
        self._explain(error)

    def _explain(self, error: BaseException) -> None:
        """A role that may not change the schema meets a catalog that needs it: say so."""
        from datagov.errors import PermissionDenied

        if isinstance(error, PermissionDenied):
            raise PermissionDenied(
                f"{self.catalog} needs schema migration {self.number}, and your database role may not apply it",
                hint="connect once as a datagov admin (the role that owns the catalog's tables) to upgrade it",
            ) from None
