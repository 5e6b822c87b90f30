"""Request limits the application enforces itself: body size and time, requests in flight.

Uvicorn bounds idle keep-alive (``timeout_keep_alive``), and
``engine.server.connections`` how long and large a request head may be; none of them
bounds a body, nor the requests in flight once their bodies are in. This
ASGI middleware reads each body before the application sees it: a declared
``Content-Length`` over the limit is answered 413 without reading anything, a
body that grows past it (chunked) is cut off with 413, and a body that trickles
in slower than ``body_timeout`` seconds in all gets 408. The application then
reads the buffered body, so no endpoint can be made to hold a thread while a
client sends slowly.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from engine.server.problems import PROBLEM_TYPE, log_failure, problem_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger("yishi.server")

DEFAULT_MAX_BODY = 1024 * 1024
"""1 MiB: the largest request body (procedure YAML included)."""
DEFAULT_BODY_TIMEOUT = 15.0
"""Seconds a client has to send its whole body."""
DEFAULT_IN_FLIGHT = 64
"""Requests (bodies received, answers not yet sent) beyond which new ones get 503."""


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: buffer each request body, at most ``max_body`` bytes and seconds.

    Args:
        app: the application.
        max_body: the largest body in bytes.
        body_timeout: seconds allowed to receive the whole body.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the application with the body read and checked first."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            await reject(send, 413, "body-too-large", self._too_large(declared))
            return
        try:
            # A deadline on this task, not ``wait_for``: that starts a task per request.
            async with asyncio.timeout(self.body_timeout):
                body = await self._read(receive)
        except _TooLarge:
            await reject(send, 413, "body-too-large", self._too_large(None))
            return
        except TimeoutError:
            await self.timed_out(send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def timed_out(self, send: Send) -> None:
        """Answer 408 ``body-timeout``: the body did not arrive within ``body_timeout``."""
        detail = f"the body did not arrive within {self.body_timeout:g} seconds"
        await reject(send, 408, "body-timeout", detail)

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _too_large(self, declared: int | None) -> str:
        size = f"{declared} bytes" if declared is not None else "more"
        return f"the body is {size}; the limit is {self.max_body} bytes"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser refuses a malformed length before we see it
    return None


async def reject(
    send: Send, status: int, code: str, detail: str, *, retry_after: int | None = None
) -> None:
    """Answer a problem and close the connection (a limit's refusal, or a failure's 500)."""
    body = json.dumps(problem_body(status, code, detail), ensure_ascii=False).encode("utf-8")
    headers = [
        (b"content-type", PROBLEM_TYPE.encode("ascii")),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"connection", b"close"),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode("ascii")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class InFlightLimit:
    """ASGI middleware: at most ``limit`` requests in flight; beyond it, 503 at once.

    It sits inside ``BodyLimit``, so a request counts once its body has arrived:
    the count bounds the work queued for the engine's threads, and a connection
    that is idle, or still sending its head or body, holds no slot (those are
    bounded by time in ``engine.server.connections`` and ``BodyLimit``).

    Args:
        app: the application.
        limit: the most requests in flight.
    """

    def __init__(self, app: ASGIApp, *, limit: int = DEFAULT_IN_FLIGHT) -> None:
        self.app = app
        self.limit = limit
        self.active = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request, or answer 503 ``overloaded`` when ``limit`` are already running."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            detail = f"{self.limit} requests are in progress; retry shortly"
            await reject(send, 503, "overloaded", detail, retry_after=1)
            return
        # One event loop runs every request, so the count needs no lock.
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


class ContainFailures:
    """ASGI wrapper: an unexpected failure ends with its answer, never in the server's log.

    Starlette answers an unexpected exception with the application's 500 handler
    (which logs it in a bounded entry) and then raises it again "so that servers
    can log it": uvicorn would then write the whole traceback — 390 KB for a
    request that recursed 900 times. Wrapped around the whole application, this
    keeps the exception here. Should a failure escape before any answer was
    started, it answers 500 and logs a bounded entry itself.

    Args:
        app: the whole application (outside Starlette's own error middleware).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the application; contain an ``Exception`` it raises while serving HTTP."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # lifespan failures stay uvicorn's to report
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                return  # the application's handler answered and logged it already
            log_failure(_log, f"unexpected error on {scope.get('method')} {scope.get('path')}", exc)
            await reject(send, 500, "internal-error", "an unexpected error; see the server log")
