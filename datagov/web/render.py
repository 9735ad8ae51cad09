"""HTML pages from Jinja2 templates, every value autoescaped, with the
headers that keep a page from running anything it did not ship."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse

from datagov.lineage import short_version
from datagov.units import human_bytes

# No script at all, styles and images only from the desk itself, never framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the sign-in link carries the token
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


@functools.cache
def _environment():
    from jinja2 import ChainableUndefined, Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("datagov.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=ChainableUndefined,  # documents vary (old receipts lack newer keys): a missing one renders empty
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, short=short_digest, q=lambda s: quote(str(s), safe=""), size=human_bytes,
                       version=short_version)  # fmt: skip
    return env


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    session = getattr(request.state, "session", None)
    html = _environment().get_template(template).render(session=session, path=request.url.path, **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def when(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime("%Y-%m-%d %H:%M")


def short_digest(value: Any) -> str:
    return str(value or "-")[:12]
