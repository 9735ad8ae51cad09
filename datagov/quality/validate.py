"""`datagov validate`: integrity first, then each suite through GX's SQL
engine on DuckDB reading the version's Parquet files in place, then one
receipt (and one HTML report) per suite."""

from __future__ import annotations

import secrets
import sys
import time
from dataclasses import dataclass

from datagov.background import in_background
from datagov.catalog.db import open_catalog, transaction
from datagov.catalog.locations import locate
from datagov.catalog.receipts import Receipt, insert_receipt
from datagov.catalog.versions import Version, now, resolve
from datagov.errors import InvalidInput
from datagov.quality.match import match_info
from datagov.quality.suites import SuiteFile, build_suite, load_suite
from datagov.store import staging
from datagov.verify import require_intact, require_unchanged
from datagov.workspace import Workspace

KEPT_RESULT_KEYS = (
    "observed_value",
    "element_count",
    "missing_count",
    "unexpected_count",
    "unexpected_percent",
    "partial_unexpected_list",
    "details",
)


def jsonable(value):
    """numpy scalars and arrays, tuples and the like as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass
class Outcome:
    receipt: Receipt
    suite: SuiteFile
    version: Version


SANDBOX_MARKERS = ("only queries may run during validation", "file system operations are disabled")


def _batch(ws: Workspace, engine: str, folder, files: list[str], master: str | None):
    """The GX batch the suites run on: DuckDB over a view of the files (in
    its sandbox), or Spark reading them (its driver's log in catalog/)."""
    if engine == "spark":
        from datagov.quality.gx_spark import DEFAULT_MASTER, spark_batch

        return spark_batch(files, master or DEFAULT_MASTER, ws.catalog_dir / "spark-driver.log")
    from datagov.quality.gx_duckdb import duckdb_batch, view_database

    return duckdb_batch(view_database(folder / "view.duckdb", files), files, timeout=ws.query_timeout)


def _check_not_empty(suite: SuiteFile) -> None:
    if not suite.expectations:
        raise InvalidInput(
            f"suite {suite.name!r} has no expectations: a suite that checks nothing cannot vouch for data",
            hint=f"add expectations to {suite.path.name}, or write one with `datagov expectations suggest`",
        )


def _check_queries(suite: SuiteFile) -> None:
    """SQL in a suite may only query the batch: refused before anything runs."""
    from datagov.quality.gx_duckdb import SandboxViolation, only_queries

    for i, exp in enumerate(suite.expectations):
        for key, value in exp.get("kwargs", {}).items():
            if isinstance(value, str) and key.endswith("_query"):
                try:
                    only_queries(value.replace("{batch}", "data"))
                except SandboxViolation as exc:
                    raise InvalidInput(f"suite {suite.name!r}, expectation #{i + 1} ({exp['type']}): {exc}") from None


def _refuse_escapes(suite: SuiteFile, rows: list[dict]) -> None:
    """A statement the sandbox stopped at run time: no receipt is written for it."""
    for i, row in enumerate(rows):
        if row["error"] and any(marker in row["error"] for marker in SANDBOX_MARKERS):
            first = row["error"].splitlines()[0]
            raise InvalidInput(
                f"suite {suite.name!r}, expectation #{i + 1} ({row['type']}) tried to reach outside the data: {first}",
                hint="validation SQL may only query the batch; nothing was written",
            )


def _check_columns(suite: SuiteFile, version: Version) -> None:
    have = set(version.columns)
    for index, type_, column in suite.columns_used():
        if column not in have:
            raise InvalidInput(
                f"suite {suite.name!r}, expectation #{index + 1} ({type_}): column {column!r} is not in "
                f"{version.ref}; its columns: {', '.join(version.columns)}"
            )


def exception_messages(info: dict | None) -> list[str]:
    """GX reports an error either flat ({"raised_exception": True, ...}) or
    per metric ({"MetricConfigurationID(...)": {...}}): the messages of both."""
    if not info:
        return []
    if "raised_exception" in info:
        return [info.get("exception_message") or "error"] if info.get("raised_exception") else []
    return [
        str(v.get("exception_message") or "error")
        for v in info.values()
        if isinstance(v, dict)
        and v.get("raised_exception", True)
        and ("exception_message" in v or "exception_traceback" in v)
    ]


def summarize(result) -> dict:
    """One GX ExpectationValidationResult as a plain dict for the receipt."""
    cfg = result.expectation_config
    errors = exception_messages(result.exception_info)
    raised = bool(errors)
    return {
        "type": cfg.type,
        "column": cfg.kwargs.get("column"),
        "kwargs": jsonable({k: v for k, v in cfg.kwargs.items() if k not in ("batch_id",)}),
        "success": bool(result.success) and not raised,
        "result": jsonable({k: v for k, v in (result.result or {}).items() if k in KEPT_RESULT_KEYS}),
        "error": errors[0] if raised else None,
    }


def _name_timeouts(row: dict, limit: float) -> dict:
    """An interrupted query's error says why it was stopped and how to allow more time."""
    from datagov.quality.gx_duckdb import TIMED_OUT

    if row["error"] and TIMED_OUT in row["error"]:
        row["error"] = (
            f"a query ran longer than {limit:g} s and was stopped ([validate] query_timeout in datagov.toml, "
            "or DATAGOV_QUERY_TIMEOUT)"
        )
    return row


def describe_metrics(suite: SuiteFile, metrics: list[tuple[str, str | None]]) -> str:
    """What a set of GX metrics is for, as a progress line says it: how many,
    the columns they are on with the (first) expectation on each, by number."""
    if not metrics:
        return "evaluating"
    first: dict[str, int] = {}
    for i, e in enumerate(suite.expectations):
        first.setdefault(e.get("kwargs", {}).get("column"), i + 1)
    columns = sorted({c for _, c in metrics if c}, key=lambda c: first.get(c, 0))
    where = ", ".join(f"{c!r} (#{first[c]})" if c in first else repr(c) for c in columns[:3])
    where += f" +{len(columns) - 3}" if len(columns) > 3 else ""
    return f"{len(metrics)} metric(s) on {where or 'the table'}: {metrics[0][0]}"


ENGINES = ("duckdb", "spark")


def validate_version(
    ws: Workspace,
    ref: str,
    suite_names: list[str],
    on_progress=None,
    *,
    engine: str = "duckdb",
    master: str | None = None,
) -> list[Outcome]:
    """Run every suite against the version; returns one outcome per suite.

    Configuration problems (bad JSON, unknown expectation, missing column)
    raise before anything runs, and write no receipt. A distribution-match
    suite (`datagov expectations match`) writes a `match` receipt bound to its
    reference digest; any other suite a `quality` receipt.

    `on_progress(text)` hears what it is doing (hashing, then each set of
    metrics GX computes, by suite) for a progress line.

    `engine="spark"` runs the same suites through GX's Spark engine
    (`master`, default local[2]); the receipt records the engine.
    """
    if not suite_names:
        raise InvalidInput("name at least one suite with --suite")
    if engine not in ENGINES:
        raise InvalidInput(f"unknown engine {engine!r}; use one of: {', '.join(ENGINES)}")
    if master is not None and engine != "spark":
        raise InvalidInput("--master names a Spark master; use it with --engine spark")
    if master is not None:
        from datagov.quality.gx_spark import check_master_form

        check_master_form(master)
    from datagov.catalog.lifecycle import retired_targets

    with open_catalog(ws) as con:
        version = resolve(con, ref)
        located = locate(ws, con, version.digest, version.dataset)
        retired = retired_targets(con, "suite")
    from datagov.store.leases import hold_read_lease

    hold_read_lease(ws, version.digest)
    for name in suite_names:
        if name in retired:
            r = retired[name]
            raise InvalidInput(f"suite {name!r} is retired {r.said}",
                               hint="validate against a suite in use; see `datagov expectations list`")  # fmt: skip
    suites = [load_suite(ws, name) for name in dict.fromkeys(suite_names)]
    say = on_progress or (lambda _text: None)
    # both at once: the GX import (seconds, once per process) usually outlasts the hashing
    loading = "" if "great_expectations" in sys.modules else ", loading Great Expectations"
    say(f"hashing {len(located.entries)} file(s) of {version.ref}{loading}")
    # Hashed while GX imports and the suites are checked, finished before GX
    # reads a byte; the fingerprints are compared again after, so a receipt
    # only ever vouches for these bytes.
    hashed = in_background(require_intact, ws, version, located, purpose="validate", thread_name="datagov-hashing")
    built = []
    for suite in suites:
        _check_not_empty(suite)
        _check_queries(suite)
        if engine == "spark":
            from datagov.quality.gx_spark import refuse_sql

            refuse_sql(suite)
        gx_suite = build_suite(suite, engine)
        _check_columns(suite, version)
        built.append((suite, gx_suite))

    from datagov.quality import duckdb_metrics
    from datagov.quality.gx_duckdb import gx_version, reporting_metrics

    intact = hashed()
    receipts = []
    with staging(ws) as folder:
        files = intact.files.paths
        gx_release = gx_version()
        with _batch(ws, engine, folder, files, master) as batch:
            for suite, gx_suite in built:
                started = now()
                t0 = time.perf_counter()
                say(f"suite {suite.name}: planning {len(suite.expectations)} expectations")
                if engine == "duckdb":
                    duckdb_metrics.prefetch(batch, suite.expectations)
                with reporting_metrics(lambda m, s=suite: say(f"suite {s.name}: {describe_metrics(s, m)}")):
                    result = batch.validate(gx_suite, result_format="SUMMARY")
                duration = time.perf_counter() - t0
                rows = [_name_timeouts(summarize(r), ws.query_timeout) for r in result.results]
                _refuse_escapes(suite, rows)
                errored = any(r["error"] for r in rows)
                success = all(r["success"] for r in rows) and not errored
                receipts.append(
                    Receipt(
                        id=f"r-{secrets.token_hex(6)}",
                        dataset=version.dataset,
                        digest=version.digest,
                        suite=suite.name,
                        suite_digest=suite.digest,
                        kind="match" if match_info(suite.doc) else "quality",
                        success=success,
                        status="error" if errored else ("passed" if success else "failed"),
                        evaluated=len(rows),
                        successful=sum(r["success"] for r in rows),
                        results=rows,
                        gx_version=gx_release,
                        started=started,
                        duration=duration,
                        reference_digest=(match_info(suite.doc) or {}).get("reference_digest"),
                        engine=engine,
                    )
                )
    require_unchanged(version, intact.fingerprints, purpose="write receipts")
    from datagov.quality.report import write_report

    for receipt in receipts:
        receipt.report = str(write_report(ws, receipt).relative_to(ws.root))
    with open_catalog(ws, write=True) as con, transaction(con):
        for receipt in receipts:
            insert_receipt(con, receipt)
    return [Outcome(r, s, version) for r, (s, _) in zip(receipts, built, strict=True)]
