"""Quoting for the SQL that datagov writes for DuckDB. Paths and column names
come from users, so every literal and identifier goes through here."""

from __future__ import annotations


def sql_str(text: str) -> str:
    """A string literal: 'it''s'."""
    return "'" + text.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A quoted identifier, inner double quotes doubled (CSV headers can hold anything)."""
    return '"' + name.replace('"', '""') + '"'
