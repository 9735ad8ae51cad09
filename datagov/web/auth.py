"""Who is asking: sessions, sign-in and CSRF tokens for the web desk.

Two ways in, by catalog:
- the DuckDB file: the server prints a random token at start (as notebook
  servers do); `/login?token=…` trades it for a session cookie, and API
  clients send it as `Authorization: Bearer …`. Only whoever can read the
  terminal can act, as the user who started the server.
- PostgreSQL: users sign in with their database credentials; the server
  keeps them in memory for the session and opens the catalog with them for
  each request, so the database decides every read and write as it does on
  the CLI. A wrong password is the database's refusal, not the server's.

Sessions live in this process only (a restart signs everyone out). A
cookie session must send its CSRF token with every state-changing request;
a bearer token cannot be sent by another site, so it needs none.
"""

from __future__ import annotations

import getpass
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from datagov.errors import DatagovError, PermissionDenied
from datagov.workspace import Workspace

COOKIE = "datagov_session"
IDLE_SECONDS = 60 * 60  # a session unused this long is over
LIFETIME_SECONDS = 12 * 60 * 60  # and none lasts longer than this


class SignInRequired(DatagovError):
    """No session, or one that expired or was never issued (HTTP 401)."""


@dataclass
class Session:
    id: str
    user: str
    catalog_url: str  # "" on the DuckDB file; else the catalog URL with this user's credentials
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    created: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)
    bearer: bool = False  # authenticated by a header a browser never adds by itself: no CSRF token needed

    def workspace(self, ws: Workspace) -> Workspace:
        return ws.as_user(self.catalog_url) if self.catalog_url else ws

    def live(self, at: float) -> bool:
        return at - self.seen < IDLE_SECONDS and at - self.created < LIFETIME_SECONDS


class Sessions:
    """The sessions this server issued, by their random id."""

    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, user: str, catalog_url: str = "") -> Session:
        session = Session(secrets.token_urlsafe(32), user, catalog_url)
        with self._lock:
            self._by_id[session.id] = session
        return session

    def find(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        at = time.monotonic()
        with self._lock:
            found = self._by_id.get(session_id)
            if found is None:
                return None
            if not found.live(at):
                del self._by_id[session_id]
                return None
            found.seen = at
            return found

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._by_id.pop(session_id or "", None)


class TokenDoor:
    """The DuckDB file: one random token, printed by `datagov serve`."""

    mode = "token"

    def __init__(self, token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(32)
        self.user = getpass.getuser()

    def matches(self, token: str | None) -> bool:
        return bool(token) and secrets.compare_digest(str(token).encode(), self.token.encode())


class DatabaseDoor:
    """PostgreSQL: the database checks the credentials, and every request runs as that role."""

    mode = "database"

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def sign_in(self, user: str, password: str) -> tuple[str, str]:
        """(the role the database says signed in, the catalog URL to act as it), or PermissionDenied."""
        from datagov.catalog import team
        from datagov.catalog.db import open_catalog

        if not user or not password:
            raise PermissionDenied("sign in with your database user name and password")
        url = with_credentials(self.ws.catalog_url, user, password)
        try:
            with open_catalog(self.ws.as_user(url)) as con:
                return team.who(con), url
        except DatagovError as exc:
            said = str(exc).lower()
            if "authentication failed" in said or re.search(r'role "[^"]*" does not exist', said):
                # one message for a wrong password and an unknown role: the page does not tell which roles exist
                raise PermissionDenied("the database refused this user name and password") from None
            raise  # anything else (the server down, its database gone) is not the user's credentials


def with_credentials(url: str, user: str, password: str) -> str:
    """`url` signing in as `user`: any user or password it named (in the
    authority or the query) replaced, so the server's own never leaks into a session."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    query = [(k, v) for k, v in parse_qsl(parts.query) if k.lower() not in ("user", "password", "passfile")]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))
