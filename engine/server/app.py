"""The FastAPI application: routes, the engine's exceptions as problems, health and readiness.

``create_app`` takes an ``Engine`` (and so a store) and a token table; it holds no
state of its own (compiled procedures are the engine's, in one bounded cache). Every engine error is
answered with the problem status and ``code`` its class declares (``engine.errors``);
anything unexpected is a 500 problem whose details go to the log, never to the client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import EngineError, Forbidden, InvalidData, ProcedureInvalid, StoreError
from engine.runtime.engine import Engine
from engine.server.access import log_refusal
from engine.server.auth import TokenTable
from engine.server.deps import Services, services
from engine.server.fast_fire import FastFire
from engine.server.lean_protocol import LeanEvents
from engine.server.limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_IN_FLIGHT,
    DEFAULT_MAX_BODY,
    ASGIApp,
    BodyLimit,
    InFlightLimit,
    Receive,
    Scope,
    Send,
)
from engine.server.models import Health
from engine.server.problems import (
    ProblemError,
    documented,
    error_response,
    log_failure,
    problem_response,
)
from engine.server.routes_procedures import located
from engine.web import SessionTable, mount_workbench

_log = logging.getLogger("yishi.server")

DESCRIPTION = """\
The yishi engine over HTTP: register procedures (YAML), open cases, fire events as the
actor your bearer token names, read, verify and replay the hash-chained audit.

Errors are RFC 9457 problems (`application/problem+json`) with a `code`; a refused
attempt is recorded in the audit and answered 422 with the engine's reason.
See docs/embedding.md.
"""


def create_app(
    engine: Engine,
    tokens: TokenTable,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    in_flight: int = DEFAULT_IN_FLIGHT,
    sessions: SessionTable | None = None,
    fast_fire: bool = True,
) -> FastAPI:
    """The HTTP API over ``engine``.

    Args:
        engine: the engine (its store holds procedures and cases).
        tokens: who may call, as whom.
        max_body: the largest request body in bytes (413 above it).
        body_timeout: seconds a client has to send a body (408 after it).
        in_flight: requests in progress (bodies received) beyond which new ones get 503.
        sessions: the workbench's browser sessions (a new table when None).
        fast_fire: answer well-formed event attempts without FastAPI's machinery
            (``engine.server.fast_fire``); False only to compare the two. The
            application's ``state.lean`` is then the ``LeanEvents`` that
            ``yishi serve``'s protocol answers them with (else None).

    Returns:
        The ASGI application.
    """
    from engine.server import (
        routes_audit,
        routes_cases,
        routes_documents,
        routes_migrations,
        routes_procedures,
    )

    app = _Api(
        title="yishi",
        version="0.1.0",
        summary="Governance procedures as audited state machines",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = Services(engine=engine, tokens=tokens)
    app.include_router(routes_procedures.router)
    app.include_router(routes_cases.router)
    app.include_router(routes_audit.router)
    app.include_router(routes_documents.router)
    app.include_router(routes_migrations.router)
    _add_health(app)
    _add_handlers(app)
    mount_workbench(app, sessions)
    # Bodies are read before a request counts as in flight, and the lean event path
    # runs within both limits; all three come before FastAPI's own layers.
    inner: ASGIApp = app.whole
    fast = None
    if fast_fire:
        inner = fast = FastFire(inner, api=app)
    limit = InFlightLimit(inner, limit=in_flight)
    app.front = body = BodyLimit(limit, max_body=max_body, body_timeout=body_timeout)
    # Below ASGI, ``yishi serve``'s protocol answers event attempts with these same layers.
    app.state.lean = None
    if fast is not None:
        app.state.lean = LeanEvents(api=app, fast=fast, in_flight=limit, body=body)
    return app


class _Api(FastAPI):
    """FastAPI behind the request limits and the lean event path.

    They run before FastAPI's own layers (its error, telemetry and body-size
    middleware, Starlette's router), not among them: a request they answer —
    an event attempt through ``engine.server.fast_fire``, or a refusal for size,
    time or load — then costs none of that work. Everything else goes on to
    FastAPI as it came.
    """

    front: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve through the limits, then the lean path, then FastAPI."""
        scope["app"] = self
        await self.front(scope, receive, send)

    async def whole(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI itself, with all its layers."""
        await super().__call__(scope, receive, send)


def _add_health(app: FastAPI) -> None:
    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Health:
        """Liveness: the process answers (no token needed)."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["health"], responses=documented(503))
    def readyz(request: Request) -> Health:
        """Readiness: the store answers a read (no token needed); 503 when it does not."""
        services(request).engine.ping()
        return Health(status="ok")


def _violations_of(exc: RequestValidationError) -> list[dict[str, str]]:
    found = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        found.append({"path": where, "message": str(error.get("msg", ""))})
    return found


def _add_handlers(app: FastAPI) -> None:
    # The status and code of an engine error come from its class; the handlers below
    # only add what some errors carry besides their message, or log them.
    async def refused_at_door(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Forbidden)
        log_refusal(request, str(exc))
        return error_response(exc)

    async def problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(
            exc.status, exc.code, exc.detail, extra=exc.extra, headers=exc.headers
        )

    async def invalid_data(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InvalidData)
        return error_response(exc, extra={"violations": exc.violations})

    async def invalid_procedure(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProcedureInvalid)
        problems = [located(p).model_dump() for p in exc.problems]
        errors = sum(1 for p in exc.problems if p.severity == "error")
        first = next(str(p) for p in exc.problems if p.severity == "error")
        detail = f"{errors} error(s); the first: {first}"
        return error_response(exc, detail, extra={"violations": problems})

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        violations = _violations_of(exc)
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return problem_response(
                400,
                "malformed-body",
                "the body is not valid JSON",
                extra={"violations": violations},
            )
        detail = "; ".join(f"{v['path']}: {v['message']}" for v in violations)
        return problem_response(422, "invalid-request", detail, extra={"violations": violations})

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "invalid-request")
        headers: dict[str, Any] = dict(exc.headers or {})
        return problem_response(exc.status_code, code, str(exc.detail), headers=headers)

    async def store_down(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StoreError)
        _log.error("store error on %s %s: %s", request.method, request.url.path, exc)
        return error_response(exc, "the store cannot be reached; retry later")

    async def engine_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EngineError)
        if exc.http_status >= 500:
            # An error no class answers for is a fault of ours: its words (which may
            # name internals) go to the log, as an unexpected exception's do.
            log_failure(_log, f"engine error on {request.method} {request.url.path}", exc)
            return error_response(exc, "an unexpected error; see the server log")
        return error_response(exc)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log_failure(_log, f"unexpected error on {request.method} {request.url.path}", exc)
        return problem_response(500, "internal-error", "an unexpected error; see the server log")

    app.add_exception_handler(Forbidden, refused_at_door)
    app.add_exception_handler(ProblemError, problem)
    app.add_exception_handler(InvalidData, invalid_data)
    app.add_exception_handler(ProcedureInvalid, invalid_procedure)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(StoreError, store_down)
    app.add_exception_handler(EngineError, engine_error)
    app.add_exception_handler(Exception, unexpected)
