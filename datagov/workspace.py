"""Locating and creating a workspace: the folder holding `datagov.toml`.

Layout (DESIGN.md): `catalog/` (DuckDB catalog, Parquet store, reports,
MLflow state; git-ignored), `expectations/` (GX suites), `pipelines/` (specs).
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from datagov.errors import InvalidInput, NotAWorkspace

CONFIG_NAME = "datagov.toml"
MAX_IMAGE_PIXELS = 40_000_000  # [ingest] max_image_pixels: an 8K photo is 33 MP
MAX_COLUMNS = 2_048  # [ingest] max_columns
MAX_ARRAY_BYTES = 4 * 1024**3  # [ingest] max_array_bytes: an .npz member, uncompressed
MAX_CSV_LINE_BYTES = 2_000_000  # [ingest] max_csv_line_bytes: DuckDB's own default
ENV_HOME = "DATAGOV_HOME"
ENV_STORE = "DATAGOV_STORE_URL"
ENV_CATALOG = "DATAGOV_CATALOG_URL"

DEFAULT_CONFIG = f"""\
# datagov workspace settings. Every key is optional; these are the defaults.
[catalog]
# Where the catalog lives: empty for the DuckDB file catalog/catalog.duckdb
# (one person; the default), or "postgresql://user@host:5432/db" for a team
# (see "Team set-up" in the README). DATAGOV_CATALOG_URL overrides it. Keep
# passwords out of this file: PGPASSWORD or ~/.pgpass.
url = ""
# Seconds a command waits for another datagov writer to release the catalog.
lock_timeout = 60

[gate]
# Days a waiver (--waive REASON) stays valid; promotion refuses a model whose
# waiver has expired.
waiver_days = 30

[gate.require]
# What the gate must see passing before training, by dataset name or by
# modality ("image", "tabular"): suite names, or expectation types that some
# passing suite must hold. Whatever is set here, the gate never counts suites
# that check nothing beyond table-level row counts. For example:
# image = ["expect_column_values_to_not_be_null"]
# digits-pretrain = ["digits-pretrain"]

[audit]
# A receipt older than this many days is reported as stale by `datagov audit run`.
max_receipt_age_days = 30

[ingest]
# Images with more pixels than this are bad input (refused, or skipped with --skip-bad).
max_image_pixels = {MAX_IMAGE_PIXELS}
# Tables with more columns than this are refused.
max_columns = {MAX_COLUMNS}
# An .npz archive whose arrays declare more bytes than this (uncompressed) is refused.
max_array_bytes = {MAX_ARRAY_BYTES}
# A CSV line longer than this many bytes is refused (raise it for long text cells).
max_csv_line_bytes = {MAX_CSV_LINE_BYTES}

[validate]
# Seconds one query of a suite may run before it is stopped and reported as the
# expectation's error (0: no limit).
query_timeout = 300

[store]
# Where new versions are written: empty for catalog/store/ (the default), or
# "s3://bucket/prefix" (credentials, region and endpoint from the AWS_*
# variables). The catalog and MLflow stay in catalog/ either way.
url = ""

[promote]
# Aliases a model may only take when no version in its training content
# (splits, parents and its encoder's pretraining data included) carries one of
# the license flags below, e.g. ["production"]. `datagov models card` lists them.
protected_aliases = []
# unknown (no license, or not an SPDX expression), non-commercial, no-derivatives.
refuse_licenses = ["unknown", "non-commercial", "no-derivatives"]

[retention]
# What `datagov gc` keeps of each dataset: its newest keep_versions versions,
# and every version younger than keep_days days (0: not set). A version is
# removed only when neither keeps it, and never while a registered model was
# trained or evaluated on it or a version derived from it remains.
# With both 0 (the default), gc removes only bytes nothing references.
keep_versions = 0
keep_days = 0

[tracking]
# Where runs, models and the registry go: empty for SQLite in catalog/
# (the default), or a team's MLflow server, e.g. "http://mlflow.internal:5000".
# MLFLOW_TRACKING_URI overrides it.
uri = ""

[lineage]
# The OpenLineage namespace of this workspace's datasets and jobs (and of its
# models when MLflow is the local SQLite store). Empty for
# "datagov://<workspace folder name>"; name it so it is unique where the
# events go, e.g. "datagov://ml-platform/pretraining".
namespace = ""
"""

CATALOG_README = """\
# catalog/

Workspace state written by datagov; everything here except this README is
git-ignored.

- `catalog.duckdb`: the catalog (datasets, versions, files, lineage, ...)
- `store/`: dataset versions as Parquet, one folder per content digest
- `reports/`: HTML reports
- `mlflow.db`, `mlartifacts/`: MLflow tracking, registry and artifacts
- `tmp/`: staging for work in progress (safe to delete when no datagov runs)
- `.leases`: empty; processes reading a version lock a byte of it, so none deletes it under them
"""

GITIGNORE = """\
*
!.gitignore
!README.md
"""


@dataclass(frozen=True)
class Workspace:
    root: Path
    config: dict = field(default_factory=dict, compare=False)
    # The web desk on a team catalog: the catalog URL with a signed-in user's
    # own credentials, so each request runs as that database role.
    signed_in: str = field(default="", compare=False, repr=False)

    def as_user(self, url: str) -> Workspace:
        return replace(self, signed_in=url)

    @property
    def catalog_dir(self) -> Path:
        return self.root / "catalog"

    @property
    def db_path(self) -> Path:
        return self.catalog_dir / "catalog.duckdb"

    @property
    def catalog_url(self) -> str:
        """`[catalog] url` (or DATAGOV_CATALOG_URL): "" for the DuckDB file, else postgresql://."""
        if self.signed_in:
            return self.signed_in
        return self._url(
            "catalog", ENV_CATALOG, ("postgresql://", "postgres://"), '"postgresql://user@host:port/database", or ""'
            " for the DuckDB file", echo=False,  # a catalog URL may hold a password
        )  # fmt: skip

    def _url(self, section: str, env_name: str, schemes: tuple[str, ...], use: str, *, echo: bool = True) -> str:
        """`[section] url`, or the variable `env_name`: empty, or a URL of one of `schemes`."""
        env = os.environ.get(env_name)
        raw = env if env else self.config.get(section, {}).get("url", "")
        shown = f"={raw!r}" if echo else ""
        where = f"{env_name}{shown}" if env else f"[{section}] url{' = ' + repr(raw) if echo else ''} in {CONFIG_NAME}"
        if not isinstance(raw, str):
            raise InvalidInput(f"{where} is not a string")
        raw = raw.strip()
        if raw and not raw.startswith(schemes):
            raise InvalidInput(f"{where}: use {use}")
        return raw

    @property
    def catalog_name(self) -> str:
        """The catalog as messages name it: the DuckDB file, or the URL without its password."""
        from datagov.redact import redact

        return redact(self.catalog_url) if self.catalog_url else str(self.db_path)

    @property
    def store_dir(self) -> Path:
        return self.catalog_dir / "store"

    @property
    def tmp_dir(self) -> Path:
        return self.catalog_dir / "tmp"

    @property
    def cache_dir(self) -> Path:
        return self.catalog_dir / "cache"

    @property
    def reports_dir(self) -> Path:
        return self.catalog_dir / "reports"

    @property
    def expectations_dir(self) -> Path:
        return self.root / "expectations"

    @property
    def pipelines_dir(self) -> Path:
        return self.root / "pipelines"

    def setting(self, section: str, key: str, default: float, *, minimum: float = 0, env: str | None = None) -> float:
        """A number from datagov.toml (or `env`), checked: a typo is an error, not a traceback."""
        raw = os.environ.get(env) if env and os.environ.get(env) else self.config.get(section, {}).get(key, default)
        where = f"{env}={raw!r}" if env and os.environ.get(env) else f"[{section}] {key} = {raw!r} in {CONFIG_NAME}"
        try:
            value = float(raw)  # type: ignore[arg-type]  # None or a non-number: refused below
        except (TypeError, ValueError):
            raise InvalidInput(f"{where} is not a number") from None
        if not math.isfinite(value) or value < minimum:
            raise InvalidInput(f"{where} must be a finite number of at least {minimum:g}")
        return value

    @property
    def lock_timeout(self) -> float:
        return self.setting("catalog", "lock_timeout", 60, env="DATAGOV_LOCK_TIMEOUT")

    @property
    def query_timeout(self) -> float:
        """Seconds one query of a suite may run before it is stopped (0: no limit)."""
        return self.setting("validate", "query_timeout", 300, env="DATAGOV_QUERY_TIMEOUT")

    @property
    def waiver_days(self) -> float:
        return self.setting("gate", "waiver_days", 30)

    @property
    def max_receipt_age_days(self) -> float:
        return self.setting("audit", "max_receipt_age_days", 30)

    @property
    def max_image_pixels(self) -> int:
        return int(self.setting("ingest", "max_image_pixels", MAX_IMAGE_PIXELS, minimum=1))

    @property
    def retention(self) -> tuple[int, int]:
        """`[retention]`: (keep_versions, keep_days); 0 means not set."""
        return (
            int(self.setting("retention", "keep_versions", 0)),
            int(self.setting("retention", "keep_days", 0)),
        )

    @property
    def store_url(self) -> str:
        """`[store] url` (or DATAGOV_STORE_URL): "" for the local store, else s3://."""
        return self._url("store", ENV_STORE, ("s3://",), '"s3://bucket/prefix", or "" for the local store').rstrip("/")

    @property
    def promote_policy(self) -> tuple[list[str], list[str]]:
        """`[promote]`: (protected aliases, license flags refused for them)."""
        from datagov.licenses import FLAGS

        section = self.config.get("promote", {})
        aliases = section.get("protected_aliases", [])
        refused = section.get("refuse_licenses", list(FLAGS))
        for key, value in (("protected_aliases", aliases), ("refuse_licenses", refused)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidInput(f"[promote] {key} in {CONFIG_NAME} must be a list of strings, not {value!r}")
        if unknown := sorted(set(refused) - set(FLAGS)):
            raise InvalidInput(
                f"[promote] refuse_licenses in {CONFIG_NAME} names {unknown}", hint=f"use any of {', '.join(FLAGS)}"
            )
        return aliases, refused

    def gate_requirements(self, dataset: str, modality: str | None) -> list[str]:
        """`[gate.require]`: suites or expectation types the gate must see passing for this data
        (its dataset's entry and its modality's, together)."""
        section = self.config.get("gate", {}).get("require", {})
        if not isinstance(section, dict):
            raise InvalidInput(f"[gate.require] in {CONFIG_NAME} must be a table of name = [suites or types]")
        wanted: list[str] = []
        for key in (dataset, modality):
            value = section.get(key, []) if key else []
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise InvalidInput(f"[gate.require] {key} in {CONFIG_NAME} must be a list of names, not {value!r}")
            wanted += value
        return list(dict.fromkeys(wanted))

    @property
    def lineage_namespace(self) -> str:
        """`[lineage] namespace`: where OpenLineage names this workspace's datasets and jobs."""
        raw = self.config.get("lineage", {}).get("namespace", "")
        if not isinstance(raw, str):
            raise InvalidInput(f"[lineage] namespace = {raw!r} in {CONFIG_NAME} is not a string")
        return raw.strip() or f"datagov://{self.root.name}"

    @property
    def max_columns(self) -> int:
        return int(self.setting("ingest", "max_columns", MAX_COLUMNS, minimum=1))

    @property
    def max_csv_line_bytes(self) -> int:
        return int(self.setting("ingest", "max_csv_line_bytes", MAX_CSV_LINE_BYTES, minimum=1))

    @property
    def max_array_bytes(self) -> int:
        return int(self.setting("ingest", "max_array_bytes", MAX_ARRAY_BYTES, minimum=1))


def load_workspace(root: Path) -> Workspace:
    try:
        config = tomllib.loads((root / CONFIG_NAME).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput(f"{root / CONFIG_NAME} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{root / CONFIG_NAME} is not valid TOML: {exc}") from exc
    return Workspace(root=root, config=config)


def find_workspace(explicit: str | os.PathLike | None = None, start: Path | None = None) -> Workspace:
    """The workspace named by `explicit`, else DATAGOV_HOME, else the nearest
    folder at or above `start` (the current directory) holding datagov.toml."""
    named = explicit or os.environ.get(ENV_HOME)
    if named:
        root = Path(named).expanduser().resolve()
        if not (root / CONFIG_NAME).is_file():
            raise NotAWorkspace(
                f"not a datagov workspace: {root} (no {CONFIG_NAME})",
                hint=f"create one with: datagov init {root}",
            )
        return load_workspace(root)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return load_workspace(folder)
    raise NotAWorkspace(
        f"not a datagov workspace: {here} (no {CONFIG_NAME} here or above)",
        hint="run `datagov init`, or pass --workspace / set DATAGOV_HOME",
    )
