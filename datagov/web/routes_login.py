"""Signing in and out: the token link on the DuckDB file, database
credentials on a team catalog, and a bearer session for API clients."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from pydantic import BaseModel, Field
from starlette.responses import RedirectResponse, Response

from datagov.errors import InvalidInput, PermissionDenied
from datagov.web.app import check_csrf, desk_of, same_origin, signed_in
from datagov.web.auth import COOKIE, LIFETIME_SECONDS, DatabaseDoor, Session, TokenDoor
from datagov.web.render import SECURITY_HEADERS, page

router = APIRouter()


def _landing(next_page: str | None) -> str:
    """Only a path on this site: never `//elsewhere` or `https://…` (an open redirect)."""
    if next_page and next_page.startswith("/") and not next_page.startswith(("//", "/\\")):
        return next_page
    return "/datasets"


def _signed_in_response(session: Session, next_page: str | None) -> Response:
    response = RedirectResponse(_landing(next_page), status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(COOKIE, session.id, max_age=LIFETIME_SECONDS, httponly=True, samesite="strict", path="/")
    return response


@router.get("/login", include_in_schema=False)
def login_page(request: Request, token: str | None = None, next: str | None = None) -> Response:
    desk = desk_of(request)
    if isinstance(desk.door, TokenDoor) and token is not None:
        if not desk.door.matches(token):
            return page(request, "login.html", status=401, team=False, failed="this token is not the one "
                        "`datagov serve` printed (a restarted server prints a new one)", next=next)  # fmt: skip
        return _signed_in_response(desk.sessions.start(desk.door.user), next)
    return page(request, "login.html", team=desk.team, failed=None, next=next)


@router.post("/login", include_in_schema=False)
def login_form(
    request: Request, user: str = Form(""), password: str = Form(""), next: str | None = Form(None)
) -> Response:
    same_origin(request)
    desk = desk_of(request)
    if not isinstance(desk.door, DatabaseDoor):
        return page(request, "login.html", status=400, team=False, next=next,
                    failed="this desk signs in with the link `datagov serve` printed")  # fmt: skip
    try:
        role, url = desk.door.sign_in(user.strip(), password)
    except PermissionDenied as exc:
        return page(request, "login.html", status=401, team=True, failed=str(exc), next=next)
    return _signed_in_response(desk.sessions.start(role, url), next)


@router.post("/logout", include_in_schema=False, dependencies=[Depends(check_csrf)])
def logout(request: Request, session: Session = Depends(signed_in)) -> Response:
    desk_of(request).sessions.end(session.id)
    response = RedirectResponse("/login", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(COOKIE, path="/")
    return response


class Credentials(BaseModel):
    user: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


@router.post("/api/session", tags=["session"])
def api_session(request: Request, credentials: Credentials) -> dict:
    """A team catalog: sign in with database credentials; send the returned token as `Authorization: Bearer`."""
    desk = desk_of(request)
    if not isinstance(desk.door, DatabaseDoor):
        raise InvalidInput("this desk is on the DuckDB file: send the token `datagov serve` printed as the bearer")
    role, url = desk.door.sign_in(credentials.user.strip(), credentials.password)
    session = desk.sessions.start(role, url)
    return {"token": session.id, "user": session.user, "expires_in": LIFETIME_SECONDS}


@router.get("/api/whoami", tags=["session"])
def whoami(request: Request, session: Session = Depends(signed_in)) -> dict:
    """Who the desk takes you for, and how (the catalog's own identity on PostgreSQL)."""
    return {"user": session.user, "team": desk_of(request).team, "csrf": session.csrf}
