"""The workbench: server-rendered pages for staff and auditors, beside the JSON API.

``mount_workbench(app)`` adds the pages under ``/ui/`` (``/`` leads there), the
package's own CSS and JS under ``/ui/static/``, and the session table. Pages go
through the API's services and the engine's calls with the signed-in token's
actor, so a page can do nothing the API would refuse. See docs/workbench.md.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from engine.web.context import BadForm, SignInNeeded, WebState, to_signin
from engine.web.render import package_dir, page, secure
from engine.web.scope import Refused
from engine.web.sessions import Session, SessionTable, who_holds

__all__ = ["Session", "SessionTable", "WebState", "mount_workbench", "who_holds"]


def mount_workbench(app: FastAPI, sessions: SessionTable | None = None) -> SessionTable:
    """Add the workbench to the API's application.

    Args:
        app: what ``create_app`` built.
        sessions: the session table (a new one when None); ``yishi serve`` passes one
            holding the local first-run token.

    Returns:
        The session table in use.
    """
    from engine.web import (
        pages_audit,
        pages_auth,
        pages_cases,
        pages_documents,
        pages_procedures,
    )

    table = sessions or SessionTable()
    app.state.web = WebState(sessions=table)
    app.include_router(pages_auth.router)
    app.include_router(pages_cases.router)
    app.include_router(pages_documents.router)
    app.include_router(pages_procedures.router)
    app.include_router(pages_audit.router)
    app.mount("/ui/static", StaticFiles(directory=package_dir("static")), name="ui-static")

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        # A browser (it asks for HTML) is led to the workbench; an API client asking
        # for / keeps getting the API's 404 problem, as before the workbench existed.
        if "text/html" in request.headers.get("accept", ""):
            return secure(RedirectResponse("/ui/cases", status_code=303))
        raise StarletteHTTPException(404, "Not Found")

    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        return to_signin(exc.target)

    async def bad_form(request: Request, exc: Exception) -> Response:
        return page("error.html", status=403, title="表单无效", user=None, message=str(exc))

    async def refused(request: Request, exc: Exception) -> Response:
        # The refusal the API answers 403 (already logged where it was raised).
        assert isinstance(exc, Refused)
        return page(
            "error.html", status=403, title="无权限 Forbidden", user=exc.session, message=str(exc)
        )

    app.add_exception_handler(SignInNeeded, sign_in_needed)
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(BadForm, bad_form)
    return table
