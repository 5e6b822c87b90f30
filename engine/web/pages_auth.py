"""Sign-in and sign-out: a token (typed, or a one-time link) exchanged for a session cookie.

The sign-in form has no session yet, so its CSRF secret is a random value kept in
a short-lived ``SameSite=Strict`` cookie and echoed in the form (double submit):
another site can neither read it nor make the browser send it.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from engine.web.context import deps_of, safe_next, web_state
from engine.web.render import page, secure
from engine.web.sessions import PRE_COOKIE, SESSION_COOKIE, Session, same_secret, who_holds

router = APIRouter(include_in_schema=False)


def _signed_in(request: Request, session: Session, target: str) -> Response:
    response = RedirectResponse(safe_next(target), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.id,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(PRE_COOKIE, path="/ui/signin", httponly=True, samesite="strict")
    secure(response)
    return response


def _form(request: Request, error: str = "", status: int = 200) -> Response:
    pre = secrets.token_urlsafe(24)
    response = page(
        "signin.html",
        status=status,
        title="登录 Sign in",
        user=None,
        csrf=pre,
        next=safe_next(request.query_params.get("next")),
        error=error,
    )
    response.set_cookie(
        PRE_COOKIE, pre, httponly=True, samesite="strict", max_age=1800, path="/ui/signin"
    )
    return response


@router.get("/ui/signin")
def signin_page(request: Request) -> Response:
    """The sign-in form; with ``?token=`` a one-time token from ``yishi serve`` signs in."""
    token = request.query_params.get("token")
    if token:
        principal = web_state(request).sessions.use_one_time(token)
        if principal is None:
            return _form(
                request, "这个一次性登录链接已用过或无效 / this one-time link is spent", 401
            )
        session = web_state(request).sessions.open(principal)
        return _signed_in(request, session, request.query_params.get("next") or "/ui/cases")
    return _form(request)


@router.post("/ui/signin")
async def signin(request: Request) -> Response:
    """Exchange a token for a session cookie (never the token itself)."""
    form = await request.form()
    given = form.get("csrf")
    expected = request.cookies.get(PRE_COOKIE, "")
    if not isinstance(given, str) or not same_secret(given, expected):
        return _form(request, "表单已过期，请重试 / the form expired; try again", 403)
    token = form.get("token")
    principal = who_holds(deps_of(request).tokens, token) if isinstance(token, str) else None
    if principal is None:
        return _form(request, "令牌无效 / the token is not valid", 401)
    session = web_state(request).sessions.open(principal)
    target = form.get("next")
    return _signed_in(request, session, target if isinstance(target, str) else "/ui/cases")


@router.post("/ui/signout")
async def signout(request: Request) -> Response:
    """End the session and drop the cookie (CSRF-checked like every form)."""
    from engine.web.context import check_csrf, session_of

    session = session_of(request)
    check_csrf(session, await request.form())
    web_state(request).sessions.close(session.id)
    response = RedirectResponse("/ui/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    secure(response)
    return response
