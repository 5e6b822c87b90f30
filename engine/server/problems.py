"""RFC 9457 problem details: every error the API returns, with the engine's own reasons.

A problem is ``application/problem+json`` with ``type``, ``title``, ``status``,
``detail`` and our ``code`` (one stable word per kind of problem; ``type`` is
``urn:yishi:problem:<code>``). Where the engine gave more, the problem carries it:
``violations`` (each with its ``path`` and ``message``), ``guards`` (each guard's
inputs, result and explanation), and for a refused attempt the ``case``/``seq`` it
was recorded at. ``docs/embedding.md`` lists the codes.

An engine error is answered with the status and code its class declares
(``EngineError.http_status`` and ``problem_code`` in ``engine.errors``): this
module keeps no table of errors of its own.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

from engine.errors import EngineError

PROBLEM_TYPE = "application/problem+json"

MAX_LOGGED_FRAMES = 12
"""The innermost frames of a traceback that reach the server log."""
MAX_LOG_ENTRY = 8 * 1024
"""Characters of one logged failure at most: a request never writes more than this."""

TITLES: dict[str, str] = {
    "unauthenticated": "A valid bearer token is required",
    "forbidden": "This token may not do that",
    "not-found": "No such resource",
    "unknown-case": "No such case",
    "unknown-procedure": "No such procedure version",
    "method-not-allowed": "Method not allowed here",
    "invalid-request": "The request does not match the API",
    "malformed-body": "The body cannot be parsed",
    "body-too-large": "The request body is too large",
    "body-timeout": "The request body arrived too slowly",
    "unsupported-media-type": "Unsupported media type",
    "procedure-invalid": "The procedure has errors",
    "invalid-data": "The case data does not match the procedure's data schema",
    "case-exists": "A case with this id is already open",
    "conflict": "The case moved on meanwhile",
    "precondition-failed": "The case is not at the expected seq",
    "idempotency-key-reused": "This idempotency key was used for a different request",
    "procedure-version-taken": "Another text is registered under this procedure id and version",
    "time-backwards": "The event's time is before the case's last record",
    "time-out-of-range": "The procedure's wall clock cannot show the event's time",
    "deadline-out-of-range": "The deadline falls after the years a record can hold",
    "not-allowed": "The event is not allowed in this state",
    "not-authorised": "The actor holds none of the event's roles",
    "invalid-payload": "The payload does not match the event's schema",
    "guards-failed": "The event's conditions do not hold",
    "action-failed": "The event's actions could not run",
    "graphviz-missing": "SVG needs Graphviz, which is not installed",
    "store-unavailable": "The store cannot be reached",
    "overloaded": "Too many requests are in progress",
    "internal-error": "Internal error",
}


class ProblemError(Exception):
    """Raised by an endpoint to answer with a problem.

    Args:
        status: the HTTP status.
        code: a key of ``TITLES``.
        detail: what happened, for a person.
        extra: further members (``violations``, ``guards``, ``case``, ``seq``…).
        headers: response headers (``WWW-Authenticate``…).
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})


def problem_body(
    status: int, code: str, detail: str, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON members of a problem."""
    body: dict[str, Any] = {
        "type": f"urn:yishi:problem:{code}",
        "title": TITLES.get(code, code),
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update(extra or {})
    return body


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A ``application/problem+json`` response."""
    return JSONResponse(
        problem_body(status, code, detail, extra),
        status_code=status,
        media_type=PROBLEM_TYPE,
        headers=dict(headers or {}),
    )


def error_response(
    exc: EngineError, detail: str | None = None, *, extra: Mapping[str, Any] | None = None
) -> JSONResponse:
    """The problem answering an engine error: the status and code its class declares.

    Args:
        exc: the error.
        detail: what to tell the client instead of the error's message.
        extra: further members (``violations``…).

    Returns:
        An ``application/problem+json`` response.
    """
    said = str(exc) if detail is None else detail
    return problem_response(exc.http_status, exc.problem_code, said, extra=extra)


def documented(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` for problem statuses (400, 401 and 422 are added to every route).

    Args:
        statuses: the statuses an endpoint may answer with a problem.

    Returns:
        A ``responses`` mapping for a FastAPI route.
    """
    from engine.server.models import Problem

    described: dict[int | str, dict[str, object]] = {}
    for status in sorted({400, 401, 422, *statuses}):
        described[status] = {
            "model": Problem,
            "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": _STATUS_WORDS.get(status, "Problem"),
        }
    return described


_STATUS_WORDS = {
    400: "Malformed body or header",
    401: "No or unknown bearer token",
    403: "The token may not do this",
    404: "Unknown case, procedure or route",
    408: "The body arrived too slowly",
    409: "Conflict: the case exists, or moved on meanwhile",
    412: "If-Match: the case is not at that seq",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Invalid request, or the engine refused (the problem says why)",
    503: "Unavailable (store unreachable, Graphviz missing, too many requests in progress)",
}


def log_failure(logger: logging.Logger, what: str, exc: BaseException) -> None:
    """Log an unexpected failure in a bounded entry: the innermost frames, cut to a size.

    A 1.8 KB request that makes the interpreter recurse 900 times would otherwise
    write a 390 KB traceback; the last frames say where it failed, and the size of
    one entry stays below ``MAX_LOG_ENTRY`` whatever the request held.

    Args:
        logger: where to log (at ERROR).
        what: the request, e.g. ``POST /cases/x/events``.
        exc: the exception.
    """
    frames = traceback.format_tb(exc.__traceback__, limit=-MAX_LOGGED_FRAMES)
    summary = traceback.format_exception_only(type(exc), exc)
    entry = f"{what}: " + "".join([*summary, "Innermost frames:\n", *frames])
    if len(entry) > MAX_LOG_ENTRY:
        entry = entry[: MAX_LOG_ENTRY - 20] + "\n… (entry cut)"
    logger.error("%s", entry)
