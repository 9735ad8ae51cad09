"""Great Expectations' Spark engine over a version's Parquet files: `datagov
validate NAME --suite S --engine spark [--master URL]`, for data past one
machine. The suites, the receipt and the gate are the same as on DuckDB;
the receipt records the engine.

- The session: `--master` (default `local[2]`), no UI, UTC. A `spark://`
  master is checked for reachability first, so a wrong URL is one error, not
  Spark's minute of retries.
- The batch: GX's Spark data source over `spark.read.parquet(files)`, not
  persisted (GX caches the DataFrame by default, which holds the whole
  version in executor memory).
- Fail closed: expectations that carry SQL (`unexpected_rows_query`, or a
  row condition in Spark's own syntax) are refused on Spark. DuckDB's
  sandbox confines such SQL to the version's files; Spark SQL can read any
  path its executors can (`parquet.\\`/...\\``) and call Java (`reflect`).
- Files: the executors read the paths datagov verified. On a cluster they
  must see the same files (a shared file system); S3 versions need the
  Hadoop S3 connector on the cluster (see the README).
"""

from __future__ import annotations

import re
import socket
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from datagov.errors import DatagovError, InvalidInput, first_line

DEFAULT_MASTER = "local[2]"
ENGINE = "spark"


_LOCAL = re.compile(r"^local(\[(\*|[1-9][0-9]{0,3})(,[1-9][0-9]?)?\])?$")  # local, local[N], local[*], local[N,F]
_STANDALONE = re.compile(r"^spark://[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$")
MAX_LOCAL_THREADS = 1024


def check_master_form(master: str) -> str:
    """The master URL, once it has a form Spark accepts (checked before any work)."""
    hint = "use local, local[N] (N from 1 to 1024), local[*] or spark://HOST:PORT"
    if (m := _LOCAL.match(master)) is not None:
        if m[2] not in (None, "*") and int(m[2]) > MAX_LOCAL_THREADS:
            raise InvalidInput(f"--master {master!r} asks for {int(m[2]):,} threads", hint=hint)
        return master
    if not _STANDALONE.match(master) or not 1 <= int(master.rsplit(":", 1)[1]) <= 65535:
        raise InvalidInput(f"--master {master!r} is not a Spark master URL", hint=hint)
    return master


def check_master(master: str) -> str:
    """The master URL, once it is one Spark accepts and, for a standalone
    master, one that answers on its port."""
    check_master_form(master)
    if master.startswith("local"):
        return master
    parts = urlsplit(master)
    assert parts.hostname is not None and parts.port is not None  # the form was checked
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=5):
            pass
    except OSError as exc:
        raise InvalidInput(
            f"cannot reach the Spark master at {master}: {exc.strerror or exc}",
            hint="start it (`$SPARK_HOME/sbin/start-master.sh`) or check the URL; nothing was validated",
        ) from None
    return master


DRIVER_MEMORY = "4g"  # local[N] runs its executors in the driver: GX's uniqueness window needs room


def driver_memory() -> str:
    import os

    return os.environ.get("DATAGOV_SPARK_DRIVER_MEMORY") or DRIVER_MEMORY


def _py4j_error() -> type[Exception]:
    from py4j.protocol import Py4JError

    return Py4JError


def spark_session(master: str, log: Path):
    """A SparkSession on `master`, its driver JVM's output in `log` (a JVM
    writes its own notes to the terminal otherwise)."""
    try:
        from pyspark import SparkConf, SparkContext
        from pyspark.java_gateway import launch_gateway
        from pyspark.sql import SparkSession
    except ImportError:
        raise InvalidInput("--engine spark needs pyspark (and Java 17)", hint="pip install 'datagov[spark]'") from None
    conf = (
        SparkConf()
        .setMaster(master)
        .set("spark.driver.memory", driver_memory())
        .setAppName("datagov validate")
        .set("spark.ui.enabled", "false")
        .set("spark.ui.showConsoleProgress", "false")
        .set("spark.sql.session.timeZone", "UTC")
    )
    with open(log, "ab") as out:
        try:
            gateway = launch_gateway(conf, popen_kwargs={"stdout": out, "stderr": out})
        except Exception as exc:  # no java, a broken install: the log says which
            raise DatagovError(f"cannot start Spark ({exc}); its output: {log}") from None
    try:
        context = _within_deadline(lambda: SparkContext(conf=conf, gateway=gateway), gateway, master, log)
        context.setLogLevel("ERROR")
        return SparkSession(context)
    except (OSError, _py4j_error()) as exc:  # e.g. a port that answers but is no Spark master
        first = first_line(exc)
        raise DatagovError(
            f"Spark could not start an application on {master}: {first}",
            hint=f"check that {master} is a Spark master; its output: {log}; nothing was validated",
        ) from None


def _within_deadline(start, gateway, master: str, log: Path):
    """`start()` (a SparkContext: for a standalone master it waits until the
    master registers the application, or Spark's own retries give up after a
    minute and more), given `start_timeout()` seconds; past them the driver
    JVM is stopped and the wait ends with one error."""
    from datagov.background import StillRunning, in_background

    timeout = start_timeout()
    try:
        return in_background(start, thread_name="datagov-spark-start")(timeout)
    except StillRunning:
        proc = getattr(gateway, "proc", None)
        if proc is not None:
            proc.kill()
        raise DatagovError(
            f"the Spark master at {master} did not take this application within {timeout:g} s",
            hint=f"check that it is a Spark master with a free worker (its log: {log}); "
            "DATAGOV_SPARK_START_TIMEOUT allows more time; nothing was validated",
        ) from None


def start_timeout() -> float:
    import os

    return float(os.environ.get("DATAGOV_SPARK_START_TIMEOUT") or START_TIMEOUT)


START_TIMEOUT = 60.0  # seconds a standalone master has to give the application an executor


def _require_executors(spark, master: str, log: Path) -> None:
    """A trivial job under a deadline: a port that accepts connections but is no
    Spark master (or a cluster with no free worker) would otherwise leave the
    validation waiting for Spark's own retries, then a Py4J traceback."""
    import threading

    timeout = start_timeout()
    timer = threading.Timer(timeout, spark.sparkContext.cancelAllJobs)
    timer.daemon = True
    timer.start()
    try:
        spark.range(1).count()
    except Exception:  # cancelled by the timer, or Spark gave up on the master itself
        raise DatagovError(
            f"the Spark master at {master} gave this application no executor within {timeout:g} s",
            hint=f"check that it is a Spark master with a free worker (its log: {log}); "
            "DATAGOV_SPARK_START_TIMEOUT allows more time; nothing was validated",
        ) from None
    finally:
        timer.cancel()


@contextmanager
def spark_batch(files: list[str], master: str, log: Path):
    """A GX batch over the Parquet files, on a Spark session stopped afterwards."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from datagov.quality.gx_duckdb import quiet_gx

    quiet_gx()
    spark = spark_session(check_master(master), log)
    try:
        if not master.startswith("local"):
            _require_executors(spark, master, log)
        frame = spark.read.parquet(*files)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_spark(name="datagov", persist=False)
        asset = source.add_dataframe_asset(name="data")
        yield asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
    except (OSError, _py4j_error()) as exc:  # the driver JVM died (out of memory, killed) mid-validation
        raise DatagovError(
            f"Spark stopped during the validation: {first_line(exc)}",
            hint=f"see its log, {log}; give the driver more memory with DATAGOV_SPARK_DRIVER_MEMORY (now "
            f"{driver_memory()}); nothing was written",
        ) from None
    finally:
        try:
            spark.stop()
        except (OSError, _py4j_error()):
            pass  # already gone: the error above (or the results) say what happened


def _sql_key(kwargs: dict) -> str | None:
    """The kwarg through which an expectation would hand Spark SQL text: a
    `*_query`, or a row condition GX passes to Spark as an expression
    (`condition_parser: spark`; only GX's own structured conditions are not)."""
    for key, value in kwargs.items():
        if key.endswith("_query") and value:
            return key
    if kwargs.get("row_condition") and kwargs.get("condition_parser") != "great_expectations":
        return "row_condition"
    return None


def refuse_sql(suite) -> None:
    """Expectations with SQL in them do not run on Spark (see the module docstring):
    Spark SQL can read any path and call Java methods (`reflect`)."""
    for i, exp in enumerate(suite.expectations):
        key = _sql_key(exp.get("kwargs", {}))
        if key is not None:
            raise InvalidInput(
                f"suite {suite.name!r}, expectation #{i + 1} ({exp['type']}) carries SQL ({key}), which "
                "datagov runs only in DuckDB's sandbox",
                hint="validate this suite with --engine duckdb",
            )
