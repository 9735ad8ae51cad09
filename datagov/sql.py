"""Quoting for the SQL that datagov writes for DuckDB. Paths and column names
come from users, so every literal and identifier goes through here."""

from __future__ import annotations


def sql_str(text: str) -> str:
    """A string literal: 'it''s'."""
    return "'" + text.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A quoted identifier, inner double quotes doubled (CSV headers can hold anything)."""
    return '"' + name.replace('"', '""') + '"'


def key_table(duck, name: str, keys: list[str]) -> None:
    """A temporary table `name(key VARCHAR)` of `keys`, passed as one list
    parameter: registering an Arrow table would import pandas (0.2 s), and
    at a million keys this is also the faster of the two."""
    duck.execute(f"CREATE OR REPLACE TEMP TABLE {sql_ident(name)} AS SELECT unnest(?::VARCHAR[]) AS key", [keys])
