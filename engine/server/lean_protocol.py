"""Event attempts answered below ASGI, in the HTTP protocol itself: same answers, less work.

Behind ``yishi serve`` the event loop's thread was the server's largest cost per event
(bench/http_bench.py, 8 clients): for each ``POST /cases/{id}/events`` it built an
ASGI task, ran uvicorn's proxy-header layer and our four ASGI layers (failure
containment, body limit with its timer, in-flight limit, ``engine.server.fast_fire``),
handed the attempt to a thread through asyncio's executor future, woke once per
answer, and wrote each answer in two socket writes (head, then body).

``LeanProtocol`` is ``GuardedProtocol`` (every connection limit of
``engine.server.connections``) that looks at a request head before uvicorn starts an
ASGI task for it. A ``POST`` to an event path with a ``Content-Length`` of at most
``MAX_FAST_BODY``, no ``Transfer-Encoding``, no ``Expect`` and no forwarded-for
headers is held until its body is in; then ``LeanEvents.take`` reads it with
``FastFire``'s own checks (``_well_formed``: path, token, headers, JSON body). A
request they accept, while fewer than the in-flight limit are running, is fired by
``FastFire._fire`` — ``routes_cases.fire_checked``, the route's code from the door on
— in ``FastFire``'s thread pool, and its answer written in one write, with the bytes
uvicorn would have written (its status line, its default headers, the response's).
Threads that finish close together wake the event loop once.

Anything else goes to the ASGI application exactly as uvicorn would have sent it,
body included, so every refusal keeps its problem: a request not well formed, one
over the in-flight limit (503 from ``InFlightLimit``), one whose checks raised. The
limits are those of the ASGI path: the head's size and time are the protocol's own;
a body must arrive within the body timeout (else the same 408 ``BodyLimit`` gives);
a body larger than ``MAX_FAST_BODY`` is never held here; a request counts toward
the in-flight limit (``InFlightLimit.active``, shared) from the moment it is taken
until its answer is written; an exception is answered by the application's
exception handlers, and one they do not answer by the 500 ``ContainFailures`` gives.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from typing import TYPE_CHECKING, Any, cast

from starlette.responses import Response
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, RequestResponseCycle
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

from engine.server.connections import GuardedProtocol, guarded_protocol
from engine.server.fast_fire import MAX_FAST_BODY, FastFire, _Attempt, _threads
from engine.server.limits import BodyLimit, InFlightLimit, Receive, Scope, Send, reject
from engine.server.problems import log_failure

if TYPE_CHECKING:
    from fastapi import FastAPI

_log = logging.getLogger("yishi.server")

_DECLINED = frozenset({b"transfer-encoding", b"expect", b"x-forwarded-for", b"x-forwarded-proto"})
"""Headers that send a request on to ASGI: a chunked body, ``100-continue`` (answered by
uvicorn's ``receive``), and what uvicorn's proxy-header layer would act on."""

_Done = tuple["LeanProtocol", RequestResponseCycle, Scope, Response | None, BaseException | None]


class LeanEvents:
    """What the protocol needs from one application to answer event attempts itself.

    Args:
        api: the FastAPI application (``create_app``'s), for its exception handlers.
        fast: its ``FastFire`` layer, whose checks and firing are used as they are.
        in_flight: its ``InFlightLimit``, whose count lean requests share.
        body: its ``BodyLimit``, whose timeout and 408 a held request gets.
    """

    def __init__(
        self, *, api: FastAPI, fast: FastFire, in_flight: InFlightLimit, body: BodyLimit
    ) -> None:
        self.api = api
        self.fast = fast
        self.in_flight = in_flight
        self.body = body
        self._done: deque[_Done] = deque()
        self._waking = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def wants(self, scope: Scope) -> bool:
        """Whether to hold a request whose head is in until its body is (cheap checks only)."""
        if (
            scope["method"] != "POST"
            or scope["root_path"]
            or not scope["path"].endswith("/events")
            or not scope["path"].startswith("/cases/")
        ):
            return False
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                if length is not None:
                    return False
                length = value
            elif name in _DECLINED:
                return False
        return length is not None and length.isdigit() and int(length) <= MAX_FAST_BODY

    def take(self, protocol: LeanProtocol, cycle: RequestResponseCycle) -> bool:
        """Start firing a held request whose body is in; False to hand it to ASGI instead."""
        scope = _scope(cycle)
        try:
            attempt = self.fast._well_formed(scope, bytes(cycle.body))
        except Exception:  # the ASGI path runs the same checks, and answers what they raise
            return False
        limit = self.in_flight
        if attempt is None or limit.active >= limit.limit:
            return False
        scope["app"] = self.api  # as ``_Api`` sets it for the ASGI path
        self._loop = protocol.loop
        context = contextvars.copy_context()  # as FastFire and anyio give the route
        try:
            _threads().submit(self._fire, protocol, cycle, scope, attempt, context)
        except RuntimeError:  # the pool is shut down: the ASGI path answers as it can
            return False
        limit.active += 1
        return True

    def _fire(
        self,
        protocol: LeanProtocol,
        cycle: RequestResponseCycle,
        scope: Scope,
        attempt: _Attempt,
        context: contextvars.Context,
    ) -> None:
        # In a worker thread: fire, then queue the answer; the first answer queued
        # since the loop last looked wakes it, and it writes every answer queued.
        response = failure = None
        try:
            response = context.run(self.fast._fire, scope, attempt)
        except BaseException as exc:  # answered on the loop, as FastFire answers it
            failure = exc
        self._done.append((protocol, cycle, scope, response, failure))
        if not self._waking:
            self._waking = True
            loop = self._loop
            assert loop is not None
            loop.call_soon_threadsafe(self._answer_all)

    def _answer_all(self) -> None:
        # Cleared before the queue is read: an answer queued meanwhile either is read
        # below or wakes the loop again.
        self._waking = False
        done = self._done
        while done:
            protocol, cycle, scope, response, failure = done.popleft()
            if response is not None:
                self.in_flight.active -= 1
                try:
                    protocol.answer(cycle, response)
                except Exception as exc:  # the others queued are still answered
                    log_failure(_log, f"unexpected error answering {scope.get('path')}", exc)
                    protocol.transport.close()
            else:
                assert failure is not None
                protocol.loop.create_task(self._answer_failure(cycle, scope, failure))

    async def _answer_failure(
        self, cycle: RequestResponseCycle, scope: Scope, failure: BaseException
    ) -> None:
        try:
            if not isinstance(failure, Exception):
                raise failure
            response = await self.fast._handled(scope, failure)
            await response(scope, _no_body, cast(Send, cycle.send))
        except Exception as exc:  # as ContainFailures: bounded in the log, 500 to the client
            if cycle.response_started:
                return
            where = f"unexpected error on {scope.get('method')} {scope.get('path')}"
            log_failure(_log, where, exc)
            failed = "an unexpected error; see the server log"
            await reject(cast(Send, cycle.send), 500, "internal-error", failed)
        finally:
            self.in_flight.active -= 1

    async def late(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI: the answer to a held request whose body did not arrive in time."""
        await self.body.timed_out(send)


def _scope(cycle: RequestResponseCycle) -> Scope:
    return cast(Scope, cycle.scope)  # uvicorn's TypedDict, as our layers see it


async def _no_body() -> dict[str, Any]:
    return {"type": "http.disconnect"}  # pragma: no cover - a Response never reads


class LeanProtocol(GuardedProtocol):
    """``GuardedProtocol`` that answers well-formed event attempts itself (see the module).

    Use ``lean_protocol`` to make one for a server.
    """

    lean: LeanEvents

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: RequestResponseCycle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        """Hold an event attempt until its body is in; start anything else as uvicorn does."""
        if app is self.app and self.lean.wants(_scope(cycle)):
            if cycle.more_body:
                self._held = cycle
                return
            if self.lean.take(self, cycle):
                return
        super()._start_asgi_task(cycle, app)

    def data_received(self, data: bytes) -> None:
        """Parse; a held request whose body is still to come gets the body timeout."""
        super().data_received(data)
        if self._held is not None and self._body_timer is None:
            self._body_timer = self.loop.call_later(self.lean.body.body_timeout, self._body_late)

    def on_message_complete(self) -> None:
        """A held request's body is in: take it, or hand it to ASGI as it is."""
        super().on_message_complete()
        cycle = self._held
        if cycle is None or cycle is not self.cycle or cycle.more_body:
            return
        self._release()
        if not self.lean.take(self, cycle):
            super()._start_asgi_task(cycle, self.app)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget a held request and its timer."""
        self._release()
        super().connection_lost(exc)

    def _release(self) -> None:
        self._held = None
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_late(self) -> None:
        self._body_timer = None
        cycle = self._held
        if cycle is None or self.transport.is_closing():
            return
        self._held = None
        super()._start_asgi_task(cycle, cast(Any, self.lean.late))

    def answer(self, cycle: RequestResponseCycle, response: Response) -> None:
        """Write ``response`` in one write, as uvicorn's ``send`` would have in two."""
        if cycle.disconnected or self.transport.is_closing():
            return
        scope = cycle.scope
        status = response.status_code
        if cycle.access_log:
            cycle.access_logger.info(
                '%s - "%s %s HTTP/%s" %d',
                get_client_addr(scope),
                scope["method"],
                get_path_with_query_string(scope),
                scope["http_version"],
                status,
            )
        content: list[bytes | memoryview] = [STATUS_LINE[status]]
        for name, value in (*cycle.default_headers, *response.raw_headers):
            content.extend((name, b": ", value, b"\r\n"))
        if not cycle.keep_alive:
            content.append(b"connection: close\r\n")
        content.extend((b"\r\n", response.body))
        cycle.response_started = True
        cycle.waiting_for_100_continue = False
        self.transport.write(b"".join(content))
        cycle.response_complete = True
        cycle.message_event.set()
        if not cycle.keep_alive:
            self.transport.close()
        cycle.on_response()


def lean_protocol(lean: LeanEvents, **limits: Any) -> type[GuardedProtocol]:
    """A protocol class for one server that answers ``lean``'s event attempts itself.

    Args:
        lean: the application's lean event path (``create_app``'s ``app.state.lean``).
        **limits: as ``engine.server.connections.guarded_protocol`` takes them.

    Returns:
        A subclass of ``LeanProtocol`` (give it to uvicorn as ``http=``).
    """
    return guarded_protocol(base=LeanProtocol, lean=lean, **limits)
