"""Uvicorn's HTTP/1.1 protocol with the limits it lacks, so idle sockets lock nobody out.

The protocol is uvicorn's httptools one (llhttp, in C): the request parser was a
good part of each request's cost with the pure-Python h11 (bench/http_bench.py).
Uvicorn arms a timer only after a response: a connection that opens and sends nothing,
or dribbles its request head a byte at a time, is kept for ever; its
``limit_concurrency`` counts open connections, so 70 silent sockets answered
every other client 503 for as long as they stayed open; and with httptools it
sets no bound on a request head. This subclass adds, per connection:

* a **header timeout**: the request head (request line and headers) must be
  complete within ``header_timeout`` seconds of the connection opening, or of the
  first byte of a later request on a kept-alive connection; otherwise the
  connection is closed (with ``408`` when part of a head had arrived);
* a **head size limit**: a head still incomplete after ``max_head`` bytes is
  answered ``400`` and the connection closed (what h11 did at that size);
* a **connection cap** with eviction: beyond ``max_connections`` open sockets the
  one that has waited longest for a request head is closed, so a flood of idle
  sockets pushes out idle sockets, never a request being served;
* no concurrency check of its own: requests in flight are counted by
  ``engine.server.limits.InFlightLimit`` instead, after the body has arrived, so
  only requests that hold (or will hold) a worker thread count.

The body timeout stays in ``engine.server.limits.BodyLimit``; the keep-alive
timeout is uvicorn's ``timeout_keep_alive``, kept here on the one lazily moved
timer each connection has for its deadlines (see ``GuardedProtocol.__init__``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# uvicorn's own logger: `yishi serve` prints it at INFO, next to the access log.
_log = logging.getLogger("uvicorn.error")

DEFAULT_HEADER_TIMEOUT = 10.0
"""Seconds a client has to send a whole request head."""
DEFAULT_MAX_CONNECTIONS = 1000
"""Open sockets beyond which the longest-waiting idle one is closed."""
DEFAULT_MAX_HEAD = 64 * 1024
"""Bytes of one request head at most (request line and headers)."""

_NOTHING, _HEAD, _KEEP_ALIVE = 0, 1, 2
"""What a connection's deadline bounds: nothing (a request is being served), the time
to send a request head, or the time a kept-alive connection may stay idle."""

_TIMEOUT_BODY = b"the request head did not arrive in time\n"
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\n"
    b"content-length: " + str(len(_TIMEOUT_BODY)).encode("ascii") + b"\r\n\r\n" + _TIMEOUT_BODY
)


class GuardedProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with a header timeout, a head size limit and idle-first
    eviction (see the module). Use ``guarded_protocol`` to make a subclass with the
    limits of one server.
    """

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_head: int = DEFAULT_MAX_HEAD
    waiting: ClassVar[OrderedDict[GuardedProtocol, None]] = OrderedDict()
    """The connections waiting for a request head, oldest first (one list per server:
    ``guarded_protocol`` gives each server's subclass its own)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # In-flight requests are limited by the application (InFlightLimit); counting
        # connections here is what let idle sockets lock everyone out.
        self.limit_concurrency = None
        self._head_bytes = 0
        # A head is awaited while every head received has been answered (h11's IDLE):
        # a request whose head is in, and not yet answered, is bounded by the body
        # timeout and the application instead.
        self._heads = 0
        self._answered = 0
        # One deadline at a time bounds the connection: the head's, or (after an
        # answer) the keep-alive's; None while a request is being served. One timer
        # per connection stands for it, moved lazily: a deadline set later than the
        # timer leaves it alone, and the timer, when it fires early, waits for the
        # rest. Arming and cancelling a timer per request cost the event loop more
        # than parsing the request (bench/http_bench.py).
        self._bounds = _NOTHING
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    def _awaiting_head(self) -> bool:
        return self._heads == self._answered

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Accept, evicting the longest-waiting idle connection when at the cap."""
        super().connection_made(transport)
        self._await_head()
        if len(self.connections) > self.max_connections:
            oldest = next((c for c in self.waiting if c is not self), None)
            if oldest is not None:
                oldest.close_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection and its timer."""
        self._head_done()
        self._deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Start the head's clock at a request's first byte; stop it once the head is in."""
        if self._bounds != _HEAD and self._awaiting_head():
            self._await_head()
        super().data_received(data)
        if not self._awaiting_head():
            self._head_done()
        elif self._bounds == _HEAD:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head and not self.transport.is_closing():
                self._head_done()
                self.send_400_response("Invalid HTTP request received.")

    def on_headers_complete(self) -> None:
        """Count the head as in (the parser calls this once per request)."""
        self._heads += 1
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        """Start the next pipelined request, or the keep-alive deadline; a kept-alive
        connection waits (and may be evicted) until its next request.

        uvicorn's own, with the keep-alive deadline set on this connection's one
        timer rather than a timer of its own per answer.
        """
        self._answered += 1
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self._set_deadline(_KEEP_ALIVE, self.timeout_keep_alive)
        if self._awaiting_head():
            self.waiting[self] = None

    def close_idle(self) -> None:
        """Close the connection if it is waiting for a request head (else leave it)."""
        if not self._awaiting_head() or self.transport.is_closing():
            return
        self._head_done()
        self.transport.close()

    def _await_head(self) -> None:
        self.waiting[self] = None
        self._set_deadline(_HEAD, self.header_timeout)

    def _head_done(self) -> None:
        self.waiting.pop(self, None)
        self._head_bytes = 0
        if self._bounds == _HEAD:
            self._bounds = _NOTHING
            self._deadline = None

    def _set_deadline(self, bounds: int, seconds: float) -> None:
        deadline = self.loop.time() + seconds
        self._bounds = bounds
        self._deadline = deadline
        timer = self._timer
        if timer is not None:
            if timer.when() <= deadline:
                return  # it fires first, and waits on for the rest
            timer.cancel()
        self._timer = self.loop.call_at(deadline, self._deadline_passed)

    def _deadline_passed(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None:
            return
        if self.loop.time() < deadline:  # moved on since the timer was set
            self._timer = self.loop.call_at(deadline, self._deadline_passed)
            return
        bounds = self._bounds
        self._bounds = _NOTHING
        self._deadline = None
        if bounds == _HEAD:
            self._head_timed_out()
        elif not self.transport.is_closing():  # kept alive, idle for too long
            self.transport.close()

    def _head_timed_out(self) -> None:
        if not self._awaiting_head() or self.transport.is_closing():
            return
        self.waiting.pop(self, None)
        if self._head_bytes:
            self.transport.write(_TIMEOUT_RESPONSE)
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            _log.info("closed %s: no complete request head in %gs", client, self.header_timeout)
        self.transport.close()


def guarded_protocol(
    *,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    max_head: int = DEFAULT_MAX_HEAD,
    base: type[GuardedProtocol] | None = None,
    **attributes: Any,
) -> type[GuardedProtocol]:
    """A protocol class for one server (give it to uvicorn as ``http=``).

    Args:
        header_timeout: seconds a client has to send a request head.
        max_connections: open sockets beyond which the longest-waiting idle one is closed.
        max_head: the most bytes of a request head.
        base: the class to subclass (``GuardedProtocol`` when None; a subclass such
            as ``engine.server.lean_protocol.LeanProtocol``).
        **attributes: further class attributes the base needs.

    Returns:
        A subclass of ``base`` whose connections share one waiting list.
    """
    limits: dict[str, Any] = {
        "header_timeout": header_timeout,
        "max_connections": max_connections,
        "max_head": max_head,
        "waiting": OrderedDict(),
    }
    return type("ServerProtocol", (base or GuardedProtocol,), {**limits, **attributes})
