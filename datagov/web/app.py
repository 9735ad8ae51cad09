"""The desk's ASGI application: who is asking, what went wrong, and the
routes (`routes_*.py`). `create_app` is what `datagov serve` runs and what
the tests drive."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from importlib.resources import files
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from datagov.errors import DatagovError, IntegrityError, InvalidInput, LockTimeout, NotFound, PermissionDenied
from datagov.web.auth import COOKIE, DatabaseDoor, Session, Sessions, SignInRequired, TokenDoor
from datagov.web.cache import Documents
from datagov.web.render import SECURITY_HEADERS, page
from datagov.workspace import Workspace

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass
class Desk:
    """What every request reads: the workspace, how people sign in, the sessions issued."""

    ws: Workspace
    door: TokenDoor | DatabaseDoor
    sessions: Sessions
    documents: Documents = field(default_factory=Documents)

    @property
    def team(self) -> bool:
        return isinstance(self.door, DatabaseDoor)


def desk_of(request: Request) -> Desk:
    return request.app.state.desk


def signed_in(request: Request) -> Session:
    """The caller's session, from a bearer token or the session cookie; SignInRequired otherwise."""
    desk = desk_of(request)
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    session = None
    if scheme.lower() == "bearer" and credential:
        if isinstance(desk.door, TokenDoor):
            session = Session("bearer", desk.door.user, "") if desk.door.matches(credential.strip()) else None
        else:
            session = desk.sessions.find(credential.strip())
        session = replace(session, bearer=True) if session else None
    elif request.cookies.get(COOKIE):
        session = desk.sessions.find(request.cookies[COOKIE])
    if session is None:
        raise SignInRequired(
            "sign in first: your session is missing, expired or was not issued by this server",
            hint=_sign_in_hint(desk),
        )
    request.state.session = session
    return session


def _sign_in_hint(desk: Desk) -> str:
    if desk.team:
        return "sign in at /login with your database user name and password"
    return "open the link `datagov serve` printed (it carries the token), or send Authorization: Bearer TOKEN"


def kept(request: Request, ws: Workspace, key: tuple, build):
    """A catalog document, from memory while the DuckDB file is unchanged (`cache.py`)."""
    return desk_of(request).documents.get(ws, key, build)


def workspace_for(request: Request, session: Session = Depends(signed_in)) -> Workspace:
    """The workspace as this caller: on a team catalog, connected as their database role."""
    return session.workspace(desk_of(request).ws)


async def check_csrf(request: Request, session: Session = Depends(signed_in)) -> None:
    """A state-changing request from a browser session must carry the page's CSRF token
    and come from this site; a bearer token cannot be sent by another site."""
    same_origin(request)
    if session.bearer:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        sent = (await request.form()).get(CSRF_FIELD)  # type: ignore[assignment]
    if not isinstance(sent, str) or not secrets.compare_digest(sent.encode(), session.csrf.encode()):
        raise PermissionDenied(
            "this form's CSRF token is missing or wrong", hint="reload the page and submit the form again"
        )


def same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise PermissionDenied(f"a request from {origin} may not change anything here")


STATUS = [
    (SignInRequired, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (IntegrityError, 409),
    (LockTimeout, 503),
    (InvalidInput, 400),
]


def status_of(exc: DatagovError) -> int:
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 400)


def _error_response(request: Request, status: int, message: str, hint: str | None) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message, "hint": hint}, status_code=status, headers=SECURITY_HEADERS)
    desk = desk_of(request)
    return page(request, "error.html", status=status, status_code=status, message=message, hint=hint,
                login=status == 401, team=desk.team)  # fmt: skip


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(DatagovError)
    async def datagov_error(request: Request, exc: DatagovError) -> Response:
        return _error_response(request, status_of(exc), str(exc), getattr(exc, "hint", None))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        return _error_response(request, exc.status_code, message, "start from /datasets")

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        said = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        return _error_response(request, 422, f"the request is not valid: {said}", None)


LOCAL_NAMES = ["127.0.0.1", "localhost", "[::1]"]


def create_app(ws: Workspace, door: TokenDoor | DatabaseDoor, hosts: list[str] | None = None) -> FastAPI:
    """The desk for `ws`; `hosts`: the names it answers to besides this machine's own."""
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    from datagov.web import routes_data, routes_desk, routes_login, routes_models

    app = FastAPI(
        title="datagov review desk",
        description="The catalog's evidence, as the CLI's --json prints it. Sign in with the token "
        "`datagov serve` printed (Authorization: Bearer TOKEN) or, on a team catalog, POST /api/session.",
        docs_url=None,  # the interactive docs load scripts from a CDN; the schema is at /api/openapi.json
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.desk = Desk(ws, door, Sessions())
    # a page on another host name that resolves to this machine cannot talk to the desk (DNS rebinding)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=[*LOCAL_NAMES, *(hosts or [])])
    _install_errors(app)
    for module in (routes_login, routes_data, routes_models, routes_desk):
        app.include_router(module.router)

    @app.get("/static/desk.css", include_in_schema=False)
    def stylesheet() -> Response:
        css = files("datagov.web").joinpath("static/desk.css").read_text(encoding="utf-8")
        return Response(css, media_type="text/css", headers={"X-Content-Type-Options": "nosniff"})

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/datasets", status_code=303)

    return app
