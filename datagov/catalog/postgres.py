"""The catalog on PostgreSQL: one connection that speaks the catalog's SQL.

The catalog's modules write portable SQL with `?` placeholders (DuckDB's);
this wrapper turns them into psycopg's `%s`, binds on the client (so an
untyped `? IS NULL` works as it does in DuckDB) and hands JSON back as text,
as DuckDB does, so rows read and hash the same on both backends.

Identity and permissions belong to the server: who a record says made it is
`session_user`, set by triggers (`catalog/team.py`), and what a role may do
is its grants. Errors the server raises for either become one `Error:` line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from datagov.errors import DatagovError, PermissionDenied, first_line
from datagov.redact import redact

# One advisory lock key for catalog writers: a writer's session holds it
# (`open_catalog(write=True)`) and every transaction takes it at BEGIN, so
# writes serialise as they do on the DuckDB file while readers never wait
# (MVCC), and nothing a writer read can change before it commits.
WRITER_LOCK = 0x64617461676F76  # "datagov"

_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%")


def to_pyformat(sql: str) -> str:
    """`?` -> `%s` and `%` -> `%%`, leaving quoted literals and identifiers alone."""

    def swap(m: re.Match[str]) -> str:
        text = m.group(0)
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        return text

    return _PLACEHOLDER.sub(swap, sql)


class PgConnection:
    """A psycopg connection that answers `execute(sql, params)` like DuckDB's."""

    def __init__(self, url: str, lock_timeout: float) -> None:
        import psycopg
        from psycopg.types.string import TextLoader

        self.url = url
        try:
            self.raw = psycopg.connect(
                url,
                autocommit=True,  # transactions are explicit: BEGIN ... COMMIT, as on DuckDB
                cursor_factory=psycopg.ClientCursor,
                connect_timeout=10,
                application_name="datagov",
                # set at start-up, not by two more round trips
                options=f"-c TimeZone=UTC -c lock_timeout={max(int(lock_timeout * 1000), 1)}",
            )
        except psycopg.Error as exc:
            raise DatagovError(
                f"cannot connect to the catalog at {redact(url)}: {first_line(exc)}",
                hint="check [catalog] url in datagov.toml (or DATAGOV_CATALOG_URL): host, port, "
                "database, user and password (PGPASSWORD or ~/.pgpass work too)",
            ) from None
        for name in ("json", "jsonb"):
            self.raw.adapters.register_loader(name, TextLoader)
        self._session_user: str | None = None

    @property
    def session_user(self) -> str:
        """The role that logged in, as the database knows it (asked once)."""
        if self._session_user is None:
            row = self.execute("SELECT session_user").fetchone()
            self._session_user = str(row[0]) if row else ""
        return self._session_user

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        import psycopg

        cursor = self.raw.cursor()
        try:
            if params is None:
                cursor.execute(sql)
            else:
                cursor.execute(to_pyformat(sql), list(params))
        except psycopg.Error as exc:
            raise _translated(exc) from exc
        self._track(sql)
        return cursor

    def hold_writer_lock(self) -> None:
        """The writers' lock for this session (released when it closes),
        waiting at most the lock timeout (then one clear `Error:`)."""
        self.execute("SELECT pg_advisory_lock(?)", [WRITER_LOCK])

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        import psycopg

        try:
            self.raw.cursor().executemany(to_pyformat(sql), [list(r) for r in rows])
        except psycopg.Error as exc:
            raise _translated(exc) from exc

    def _track(self, sql: str) -> None:
        """A transaction starts by taking the writers' lock (released at its end)."""
        word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if word in ("BEGIN", "START"):
            self.execute("SELECT pg_advisory_xact_lock(?)", [WRITER_LOCK])

    def close(self) -> None:
        self.raw.close()


def _translated(exc: Exception) -> Exception:
    """The server's refusals as datagov errors; anything else unchanged."""
    import psycopg.errors as pe

    text = first_line(getattr(getattr(exc, "diag", None), "message_primary", None) or exc)
    if isinstance(exc, pe.InsufficientPrivilege):
        return PermissionDenied(
            f"the catalog refused this for your database role: {text}",
            hint="ask a datagov admin for the role this needs (`datagov catalog grant --help` lists them)",
        )
    if isinstance(exc, pe.RaiseException):  # the four-eyes and append-only triggers
        return PermissionDenied(f"the catalog refused this: {text}")
    if isinstance(exc, pe.LockNotAvailable):
        return DatagovError(
            f"the catalog is busy: another datagov writer held it too long ({text})",
            hint="wait for it to finish, or raise [catalog] lock_timeout in datagov.toml (or DATAGOV_LOCK_TIMEOUT)",
        )
    if isinstance(exc, pe.OperationalError):
        return DatagovError(f"the catalog connection failed: {text}")
    return exc
