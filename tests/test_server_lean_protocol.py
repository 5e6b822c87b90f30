"""Specification: event attempts answered in the HTTP protocol itself answer as the route does.

``engine.server.lean_protocol`` takes well-formed ``POST /cases/{id}/events`` requests
below ASGI in ``yishi serve``. Two uvicorn servers on 127.0.0.1 with the same
protocol limits, over equal stores and one fixed clock — one with the lean
protocol and ``FastFire``, one with neither — get the same requests, byte for
byte, in the same order over keep-alive sockets: every answer must be the same
bytes (the ``date`` header's value aside), refusals, door checks and malformed
requests included, and so must the audit trail. Then what only the protocol
path does: a body that comes after its head, a body that never comes, a
pipelined pair, the in-flight limit, a failure, a client gone before its answer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from server_support import SECRETARY_TOKEN, free_port
from test_server_fast_fire import (
    EVENTS,
    PROPOSE,
    REQUESTS,
    _bearer,
    compared_app,
)

from engine.server.connections import guarded_protocol
from engine.server.lean_protocol import LeanEvents, lean_protocol
from engine.server.limits import ContainFailures

WAIT = 20.0
"""The most seconds a test waits for a server (a bound, not an expectation)."""
BODY_TIMEOUT = 0.5
"""The body timeout of both servers: short, so the slow-body test waits little."""


def _app(*, fast: bool) -> FastAPI:
    return compared_app(fast=fast, body_timeout=BODY_TIMEOUT)


@contextlib.contextmanager
def _serving(app: FastAPI, *, lean: bool, access_log: bool = False) -> Iterator[int]:
    """Serve ``app`` as ``yishi serve`` does (its protocol, with or without the lean path)."""
    port = free_port()
    protocol = lean_protocol(app.state.lean) if lean else guarded_protocol()
    config = uvicorn.Config(
        ContainFailures(app),
        host="127.0.0.1",
        port=port,
        http=protocol,
        lifespan="off",
        log_level="info" if access_log else "warning",
        access_log=access_log,
        server_header=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.01)
    assert server.started, "the test server did not start"
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(WAIT)


@pytest.fixture
def pair() -> Iterator[tuple[FastAPI, int, int]]:
    """(the lean application, the lean server's port, the route-only server's port)."""
    lean, route = _app(fast=True), _app(fast=False)
    with _serving(lean, lean=True) as lean_port, _serving(route, lean=False) as route_port:
        yield lean, lean_port, route_port


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests the protocol answered itself."""
    seen: list[str] = []
    original = LeanEvents.take

    def counting(self: LeanEvents, protocol: Any, cycle: Any) -> bool:
        took = original(self, protocol, cycle)
        if took:
            seen.append(cycle.scope["path"])
        return took

    monkeypatch.setattr(LeanEvents, "take", counting)
    return seen


def _request(path: str, headers: list[tuple[str, str]], body: dict[str, Any]) -> bytes:
    """The bytes of a request as the ASGI differential test's client would send it."""
    content = body["content"] if "content" in body else json.dumps(body["json"]).encode()
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
    named = {name.lower() for name, _ in headers}
    lines += [f"{name}: {value}" for name, value in headers]
    if "json" in body and "content-type" not in named:
        lines.append("Content-Type: application/json")
    lines.append(f"Content-Length: {len(content)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + content


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=WAIT)


def _answer(conn: socket.socket, pending: bytearray) -> bytes:
    """One whole response from ``conn`` (``pending`` holds bytes read past it)."""
    deadline = time.monotonic() + WAIT
    while b"\r\n\r\n" not in pending:
        assert time.monotonic() < deadline, "no response head"
        chunk = conn.recv(65536)
        assert chunk, f"closed before a response head: {bytes(pending)!r}"
        pending += chunk
    head, _, _ = bytes(pending).partition(b"\r\n\r\n")
    declared = re.search(rb"\r\ncontent-length: (\d+)", head, re.IGNORECASE)
    if head.startswith(b"HTTP/1.1 1"):
        declared = None  # an interim answer (100 Continue): a head alone
    else:
        assert declared is not None, head
    size = len(head) + 4 + (int(declared[1]) if declared else 0)
    while len(pending) < size:
        assert time.monotonic() < deadline, "no whole response body"
        chunk = conn.recv(65536)
        assert chunk, "closed before the whole body"
        pending += chunk
    whole = bytes(pending[:size])
    del pending[:size]
    return whole


def _until_closed(conn: socket.socket) -> bytes:
    received = bytearray()
    deadline = time.monotonic() + WAIT
    while chunk := conn.recv(65536):
        assert time.monotonic() < deadline, "not closed in time"
        received += chunk
    return bytes(received)


def _undated(response: bytes) -> bytes:
    """The response with its ``date`` value masked (two servers may straddle a second)."""
    masked, count = re.subn(rb"\r\ndate: [^\r]*\r\n", b"\r\ndate: *\r\n", response, count=1)
    assert count == 1, response
    return masked


def _closed(conn: socket.socket) -> bool:
    conn.settimeout(WAIT)
    with contextlib.suppress(ConnectionResetError):
        return conn.recv(1) == b""
    return True


def _settled(app: FastAPI) -> None:
    """Wait (bounded) until no request of ``app`` is counted in flight; fail if one stays."""
    deadline = time.monotonic() + WAIT
    while app.state.lean.in_flight.active and time.monotonic() < deadline:
        time.sleep(0.01)
    assert app.state.lean.in_flight.active == 0


def test_every_request_gets_the_routes_bytes(
    pair: tuple[FastAPI, int, int], taken: list[str]
) -> None:
    """The ASGI differential corpus over sockets: the same bytes from both servers, the
    same audit trail after, and the well-formed attempts answered by the protocol."""
    _, lean_port, route_port = pair
    with contextlib.ExitStack() as stack:
        lean = route = None
        for number, (path, headers, body) in enumerate(REQUESTS):
            if lean is None or route is None:  # anew after an answer that closed them
                lean, route = (
                    stack.enter_context(_connect(lean_port)),
                    stack.enter_context(_connect(route_port)),
                )
                lean_pending, route_pending = bytearray(), bytearray()
            request = _request(path, headers, body)
            route.sendall(request)
            expected = _answer(route, route_pending)
            lean.sendall(request)
            actual = _answer(lean, lean_pending)
            assert _undated(expected) == _undated(actual), f"request {number}: {request[:300]!r}"
            if b"\r\nconnection: close\r\n" in actual:
                lean = route = None
    # The trail is streamed (chunked): asked for with ``connection: close``, read to the end.
    audit = b"GET /cases/c1/audit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    audit += b"Authorization: Bearer " + SECRETARY_TOKEN.encode() + b"\r\n\r\n"
    trails = []
    for port in (route_port, lean_port):
        with _connect(port) as conn:
            conn.sendall(audit)
            trails.append(_undated(_until_closed(conn)))
    assert trails[0] == trails[1]
    assert trails[1].startswith(b"HTTP/1.1 200 ") and trails[1].count(b"\n") > 10
    assert len(taken) > 20
    assert all(path.endswith("/events") for path in taken)


def test_a_body_sent_after_its_head_is_still_answered_by_the_protocol(
    pair: tuple[FastAPI, int, int], taken: list[str]
) -> None:
    """A head, a pause, then the body in two pieces: held, then taken once it is in."""
    lean_app, lean_port, _ = pair
    request = _request(EVENTS, _bearer(SECRETARY_TOKEN), {"json": PROPOSE})
    head, _, body = request.partition(b"\r\n\r\n")
    with _connect(lean_port) as conn:
        conn.sendall(head + b"\r\n\r\n")
        time.sleep(0.05)
        conn.sendall(body[:5])
        time.sleep(0.05)
        conn.sendall(body[5:])
        answer = _answer(conn, bytearray())
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert taken == [EVENTS]
    assert lean_app.state.lean.in_flight.active == 0


def test_a_body_that_never_comes_is_answered_408_as_the_route_does(
    pair: tuple[FastAPI, int, int], taken: list[str]
) -> None:
    """A held request whose body stops short gets BodyLimit's 408 after the body
    timeout, and the connection is closed, as from the route."""
    _, lean_port, route_port = pair
    request = _request(EVENTS, _bearer(SECRETARY_TOKEN), {"json": PROPOSE})
    answers = []
    for port in (route_port, lean_port):
        with _connect(port) as conn:
            conn.sendall(request[:-3])
            answers.append(_undated(_answer(conn, bytearray())))
            assert _closed(conn)
    assert answers[0] == answers[1]
    assert answers[1].startswith(b"HTTP/1.1 408 ")
    assert b"body-timeout" in answers[1]
    assert taken == []


@pytest.mark.parametrize(
    "extra",
    [
        [("Transfer-Encoding", "chunked")],
        [("Expect", "100-continue")],
        [("X-Forwarded-For", "10.0.0.9")],
    ],
)
def test_requests_the_protocol_leaves_to_asgi_answer_alike(
    pair: tuple[FastAPI, int, int], taken: list[str], extra: list[tuple[str, str]]
) -> None:
    """A chunked body, ``Expect: 100-continue`` or a forwarded-for header: the ASGI
    path answers, with the route's bytes."""
    _, lean_port, route_port = pair
    body = json.dumps(PROPOSE).encode()
    lines = [
        f"POST {EVENTS} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {SECRETARY_TOKEN}",
        "Content-Type: application/json",
    ]
    lines += [f"{name}: {value}" for name, value in extra]
    if extra[0][0] == "Transfer-Encoding":
        content = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        content = body
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + content
    answers = []
    for port in (route_port, lean_port):
        with _connect(port) as conn:
            conn.sendall(request)
            pending = bytearray()
            answer = _answer(conn, pending)
            if answer.startswith(b"HTTP/1.1 100 "):  # pragma: no cover - uvicorn's interim reply
                answer = _answer(conn, pending)
            answers.append(_undated(answer))
    assert answers[0] == answers[1]
    assert answers[1].startswith(b"HTTP/1.1 200 ")
    assert taken == []


def test_pipelined_and_http_1_0_requests_are_answered_in_order(
    pair: tuple[FastAPI, int, int], taken: list[str]
) -> None:
    """Two attempts in one write get two answers in order; an HTTP/1.0 attempt gets
    ``connection: close`` and a closed socket, as from the route."""
    _, lean_port, route_port = pair
    one = _request(EVENTS, _bearer(SECRETARY_TOKEN), {"json": PROPOSE})
    two = _request(EVENTS, _bearer(SECRETARY_TOKEN), {"json": {"event": "resolve"}})
    old = one.replace(b" HTTP/1.1\r\n", b" HTTP/1.0\r\n", 1)
    answers: list[list[bytes]] = []
    for port in (route_port, lean_port):
        with _connect(port) as conn:
            conn.sendall(one + two)
            pending = bytearray()
            got = [_answer(conn, pending), _answer(conn, pending)]
        with _connect(port) as conn:
            conn.sendall(old)
            got.append(_answer(conn, bytearray()))
            assert _closed(conn)
        answers.append([_undated(a) for a in got])
    assert answers[0] == answers[1]
    assert [a[:13] for a in answers[1]] == [b"HTTP/1.1 200 ", b"HTTP/1.1 422 ", b"HTTP/1.1 200 "]
    assert b"\r\nconnection: close\r\n" in answers[1][2]
    assert taken == [EVENTS] * 3


def test_beyond_the_in_flight_limit_the_503_is_the_asgi_paths(
    pair: tuple[FastAPI, int, int], taken: list[str]
) -> None:
    """With the in-flight count at its limit a well-formed attempt is not taken: the
    ASGI path answers 503 ``overloaded``, and nothing is fired."""
    lean_app, lean_port, _ = pair
    limit = lean_app.state.lean.in_flight
    limit.active = limit.limit
    try:
        with _connect(lean_port) as conn:
            conn.sendall(_request(EVENTS, _bearer(SECRETARY_TOKEN), {"json": PROPOSE}))
            answer = _answer(conn, bytearray())
    finally:
        limit.active = 0
    assert answer.startswith(b"HTTP/1.1 503 ")
    assert b"overloaded" in answer
    assert taken == []


def test_a_failure_is_the_same_bounded_500_problem(
    pair: tuple[FastAPI, int, int], taken: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception no handler expects is answered by the application's handlers, as on
    the ASGI path: a 500 problem with nothing of the exception in it."""
    lean_app, lean_port, _ = pair

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("internal detail /srv/secret")

    monkeypatch.setattr(lean_app.state.services.engine, "fire", broken)
    request = _request(EVENTS, _bearer(SECRETARY_TOKEN), {"json": PROPOSE})
    with _connect(lean_port) as conn:
        conn.sendall(request)
        answer = _answer(conn, bytearray())
    assert answer.startswith(b"HTTP/1.1 500 ")
    assert b"internal-error" in answer and b"secret" not in answer
    assert taken == [EVENTS]
    _settled(lean_app)


def test_a_client_gone_before_its_answer_leaves_nothing_held(
    pair: tuple[FastAPI, int, int], taken: list[str]
) -> None:
    """Clients that leave mid-body or before their answer hold no slot afterwards, and
    the server goes on answering."""
    lean_app, lean_port, _ = pair
    request = _request(EVENTS, _bearer(SECRETARY_TOKEN), {"json": PROPOSE})
    for cut in (len(request) - 3, len(request)):
        for _ in range(5):
            with _connect(lean_port) as conn:
                conn.sendall(request[:cut])
    _settled(lean_app)
    with _connect(lean_port) as conn:
        conn.sendall(request)
        assert _answer(conn, bytearray()).startswith(b"HTTP/1.1 200 ")


def test_the_access_log_line_is_the_routes(taken: list[str]) -> None:
    """An attempt the protocol answers is logged in uvicorn's access log as the route's is
    (so ``yishi serve``'s redaction filter sees the same record)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    request = _request(EVENTS + "?token=x", _bearer(SECRETARY_TOKEN), {"json": PROPOSE})
    logged = []
    for lean in (False, True):
        with _serving(_app(fast=lean), lean=lean, access_log=True) as port:
            access = logging.getLogger("uvicorn.access")
            keep = Keep()
            access.addHandler(keep)
            try:
                with _connect(port) as conn:
                    conn.sendall(request)
                    assert _answer(conn, bytearray()).startswith(b"HTTP/1.1 200 ")
            finally:
                access.removeHandler(keep)
        (record,) = records
        records.clear()
        client, *rest = record.args  # type: ignore[misc]
        logged.append((record.msg, client.rpartition(":")[0], *rest))
    assert logged[0] == logged[1]
    assert logged[1][1:] == ("127.0.0.1", "POST", "/cases/c1/events?token=x", "1.1", 200)
    assert taken == ["/cases/c1/events"]


def test_held_bodies_lock_nobody_out_and_each_gets_its_408(
    pair: tuple[FastAPI, int, int], taken: list[str]
) -> None:
    """Fifty sockets that send an attempt's head and part of its body hold no in-flight
    slot: a legitimate attempt is answered meanwhile, and each of the fifty gets the
    body timeout's 408 and is closed."""
    lean_app, lean_port, _ = pair
    request = _request(EVENTS, _bearer(SECRETARY_TOKEN), {"json": PROPOSE})
    with contextlib.ExitStack() as stack:
        stalled = [stack.enter_context(_connect(lean_port)) for _ in range(50)]
        for conn in stalled:
            conn.sendall(request[:-3])
        with _connect(lean_port) as conn:
            conn.sendall(request)
            assert _answer(conn, bytearray()).startswith(b"HTTP/1.1 200 ")
        assert lean_app.state.lean.in_flight.active == 0
        for conn in stalled:
            answer = _answer(conn, bytearray())
            assert answer.startswith(b"HTTP/1.1 408 ") and b"body-timeout" in answer
            assert _closed(conn)
    assert taken == [EVENTS]
