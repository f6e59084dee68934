"""The sign-in page: a person gives his key once and gets a session cookie (the key never
travels in a URL); sign-out ends the session. Not in the OpenAPI document: pages, not API."""
from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import Connection

from gis import sessions

from ..deps import SESSION_COOKIE, connection
from ..pages import local_path, render
from ..problems import Problem

router = APIRouter(include_in_schema=False)
MAX_FORM = 4_000


def _secure(request: Request) -> bool:
    # Secure over HTTPS, and on loopback, where browsers treat http as a secure context; an
    # intranet server on plain http gets a cookie without it (it would never come back).
    return request.url.scheme == "https" or request.url.hostname in ("127.0.0.1", "localhost", "::1")


@router.get("/signin")
def signin_page(request: Request, next: str | None = None):
    return render(request, "signin.html", {"next": local_path(next), "error": None})


@router.post("/signin")
async def signin(request: Request, conn: Connection = Depends(connection)):
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    if origin and origin != own:
        raise Problem(403, f"sign-in comes from this server's own page (Origin {origin}, expected {own})")
    body = await request.body()
    if len(body) > MAX_FORM:
        raise Problem(413, f"the sign-in form is larger than {MAX_FORM} bytes")
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    target = local_path(form.get("next"))
    key = (form.get("key") or "").strip()
    with conn.begin():
        started = sessions.start(conn, key) if key else None
    if started is None:
        why = "Give your API key." if not key else "That key is unknown or revoked."
        return render(request, "signin.html", {"next": target, "error": why}, status=401)
    _, token, until = started
    out = RedirectResponse(target, status_code=303)
    out.set_cookie(SESSION_COOKIE, token, max_age=int(sessions.session_hours() * 3600), path="/",
                   httponly=True, samesite="strict", secure=_secure(request))
    return out


@router.post("/signout")
def signout(request: Request, conn: Connection = Depends(connection)):
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with conn.begin():
            sessions.end(conn, token)
    out = RedirectResponse("/signin", status_code=303)
    out.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return out
