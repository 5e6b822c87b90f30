"""What every workbench page shares: the signed-in session, CSRF checks, and the engine.

A page either has a live session (from the cookie) or sends the browser to the
sign-in page; a form post must also carry the session's CSRF secret. The engine
(and through it the store and the compiled procedures) is the API's own
``Services``, and the actor recorded is the one the API would record for the
same token (``actor_of``), so a page can do nothing the API would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse

from engine.server.deps import Services, services
from engine.web.render import secure
from engine.web.sessions import SESSION_COOKIE, Session, SessionTable, same_secret


@dataclass(frozen=True, slots=True, kw_only=True)
class WebState:
    """The workbench's own state beside the API's services."""

    sessions: SessionTable


def web_state(request: Request) -> WebState:
    """The workbench state (set when the workbench is mounted)."""
    found: WebState = request.app.state.web
    return found


class SignInNeeded(Exception):
    """No live session: the browser is sent to the sign-in page."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class BadForm(Exception):
    """A form without the session's CSRF secret (or otherwise not from our page)."""


def session_of(request: Request) -> Session:
    """The live session of this browser.

    Raises:
        SignInNeeded: when there is none.
    """
    found = web_state(request).sessions.get(request.cookies.get(SESSION_COOKIE))
    if found is None:
        here = request.url.path
        if request.url.query:
            here += "?" + request.url.query
        raise SignInNeeded(here if request.method == "GET" else "/ui/cases")
    return found


def check_csrf(session: Session, form: FormData) -> None:
    """Refuse a form that does not carry this session's CSRF secret.

    Raises:
        BadForm: when it does not.
    """
    given = form.get("csrf")
    if not isinstance(given, str) or not same_secret(given, session.csrf):
        raise BadForm("this form is stale or did not come from this site; reload the page")


def deps_of(request: Request) -> Services:
    """The API's services: the engine and the token table."""
    return services(request)


def to_signin(target: str) -> RedirectResponse:
    """A redirect to the sign-in page that comes back to ``target``."""
    response = RedirectResponse(f"/ui/signin?next={quote(target, safe='/')}", status_code=303)
    secure(response)
    return response


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of ours only (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/ui/cases"
    return target
