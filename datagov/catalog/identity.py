"""Who the catalog says you are, and what it lets you do: for `catalog status`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datagov.catalog import approvals, team
from datagov.catalog.db import is_postgres
from datagov.catalog.migrations import current_version

if TYPE_CHECKING:
    from datagov.catalog.db import Connection


def describe(con: Connection, name: str) -> dict:
    facts: dict[str, Any] = {
        "catalog": name,
        "backend": "postgresql" if is_postgres(con) else "duckdb",
        "schema": current_version(con),
        "identity": team.who(con),
        "authenticated": team.authenticated(con),
    }
    if is_postgres(con):
        facts["roles"] = [r for r in team.ROLES if _member(con, r)]
        facts["protected_aliases"] = approvals.protected_aliases(con)
    return facts


def _member(con: Connection, role: str) -> bool:
    row = con.execute("SELECT datagov_member(?)", [role]).fetchone()
    return bool(row and row[0])
