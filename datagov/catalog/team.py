"""What PostgreSQL enforces for a team, whatever client connects.

- **Identity.** Every record's `created_by` (a waiver's `who`, a request's
  `requested_by`, an approval's `decided_by`) is set by a trigger to
  `session_user`, the role that logged in: a client cannot choose it.
- **Four eyes.** An approval is refused unless its author is a steward and
  not the request's author; a run may use a waiver, and a promotion may move
  a protected alias, only after such an approval.
- **Append-only.** Records that prove something have no UPDATE or DELETE
  grant for any role but `datagov_admin`; the few that finish later (a run,
  an audit) may be finished once, by a trigger-checked UPDATE of their
  closing columns.
- **Roles.** `grant_roles` creates `datagov_reader`, `datagov_engineer`,
  `datagov_steward` and `datagov_admin` and their grants.

On the DuckDB file none of this exists: the OS user is recorded, and the
README says it is not authenticated.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

from datagov.catalog.postgres import PgConnection

if TYPE_CHECKING:
    from datagov.catalog.db import Connection

READER, ENGINEER, STEWARD, ADMIN = "datagov_reader", "datagov_engineer", "datagov_steward", "datagov_admin"
ROLES = (READER, ENGINEER, STEWARD, ADMIN)

# Tables whose rows carry `created_by`, by the migration that added them.
STAMPED_BY = {
    12: ("datasets", "versions", "rejects", "lineage", "receipts", "runs", "drift_reports", "audits", "promotions",
         "model_artifacts", "locations"),
    13: ("retirements", "erasures", "model_flags"),
}  # fmt: skip
STAMPED = tuple(t for tables in STAMPED_BY.values() for t in tables)

# What an engineer may add (INSERT) and change (UPDATE of named columns, DELETE).
ENGINEER_INSERT = (
    "datasets", "versions", "files", "rejects", "lineage", "receipts", "runs", "waivers", "drift_reports", "audits",
    "audit_results", "promotions", "promotion_requests", "caches", "model_artifacts", "locations", "chain",
    "retirements", "model_flags",
)  # fmt: skip
ENGINEER_UPDATE = {
    "datasets": "description, owner, license, tags, source, label_column, updated",  # a new version updates them
    "versions": "status",  # retiring a version, once (trigger)
    "runs": "status, model_name, model_version, metrics, ended",  # finishing a run, once (trigger)
    "audits": "status, versions, failed, summary, report, ended",  # finishing an audit, once (trigger)
    "waivers": "run_id",  # the run that used it, once (trigger)
    "caches": "sha256, bytes, created",  # derived files, rebuilt from verified bytes
    "locations": "root",
}
ENGINEER_DELETE = ("rejects", "caches", "locations")  # rewritten with their version, never proving records
STEWARD_INSERT = ("approvals", "chain", "promotions", "erasures", "retirements", "model_flags", "store_deletions")
# Destroying data is a steward's act: deleting versions, erasing items, collecting garbage.
STEWARD_DELETE = ("datasets", "versions", "files", "locations", "caches", "store_deletions")
STEWARD_UPDATE = {"erasures": "purge, purged", "versions": "status"}


def who(con: Connection) -> str:
    """Who this connection writes as: the database's `session_user` on PostgreSQL
    (the triggers set it anyway), the OS user on the DuckDB file."""
    if isinstance(con, PgConnection):
        return con.session_user
    return getpass.getuser()


def authenticated(con: Connection) -> bool:
    """Whether `who` is an identity the database checked."""
    from datagov.catalog.db import is_postgres

    return is_postgres(con)


def after_migration(con: Connection, number: int) -> None:
    """PostgreSQL's part of migration `number` (nothing on the DuckDB file)."""
    from datagov.catalog.db import is_postgres

    if not is_postgres(con) or number not in STAMPED_BY:
        return
    con.execute(_TRIGGERS if number == 12 else _LIFECYCLE_TRIGGERS)
    for table in STAMPED_BY[number]:
        con.execute(
            f"CREATE TRIGGER datagov_stamp BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION datagov_stamp()"
        )


_TRIGGERS = """
-- Whether the logged-in role is (or acts through) `role`; false before `datagov catalog grant`.
CREATE FUNCTION datagov_member(role text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role)
        THEN pg_has_role(session_user, role, 'MEMBER') ELSE false END
$$;

CREATE FUNCTION datagov_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_by := session_user;
    RETURN NEW;
END $$;

CREATE FUNCTION datagov_stamp_who() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.who := session_user;
    RETURN NEW;
END $$;
CREATE TRIGGER datagov_stamp BEFORE INSERT ON waivers FOR EACH ROW EXECUTE FUNCTION datagov_stamp_who();
CREATE TRIGGER datagov_stamp_who BEFORE INSERT ON promotions FOR EACH ROW EXECUTE FUNCTION datagov_stamp_who();

CREATE FUNCTION datagov_stamp_request() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.requested_by := session_user;
    RETURN NEW;
END $$;
CREATE TRIGGER datagov_stamp BEFORE INSERT ON promotion_requests
    FOR EACH ROW EXECUTE FUNCTION datagov_stamp_request();

-- An approval: by a steward, never by the request's author, one per request.
CREATE FUNCTION datagov_four_eyes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    requester text;
BEGIN
    NEW.decided_by := session_user;
    IF NEW.decision NOT IN ('approved', 'denied') THEN
        RAISE EXCEPTION 'an approval''s decision is approved or denied, not %', NEW.decision;
    END IF;
    IF NEW.request_kind = 'waiver' THEN
        SELECT who INTO requester FROM waivers WHERE id = NEW.request_id;
    ELSIF NEW.request_kind = 'promotion' THEN
        SELECT requested_by INTO requester FROM promotion_requests WHERE id = NEW.request_id;
    END IF;
    IF requester IS NULL THEN
        RAISE EXCEPTION 'there is no % request %', NEW.request_kind, NEW.request_id;
    END IF;
    IF requester = session_user THEN
        RAISE EXCEPTION 'four eyes: % requested % and cannot also decide it', session_user, NEW.request_id;
    END IF;
    IF NOT datagov_member('datagov_steward') THEN
        RAISE EXCEPTION 'only a datagov_steward may decide requests; % is not one', session_user;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER datagov_four_eyes BEFORE INSERT ON approvals FOR EACH ROW EXECUTE FUNCTION datagov_four_eyes();

-- A run under a waiver starts only once a steward approved that waiver.
CREATE FUNCTION datagov_run_waiver() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.waiver_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM approvals
        WHERE request_kind = 'waiver' AND request_id = NEW.waiver_id AND decision = 'approved'
    ) THEN
        RAISE EXCEPTION 'waiver % is not approved by a steward', NEW.waiver_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER datagov_run_waiver BEFORE INSERT ON runs FOR EACH ROW EXECUTE FUNCTION datagov_run_waiver();

-- A protected alias moves only with an approved request for exactly this move.
CREATE FUNCTION datagov_protected_promotion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM protected_aliases WHERE alias = NEW.alias) AND NOT EXISTS (
        SELECT 1 FROM promotion_requests r JOIN approvals a
            ON a.request_kind = 'promotion' AND a.request_id = r.id AND a.decision = 'approved'
        WHERE r.model_name = NEW.model_name AND r.model_version = NEW.model_version AND r.alias = NEW.alias
    ) THEN
        RAISE EXCEPTION 'alias % is protected: promoting %/% needs a request a steward approved',
            NEW.alias, NEW.model_name, NEW.model_version;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER datagov_protected_promotion BEFORE INSERT ON promotions
    FOR EACH ROW EXECUTE FUNCTION datagov_protected_promotion();

-- Runs, audits and a waiver's run are finished once; after that only an admin may change them.
CREATE FUNCTION datagov_finish_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF datagov_member('datagov_admin') THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'waivers' THEN
        IF OLD.run_id IS NOT NULL THEN
            RAISE EXCEPTION 'waiver % was already used by run %', OLD.id, OLD.run_id;
        END IF;
    ELSIF OLD.status <> 'running' THEN
        RAISE EXCEPTION '% record is final (%); it is append-only', TG_TABLE_NAME, OLD.status;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER datagov_finish_once BEFORE UPDATE ON runs FOR EACH ROW EXECUTE FUNCTION datagov_finish_once();
CREATE TRIGGER datagov_finish_once BEFORE UPDATE ON audits FOR EACH ROW EXECUTE FUNCTION datagov_finish_once();
CREATE TRIGGER datagov_finish_once BEFORE UPDATE ON waivers FOR EACH ROW EXECUTE FUNCTION datagov_finish_once();
"""


_LIFECYCLE_TRIGGERS = """
-- A retired version stays retired (its replacement is a new version); only an admin may undo it.
CREATE FUNCTION datagov_retire_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'retired' AND NEW.status <> 'retired' AND NOT datagov_member('datagov_admin') THEN
        RAISE EXCEPTION 'version %@% is retired; only a datagov_admin may bring it back', OLD.dataset, OLD.digest;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER datagov_retire_once BEFORE UPDATE ON versions FOR EACH ROW EXECUTE FUNCTION datagov_retire_once();

-- An erasure's purge proof is written once.
CREATE FUNCTION datagov_purge_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.purged IS NOT NULL AND NOT datagov_member('datagov_admin') THEN
        RAISE EXCEPTION 'erasure % was purged already; its proof is final', OLD.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER datagov_purge_once BEFORE UPDATE ON erasures FOR EACH ROW EXECUTE FUNCTION datagov_purge_once();
"""


def role_exists(con: Connection, role: str) -> bool:
    row = con.execute("SELECT count(*) FROM pg_roles WHERE rolname = ?", [role]).fetchone()
    return bool(row and row[0])


def grant_roles(con: Connection, protected_aliases: list[str]) -> list[str]:
    """Create the four roles (when missing), grant them what they may do, and
    copy the protected aliases into the catalog. Returns what it did, as lines."""
    done = []
    for role in ROLES:
        if not role_exists(con, role):
            con.execute(f"CREATE ROLE {role} NOLOGIN")
            done.append(f"created role {role}")
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    ).fetchall()]  # fmt: skip
    con.execute(f"REVOKE ALL ON {', '.join(tables)} FROM {', '.join(ROLES[:3])}")
    con.execute(f"GRANT USAGE ON SCHEMA {_schema(con)} TO {', '.join(ROLES)}")
    con.execute(f"GRANT SELECT ON {', '.join(tables)} TO {READER}")
    con.execute(f"GRANT {READER} TO {ENGINEER}, {STEWARD}")
    con.execute(f"GRANT INSERT ON {', '.join(ENGINEER_INSERT)} TO {ENGINEER}")
    for table, columns in ENGINEER_UPDATE.items():
        con.execute(f"GRANT UPDATE ({columns}) ON {table} TO {ENGINEER}")
    con.execute(f"GRANT DELETE ON {', '.join(ENGINEER_DELETE)} TO {ENGINEER}")
    con.execute(f"GRANT INSERT ON {', '.join(STEWARD_INSERT)} TO {STEWARD}")
    con.execute(f"GRANT DELETE ON {', '.join(STEWARD_DELETE)} TO {STEWARD}")
    for table, columns in STEWARD_UPDATE.items():
        con.execute(f"GRANT UPDATE ({columns}) ON {table} TO {STEWARD}")
    con.execute(f"GRANT ALL ON {', '.join(tables)} TO {ADMIN}")
    done.append(
        "granted: reader (read), engineer (ingest, validate, train, request, retire), "
        "steward (approve, deny, delete, erase, gc), admin"
    )
    con.execute("DELETE FROM protected_aliases")
    for alias in protected_aliases:
        con.execute("INSERT INTO protected_aliases (alias) VALUES (?)", [alias])
    done.append(f"protected aliases: {', '.join(protected_aliases) or '(none)'}")
    return done


def _schema(con: Connection) -> str:
    row = con.execute("SELECT current_schema()").fetchone()
    return str(row[0]) if row else "public"
