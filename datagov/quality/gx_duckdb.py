"""Great Expectations' SQL engine on DuckDB: the one place that knows how.

GX 1.24 does not support DuckDB. Through duckdb-engine every expectation
fails with `IndexError: list index out of range` in `resolve_metric_bundle`:
GX closes the SQLAlchemy connection after executing a query and before
fetching, and DuckDB drops the result with the connection (GX issues #10738
and #11579; a native engine is proposed in PR #12084). GX keeps one persisted
connection for the dialects in `_PERSISTED_CONNECTION_DIALECTS` (it needs that
for SQLite temp tables); adding DuckDB there makes every metric query run and
fetch on one open connection, and suites pass.

`tests/quality/test_gx_duckdb.py` fails loudly when an upgrade breaks this:
if the tuple disappears, if the patched path stops working, or if the
unpatched path starts working (then this module can go).

At interpreter exit, DuckDB 2.0's bindings (nanobind) print "leaked
instances" for DuckDB type objects that GX's datasource set-up (its failing
inspector query, below) keeps reachable until teardown, even after every
connection is closed. `silence_teardown_noise` mutes stderr after the last
atexit handler of a process that used GX, so users see their results, not
that report.

A second gap: duckdb-engine 0.17's inspector fails on DuckDB 2.0
(`pg_catalog.pg_collation` is missing), so GX cannot read column types and
type expectations raise `KeyError: 'type'`. They are refused up front
(UNSUPPORTED); a version's column types are part of its digest anyway.

The sandbox. A suite is a file a user can replace, and some expectations
carry SQL (`unexpected_rows_query`). Every DuckDB connection GX opens here is
read-only, may read only the version's own Parquet files (`allowed_paths`,
then `enable_external_access = false`), loads no extension, and locks its
configuration so no statement can undo that. `allowed_paths` also permits
*writing* those files, so every statement is parsed by DuckDB first and
anything but a SELECT is refused before it runs.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from datagov.errors import DatagovError
from datagov.sql import sql_str

_TYPES = "GX cannot read DuckDB column types through duckdb-engine; a version's column types are pinned by its digest"
_REGEX = (
    "GX has no regular expressions for the DuckDB dialect; check with an unexpected_rows_expectation whose "
    "query uses regexp_matches(column, 'pattern'), or validate with --engine spark"
)
_LIKE = (
    "GX has no LIKE patterns for the DuckDB dialect; check with an unexpected_rows_expectation whose "
    "query uses column LIKE 'pattern'"
)
UNSUPPORTED = {  # expectations GX cannot evaluate on DuckDB, refused before anything runs (not `error` receipts)
    "expect_column_values_to_be_of_type": _TYPES,
    "expect_column_values_to_be_in_type_list": _TYPES,
    **{
        f"expect_column_values_to_{neg}match_{kind}": reason
        for kind, reason in (("regex", _REGEX), ("regex_list", _REGEX), ("like_pattern", _LIKE),
                             ("like_pattern_list", _LIKE))
        for neg in ("", "not_")
    },
}  # fmt: skip
UNSUPPORTED_ON_SPARK = {  # GX's Spark engine has no provider for LIKE patterns either
    name: "GX has no LIKE patterns for Spark; express the pattern as a regex (expect_column_values_to_match_regex)"
    for name, reason in UNSUPPORTED.items()
    if reason == _LIKE
}
TABLE = "data"
# What DuckDB may hold while GX validates before it spills: with GX and
# Python beside it, validation stays under 1 GB of resident memory at any
# number of rows (DATAGOV_DUCKDB_MEMORY raises it).
VALIDATE_MEMORY = "512MB"


class _DuckDBDialect:
    """Stands in for a `GXSqlDialect` member: GX compares members by `.value`
    and, through `GXSqlDialect.__eq__`, with plain dialect-name strings."""

    value = "duckdb"

    def __eq__(self, other: object) -> bool:
        return str(getattr(other, "value", other)).lower() == self.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return "<datagov DuckDB dialect>"


def install_workaround() -> None:
    """Make GX keep one connection open for DuckDB (idempotent)."""
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine

    current = getattr(engine, "_PERSISTED_CONNECTION_DIALECTS", None)
    if not isinstance(current, tuple):
        raise DatagovError(
            "this Great Expectations release no longer has _PERSISTED_CONNECTION_DIALECTS; "
            "datagov's DuckDB workaround needs updating (see datagov/quality/gx_duckdb.py)"
        )
    if "duckdb" not in current:
        engine._PERSISTED_CONNECTION_DIALECTS = (*current, _DuckDBDialect())


def quiet_gx() -> None:
    """GX logs full tracebacks for configuration errors we report ourselves."""
    logging.getLogger("great_expectations").setLevel(logging.CRITICAL)


_silenced = False


def silence_teardown_noise() -> None:
    """Send stderr to /dev/null once Python starts tearing modules down."""
    global _silenced
    if _silenced:
        return
    _silenced = True
    import atexit
    import os
    import sys

    def mute() -> None:
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)

    atexit.register(mute)  # atexit runs last-registered first; later handlers print nothing users need


def view_database(path: Path, parquet_files: list[str]) -> Path:
    """A DuckDB file whose view `data` reads the given Parquet files in place."""
    import duckdb

    files = ", ".join(sql_str(f) for f in parquet_files)
    con = duckdb.connect(str(path))
    try:
        con.execute(f"CREATE OR REPLACE VIEW {TABLE} AS SELECT * FROM read_parquet([{files}])")
    finally:
        con.close()
    return path


SANDBOX_SETTINGS = (
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)


class SandboxViolation(Exception):
    """A suite tried to run a statement other than a query."""


def sandbox(con: Any, readable: list[str], spill: str | None = None) -> None:
    """Confine a DuckDB connection to reading `readable` (order matters:
    allowed_paths can only be set while external access is still on), and
    bound its memory: past VALIDATE_MEMORY sorts, aggregates and windows
    spill to `spill`, so a validation's footprint does not grow with rows.
    Settings belong to the database instance, which DuckDB shares between
    connections to one file in a process: a second connection finds it locked."""
    locked, external = con.execute(
        "SELECT current_setting('lock_configuration'), current_setting('enable_external_access')"
    ).fetchone()
    if locked:
        if external:
            raise SandboxViolation("a DuckDB connection is locked with external access on")
        return
    con.execute(f"SET allowed_paths = [{', '.join(sql_str(p) for p in readable)}]")
    if spill is not None:
        from datagov.store import scan_memory

        con.execute(f"SET memory_limit = {sql_str(scan_memory(VALIDATE_MEMORY))}")
        con.execute(f"SET temp_directory = {sql_str(spill)}")
        con.execute("SET preserve_insertion_order = false")  # statistics do not depend on row order
    for statement in SANDBOX_SETTINGS:
        con.execute(statement)


def only_queries(sql: str) -> None:
    """Refuse anything but SELECT statements, as DuckDB's own parser sees them."""
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error:
        return  # DuckDB cannot parse it either, so it cannot run it
    for statement in statements:
        if statement.type != duckdb.StatementType.SELECT:
            raise SandboxViolation(f"only queries may run during validation, not {statement.type.name}")


TIMED_OUT = "INTERRUPT Error: Interrupted!"  # DuckDB's words when `interrupt()` stops a query


@contextmanager
def sandboxed_connections(readable: list[str], spill: str | None = None, timeout: float = 0):
    """While active, every new DuckDB connection SQLAlchemy opens is
    sandboxed, every statement it runs must be a query, and a query still
    running after `timeout` seconds (0: no limit) is interrupted: a suite
    cannot stall validation, audits or the scheduler."""
    import threading

    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    timers: dict[int, threading.Timer] = {}  # per DB-API connection: the one statement it is running
    interrupted: set[int] = set()  # connections whose transaction an interrupt aborted

    def on_connect(dbapi_connection, _record) -> None:
        sandbox(dbapi_connection, readable, spill)

    def before_execute(conn, cursor, statement, _params, _context, _many) -> None:
        if conn.dialect.name != "duckdb":
            return
        only_queries(statement)
        key = id(conn.connection.dbapi_connection)
        if (previous := timers.pop(key, None)) is not None:
            previous.cancel()  # the last statement ended (a failed one fires no after-event)
        if key in interrupted:  # GX goes on with the next expectation: give it a usable transaction
            interrupted.discard(key)
            with suppress(Exception):  # DuckDB's "no transaction is active": SQLAlchemy rolled it back
                cursor.execute("ROLLBACK")
        if timeout > 0:

            def stop() -> None:
                interrupted.add(key)
                cursor.interrupt()

            timers[key] = timer = threading.Timer(timeout, stop)
            timer.daemon = True
            timer.start()

    def after_execute(conn, *_args) -> None:
        if (timer := timers.pop(id(conn.connection.dbapi_connection), None)) is not None:
            timer.cancel()

    event.listen(Pool, "connect", on_connect)
    event.listen(Engine, "before_cursor_execute", before_execute)
    event.listen(Engine, "after_cursor_execute", after_execute)
    try:
        yield
    finally:
        for timer in timers.values():
            timer.cancel()
        event.remove(Pool, "connect", on_connect)
        event.remove(Engine, "before_cursor_execute", before_execute)
        event.remove(Engine, "after_cursor_execute", after_execute)


@contextmanager
def duckdb_batch(database: Path, readable: list[str], *, patched: bool = True, timeout: float = 0):
    """A GX batch over the view `data` in `database`, through the SQL engine,
    in the sandbox (reading only `database` and the `readable` files), each
    query bounded to `timeout` seconds."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    quiet_gx()
    silence_teardown_noise()
    if patched:
        from datagov.quality import duckdb_metrics

        install_workaround()
        duckdb_metrics.install()
    spill = database.parent / "spill"  # beside the view, in the staging folder removed after the run
    with sandboxed_connections([str(database), *readable], str(spill), timeout):
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_sql(
            name="datagov",
            connection_string=f"duckdb:///{database}",
            kwargs={"connect_args": {"read_only": True}},  # type: ignore[call-arg]  # GX's stub omits it; passed on to SQLAlchemy
        )
        asset = source.add_table_asset(name=TABLE, table_name=TABLE)
        batch = asset.add_batch_definition_whole_table("all").get_batch()
        try:
            yield batch
        finally:
            _close(getattr(batch.data, "execution_engine", None), getattr(source, "_engine", None))


def _close(execution_engine: Any, datasource_engine: Any) -> None:
    """Close every DuckDB connection GX opened: the execution engine's
    persisted one and the datasource's own engine (used for inspection).
    DuckDB 2.0 prints leak warnings at exit for connections still open."""
    if execution_engine is not None:
        connection = getattr(execution_engine, "_connection", None)
        if connection is not None:
            connection.close()
            execution_engine._connection = None
        if getattr(execution_engine, "engine", None) is not None:
            execution_engine.engine.dispose()
    if datasource_engine is not None:
        datasource_engine.dispose()


@contextmanager
def reporting_metrics(callback):
    """While active, `callback([(metric name, column or None), ...])` hears
    each set of metrics a GX engine is about to compute (the queries run
    per set), so a long validation can say what it is doing."""
    from great_expectations.execution_engine import ExecutionEngine

    original = getattr(ExecutionEngine, "resolve_metrics", None)
    if original is None:
        raise DatagovError("this Great Expectations release has no resolve_metrics; see datagov/quality/gx_duckdb.py")

    def resolve_metrics(self, metrics_to_resolve, *args, **kwargs):
        metrics_to_resolve = list(metrics_to_resolve)
        callback([(m.metric_name, (m.metric_domain_kwargs or {}).get("column")) for m in metrics_to_resolve])
        return original(self, metrics_to_resolve, *args, **kwargs)

    ExecutionEngine.resolve_metrics = resolve_metrics  # every engine: DuckDB's SQL one and Spark's
    try:
        yield
    finally:
        ExecutionEngine.resolve_metrics = original


def gx_version() -> str:
    from importlib.metadata import version

    return version("great-expectations")
