"""URLs as datagov prints them: credentials in a URL (user:secret@) are never echoed."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact(url: str) -> str:
    """A URL as printed: credentials in it (user:secret@) are never echoed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if _port(parts) else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _port(parts) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


def without_password(url: str) -> str:
    """A URL with its user kept and its password dropped: to write into a config file."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" + (f":{parts.port}" if _port(parts) else "")
    return urlunsplit(parts._replace(netloc=netloc))
