"""Catalog rows by name. A row dataclass's fields are its table's columns, so
column lists and values are built from field names, never from positions: a
column added in the middle of a table, or of a SELECT, cannot be silently
assigned to the wrong field. JSON columns are named, and (de)serialised here."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from datagov.catalog.db import Connection


T = TypeVar("T")


class Cursor(Protocol):
    """An executed query, DuckDB's or psycopg's: its column names and rows."""

    @property
    def description(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


def columns(cls: type, *, skip: Iterable[str] = ()) -> list[str]:
    """The field names of a row dataclass, in order, less `skip`."""
    skipped = set(skip)
    return [f.name for f in dataclasses.fields(cls) if f.name not in skipped]


def column_list(cls: type, *, skip: Iterable[str] = ()) -> str:
    """`a, b, c`: a SELECT's column list for a row dataclass."""
    return ", ".join(columns(cls, skip=skip))


def read(cursor: Cursor, cls: type[T], *, json_columns: Iterable[str] = ()) -> list[T]:
    """Every row of an executed query as `cls`, matched by column name (fields
    the query did not select keep their defaults)."""
    names = [d[0] for d in cursor.description or []]
    return [build(cls, dict(zip(names, row, strict=True)), json_columns=json_columns) for row in cursor.fetchall()]


def read_one(cursor: Cursor, cls: type[T], *, json_columns: Iterable[str] = ()) -> T | None:
    found = read(cursor, cls, json_columns=json_columns)
    return found[0] if found else None


def build(cls: type[T], values: dict[str, Any], *, json_columns: Iterable[str] = ()) -> T:
    decoded = dict(values)
    for name in json_columns:
        if name in decoded:
            decoded[name] = json.loads(decoded[name]) if decoded[name] else {}
    wanted = set(columns(cls))
    return cls(**{k: v for k, v in decoded.items() if k in wanted})


def insert(
    con: Connection, table: str, row: Any, *, json_columns: Iterable[str] = (), skip: Iterable[str] = ()
) -> None:
    """INSERT one row dataclass with an explicit column list. Tables that
    record who made a row get `created_by` from the connection, never from
    the row (on PostgreSQL a trigger sets it again from the login)."""
    from datagov.catalog.team import STAMPED, who

    names = [n for n in columns(type(row), skip=skip) if n != "created_by"]
    encoded = set(json_columns)
    values = [_encode(getattr(row, n)) if n in encoded else getattr(row, n) for n in names]
    if table in STAMPED:
        names.append("created_by")
        values.append(who(con))
    con.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", values)


def _encode(value: Any) -> str | None:
    """JSON text, NULL for None (so `IS NULL` still finds a value never given)."""
    return None if value is None else json.dumps(value, default=str)
