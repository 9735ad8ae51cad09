"""Expectation suites as files: `expectations/<name>.json`, GX's own format
(`gx.ExpectationSuite(**json)` loads them), and their content digests."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from datagov.catalog.versions import check_name
from datagov.errors import InvalidInput, NotFound
from datagov.store.derived import write_text
from datagov.textfiles import read_utf8
from datagov.workspace import Workspace

COLUMN_KEYS = ("column", "column_A", "column_B")
MAX_SUITE_BYTES = 16 << 20  # a suite is configuration: far smaller than this
MAX_DEPTH = 32  # GX's own suites nest 4-5 levels
LIST_KEYS = ("column_list",)


def content_digest(doc: dict) -> str:
    """sha256 of the canonical JSON: formatting does not count, any edit does."""
    canon = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canon.encode()).hexdigest()


@dataclass(frozen=True)
class SuiteFile:
    name: str
    path: Path
    doc: dict  # the parsed JSON; never handed to GX itself (GX edits what it is given)
    digest: str  # of the file as read

    @property
    def expectations(self) -> list[dict]:
        return self.doc.get("expectations", [])

    def columns_used(self) -> list[tuple[int, str, str]]:
        """(index, expectation type, column) for every column an expectation names."""
        out = []
        for i, exp in enumerate(self.expectations):
            kwargs = exp.get("kwargs", {})
            for key in COLUMN_KEYS:
                if isinstance(kwargs.get(key), str):
                    out.append((i, exp.get("type", "?"), kwargs[key]))
            for key in LIST_KEYS:
                if (
                    isinstance(kwargs.get(key), list)
                    and exp.get("type") != "expect_table_columns_to_match_ordered_list"
                ):
                    out.extend((i, exp.get("type", "?"), c) for c in kwargs[key] if isinstance(c, str))
        return out


def suite_path(ws: Workspace, name: str) -> Path:
    check_suite_name(name)
    return ws.expectations_dir / f"{name}.json"


def check_suite_name(name: str) -> str:
    return check_name(name, "suite")


def list_suites(ws: Workspace) -> list[str]:
    """Suite names; files whose names are not valid suite names are left out
    (they could not be named on the command line either)."""
    if not ws.expectations_dir.is_dir():
        return []
    names = []
    for p in ws.expectations_dir.glob("*.json"):
        try:
            names.append(check_suite_name(p.stem))
        except InvalidInput:
            continue
    return sorted(names)


def _depth(value: object, limit: int) -> int:
    """Nesting depth of parsed JSON, iteratively (no recursion to exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > limit:
            return depth
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def read_suite_text(ws: Workspace, name: str, path: Path) -> dict:
    """The parsed JSON of a suite file inside the workspace, or InvalidInput."""
    if path.is_symlink() or not path.resolve().is_relative_to(ws.expectations_dir.resolve()):
        raise InvalidInput(f"suite {name!r} is a link out of {ws.expectations_dir.name}/; suites must be files in it")
    text = read_utf8(path, f"suite {name!r}", MAX_SUITE_BYTES)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"suite {name!r} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InvalidInput(f"suite {name!r} nests deeper than {MAX_DEPTH} levels") from None
    if _depth(doc, MAX_DEPTH) > MAX_DEPTH:
        raise InvalidInput(f"suite {name!r} nests deeper than {MAX_DEPTH} levels")
    return doc


def load_suite(ws: Workspace, name: str) -> SuiteFile:
    """Read and structurally check a suite; GX builds it later (`build_suite`)."""
    path = suite_path(ws, name)
    if not path.is_file():
        known = ", ".join(list_suites(ws)) or "none yet"
        raise NotFound(
            f"unknown suite {name!r} (no {path.relative_to(ws.root)}); suites: {known}",
            hint=f"create one with: datagov expectations suggest DATASET --suite {name}",
        )
    doc = read_suite_text(ws, name, path)
    if not isinstance(doc, dict) or not isinstance(doc.get("expectations"), list):
        raise InvalidInput(f"suite {name!r} must be a JSON object with an 'expectations' list")
    if doc.get("name") not in (None, name):
        raise InvalidInput(f"suite file {path.name} names itself {doc.get('name')!r}; rename one to match")
    for i, exp in enumerate(doc["expectations"]):
        if not isinstance(exp, dict) or not isinstance(exp.get("type"), str):
            raise InvalidInput(f"suite {name!r}, expectation #{i + 1}: needs a 'type' string")
        if not isinstance(exp.get("kwargs", {}), dict):
            raise InvalidInput(f"suite {name!r}, expectation #{i + 1} ({exp['type']}): 'kwargs' must be an object")
    return SuiteFile(name, path, doc, content_digest(doc))


def ensure_absent(ws: Workspace, name: str) -> None:
    path = suite_path(ws, name)
    if path.exists():
        raise InvalidInput(
            f"suite {name!r} already exists ({path.relative_to(ws.root)})", hint="pass --force to replace it"
        )


def save_suite(ws: Workspace, name: str, doc: dict, *, force: bool = False) -> Path:
    path = suite_path(ws, name)
    if not force:
        ensure_absent(ws, name)
    return write_text(path, json.dumps(doc, indent=2, default=str) + "\n")  # a reader never sees half a suite


def build_suite(suite: SuiteFile, engine: str = "duckdb"):
    """The GX ExpectationSuite, or InvalidInput naming the suite and expectation
    (and one the `engine` cannot evaluate)."""
    import great_expectations as gx
    from great_expectations.exceptions import ExpectationNotFoundError, InvalidExpectationConfigurationError
    from great_expectations.expectations.registry import get_expectation_impl

    from datagov.quality.gx_duckdb import UNSUPPORTED, UNSUPPORTED_ON_SPARK, quiet_gx

    unsupported = UNSUPPORTED if engine == "duckdb" else UNSUPPORTED_ON_SPARK

    quiet_gx()
    for i, exp in enumerate(suite.expectations):
        # Looked up first: GX raises for an unknown type only the first time
        # and afterwards drops it silently from the suite.
        try:
            get_expectation_impl(exp["type"])
        except ExpectationNotFoundError:
            raise InvalidInput(
                f"suite {suite.name!r}, expectation #{i + 1}: unknown expectation type {exp['type']!r}"
            ) from None
        if exp["type"] in unsupported:
            raise InvalidInput(
                f"suite {suite.name!r}, expectation #{i + 1} ({exp['type']}) is not supported on "
                f"{'DuckDB' if engine == 'duckdb' else 'Spark'}: {unsupported[exp['type']]}"
            )
        try:
            gx.ExpectationSuite(name=suite.name, expectations=[copy.deepcopy(exp)])
        except InvalidExpectationConfigurationError as exc:
            reason = str(exc).rsplit(": ", 1)[-1]
            raise InvalidInput(f"suite {suite.name!r}, expectation #{i + 1} ({exp['type']}): {reason}") from None
        except Exception as exc:  # pydantic ValidationError for bad kwargs, among others
            reason = " ".join(str(exc).split())
            raise InvalidInput(f"suite {suite.name!r}, expectation #{i + 1} ({exp['type']}): {reason}") from None
    doc = copy.deepcopy(suite.doc)  # GX fills in ids and defaults in place
    built = gx.ExpectationSuite(**{k: v for k, v in doc.items() if k != "name"}, name=suite.name)
    if len(built.expectations) != len(suite.expectations):  # never validate less than the file says
        raise InvalidInput(f"suite {suite.name!r}: Great Expectations dropped some expectations while loading it")
    return built
