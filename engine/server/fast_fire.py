"""A lean path for ``POST /cases/{id}/events``, the API's hot call: same answers, less work.

Through FastAPI, firing an event cost about three times the engine's own work
(bench/http_bench.py): route matching over every route, dependency solving, the pydantic
body model and header validation, and FastAPI's own middleware layers. This ASGI
middleware sits inside the body and in-flight limits, in front of all of FastAPI
(``create_app``), and takes only a request that is plainly well formed — the
path's case id, a bearer token in the token file, at most one of each header it
reads, each matching its pattern, a JSON object body of ``event`` and
``payload`` of the right types. Everything else (a missing or unknown token, a
malformed header, an unparsable or unexpected body…) goes on to the FastAPI
route unchanged, with the body replayed, so every refusal keeps its exact
problem; no work with a side effect has been done by then.

A request it takes is answered by ``routes_cases.fire_checked``, the route's own
code from the door on, in a thread pool of its own; an exception is answered by the
application's own exception handlers. So the door (403/404), exact JSON, ``If-Match``,
idempotency and the outcome JSON are the route's, byte for byte. Under ``yishi
serve`` the HTTP protocol takes such a request before ASGI, with this class's
checks and firing (``engine.server.lean_protocol``); this layer answers the rest.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from engine.server.auth import Principal
from engine.server.deps import Services
from engine.server.limits import ASGIApp, Message, Receive, Scope, Send
from engine.server.models import CASE_ID, EVENT_ID, IDEMPOTENCY_KEY
from engine.server.routes_cases import IF_MATCH, fire_checked

if TYPE_CHECKING:
    from fastapi import FastAPI


def _whole(pattern: str) -> re.Pattern[str]:
    # The models' patterns are anchored with ^…$ for pydantic, whose $ is the very end;
    # Python's $ also matches before a final newline, so match the core as a whole.
    assert pattern.startswith("^") and pattern.endswith("$"), pattern
    return re.compile(pattern[1:-1])


_PATH = re.compile(r"/cases/([^/]+)/events")
_CASE_ID = _whole(CASE_ID)
_EVENT_ID = _whole(EVENT_ID)
_IDEMPOTENCY_KEY = _whole(IDEMPOTENCY_KEY)
_IF_MATCH = _whole(IF_MATCH)
_JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8"})
_HEADERS = frozenset({b"authorization", b"content-type", b"idempotency-key", b"if-match"})
_BODY_KEYS = frozenset({"event", "payload"})
MAX_FAST_BODY = 64 * 1024
"""Larger bodies go to the route unread here: an event's body is a few hundred bytes, and
one that is not taken would otherwise be parsed twice (on the event loop, both times)."""
FIRE_THREADS = 40
"""Threads firing events at once (as many as FastAPI's pool gives its endpoints)."""


@cache
def _threads() -> ThreadPoolExecutor:
    # One pool per process, made on first use. A plain executor hop costs less than
    # anyio's worker-thread machinery (about 45 against 56 us a call, measured).
    return ThreadPoolExecutor(FIRE_THREADS, thread_name_prefix="yishi-fire")


class FastFire:
    """ASGI middleware: fire well-formed events directly; hand anything else to ``app``.

    Args:
        app: FastAPI, with all its layers (``create_app`` puts this path in front of them).
        api: the FastAPI application, for its services and exception handlers.
    """

    def __init__(self, app: ASGIApp, *, api: FastAPI) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a well-formed event attempt; pass everything else on untouched."""
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope.get("root_path")
            or not scope["path"].endswith("/events")
        ):
            await self.app(scope, receive, send)
            return
        first = await receive()
        attempt = None
        body = first.get("body", b"")
        if (
            first["type"] == "http.request"
            and not first.get("more_body", False)
            and len(body) <= MAX_FAST_BODY
        ):
            attempt = self._well_formed(scope, body)
        if attempt is None:
            await self.app(scope, _replay(first, receive), send)
            return
        # The context goes along, as with the route (anyio copies it), should a log bind there.
        run = contextvars.copy_context().run
        try:
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(_threads(), run, self._fire, scope, attempt)
        except Exception as exc:
            response = await self._handled(scope, exc)
        await response(scope, receive, send)

    def _well_formed(self, scope: Scope, body: bytes) -> _Attempt | None:
        """The attempt, when the request is one the route would accept as it is; else None."""
        matched = _PATH.fullmatch(scope["path"])
        if matched is None or _CASE_ID.fullmatch(matched[1]) is None:
            return None
        found: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in _HEADERS:
                if name in found:
                    return None  # which one FastAPI would read is its business
                found[name] = value.decode("latin-1")
        kind = found.get(b"content-type")  # FastAPI reads JSON only when it is declared
        if kind is None or kind.lower() not in _JSON_TYPES:
            return None
        caller = self._caller(found.get(b"authorization"))
        if caller is None:
            return None
        key = found.get(b"idempotency-key")
        if key is not None and _IDEMPOTENCY_KEY.fullmatch(key) is None:
            return None
        if_match = found.get(b"if-match")
        if if_match is not None and _IF_MATCH.fullmatch(if_match) is None:
            return None
        try:
            document = json.loads(body)  # the reader FastAPI uses, so the same values
        except Exception:  # whatever it is, the route answers it
            return None
        if type(document) is not dict or not document.keys() <= _BODY_KEYS:
            return None
        event = document.get("event")
        payload = document.get("payload", {})
        if type(event) is not str or _EVENT_ID.fullmatch(event) is None:
            return None
        if type(payload) is not dict:
            return None
        return _Attempt(
            case_id=matched[1],
            event=event,
            payload=payload,
            caller=caller,
            idempotency_key=key,
            if_match=if_match,
        )

    def _caller(self, authorization: str | None) -> Principal | None:
        if authorization is None:
            return None
        scheme, _, token = authorization.partition(" ")
        # Only the plain form; whatever HTTPBearer would read differently goes to the route.
        if scheme.lower() != "bearer" or not token or token != token.strip() or " " in token:
            return None
        return self._services().tokens.lookup(token)

    def _services(self) -> Services:
        found: Services = self.api.state.services
        return found

    def _fire(self, scope: Scope, attempt: _Attempt) -> Response:
        request = Request(scope)
        request.state.principal = attempt.caller  # for the log line of a refusal at the door
        return fire_checked(
            self._services(),
            attempt.caller,
            request,
            attempt.case_id,
            event=attempt.event,
            payload=attempt.payload,
            idempotency_key=attempt.idempotency_key,
            if_match=attempt.if_match,
        )

    async def _handled(self, scope: Scope, exc: Exception) -> Response:
        """The answer the application's exception handlers give ``exc`` (most specific first)."""
        handlers = self.api.exception_handlers
        for kind in type(exc).__mro__:
            handler = handlers.get(kind)
            if handler is not None:
                answer = handler(Request(scope), exc)  # create_app's are coroutines
                if inspect.isawaitable(answer):
                    answer = await answer
                assert isinstance(answer, Response)
                return answer
        raise exc  # pragma: no cover - create_app registers a handler for Exception


@dataclass(frozen=True, slots=True, kw_only=True)
class _Attempt:
    """What a well-formed request asks for."""

    case_id: str
    event: str
    payload: dict[str, Any]
    caller: Principal
    idempotency_key: str | None
    if_match: str | None


def _replay(first: Message, receive: Receive) -> Receive:
    """``receive`` with ``first`` (already taken from it) given back first."""
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return first
        return await receive()

    return again
