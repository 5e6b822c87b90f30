"""Uvicorn's HTTP/1.1 protocol with the limits it lacks, so idle sockets lock nobody out.

Uvicorn (its h11 protocol) arms a timer only after a response: a connection that
opens and sends nothing, or dribbles its request head a byte at a time, is kept
for ever; and its ``limit_concurrency`` counts open connections, so 70 silent
sockets answered every other client 503 for as long as they stayed open. This
subclass adds, per connection:

* a **header timeout**: the request head (request line and headers) must be
  complete within ``header_timeout`` seconds of the connection opening, or of the
  first byte of a later request on a kept-alive connection; otherwise the
  connection is closed (with ``408`` when part of a head had arrived);
* a **connection cap** with eviction: beyond ``max_connections`` open sockets the
  one that has waited longest for a request head is closed, so a flood of idle
  sockets pushes out idle sockets, never a request being served;
* no concurrency check of its own: requests in flight are counted by
  ``engine.server.limits.InFlightLimit`` instead, after the body has arrived, so
  only requests that hold (or will hold) a worker thread count.

The body timeout stays in ``engine.server.limits.BodyLimit`` and the keep-alive
timeout is uvicorn's ``timeout_keep_alive``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# uvicorn's own logger: `yishi serve` prints it at INFO, next to the access log.
_log = logging.getLogger("uvicorn.error")

DEFAULT_HEADER_TIMEOUT = 10.0
"""Seconds a client has to send a whole request head."""
DEFAULT_MAX_CONNECTIONS = 1000
"""Open sockets beyond which the longest-waiting idle one is closed."""

_TIMEOUT_BODY = b"the request head did not arrive in time\n"
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\n"
    b"content-length: " + str(len(_TIMEOUT_BODY)).encode("ascii") + b"\r\n\r\n" + _TIMEOUT_BODY
)


class GuardedH11Protocol(H11Protocol):
    """``H11Protocol`` with a header timeout and idle-first eviction (see the module).

    Use ``guarded_protocol`` to make a subclass with the limits of one server.
    """

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    waiting: ClassVar[OrderedDict[GuardedH11Protocol, None]] = OrderedDict()
    """The connections waiting for a request head, oldest first (one list per server:
    ``guarded_protocol`` gives each server's subclass its own)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # In-flight requests are limited by the application (InFlightLimit); counting
        # connections here is what let idle sockets lock everyone out.
        self.limit_concurrency = None
        self._head_timer: asyncio.TimerHandle | None = None

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
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Start the head's clock at a request's first byte; stop it once the head is in."""
        if self._head_timer is None and self.conn.their_state is h11.IDLE:
            self._await_head()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._head_done()

    def on_response_complete(self) -> None:
        """A kept-alive connection waits (and may be evicted) until its next request."""
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.waiting[self] = None

    def close_idle(self) -> None:
        """Close the connection if it is waiting for a request head (else leave it)."""
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        self._head_done()
        self.transport.close()

    def _await_head(self) -> None:
        self.waiting[self] = None
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _head_done(self) -> None:
        self.waiting.pop(self, None)
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        self.waiting.pop(self, None)
        partial, _ = self.conn.trailing_data
        if partial:
            self.transport.write(_TIMEOUT_RESPONSE)
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            _log.info("closed %s: no complete request head in %gs", client, self.header_timeout)
        self.transport.close()


def guarded_protocol(
    *,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> type[GuardedH11Protocol]:
    """A protocol class for one server (give it to uvicorn as ``http=``).

    Args:
        header_timeout: seconds a client has to send a request head.
        max_connections: open sockets beyond which the longest-waiting idle one is closed.

    Returns:
        A subclass of ``GuardedH11Protocol`` whose connections share one waiting list.
    """
    limits: dict[str, Any] = {
        "header_timeout": header_timeout,
        "max_connections": max_connections,
        "waiting": OrderedDict(),
    }
    return type("ServerH11Protocol", (GuardedH11Protocol,), limits)
