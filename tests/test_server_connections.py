"""Specification: idle and slow connections are timed out and never lock anyone out.

Over real sockets against ``yishi serve`` on 127.0.0.1 with short limits: a
connection that sends nothing, or dribbles its request head, is closed after
``--header-timeout`` (408 when part of a head came); a slow body gets 408 after
``--body-timeout``; a kept-alive connection is closed after
``--keep-alive-timeout``; 200 idle sockets do not keep a legitimate client from
an answer; beyond ``--max-connections`` the longest-idle sockets are closed; and
requests in flight, not sockets, count toward ``--limit-concurrency``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import completed
from server_support import NOBODY_TOKEN, LiveServer, auth, live_server

from engine.server.limits import InFlightLimit
from engine.server.serve import MAX_HEADER_BYTES, MAX_LOGGED_TARGET, redact_target

WAIT = 20.0
"""The most seconds any test waits for the server to act (a bound, not an expectation)."""


SHORT = 0.5
"""Seconds of the head and body timeouts of the module's ``server`` (they were 1 s): short
so the tests that wait for them wait less, yet four times the ~0.12 s the 64 KiB test
takes to send its head in pieces, which must be refused for size (400), not time (408)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with SHORT head and body timeouts and the shortest keep-alive (1 s)."""
    limits = ("--header-timeout", str(SHORT), "--body-timeout", str(SHORT))
    with live_server(tmp_path_factory.mktemp("conn"), *limits, "--keep-alive-timeout", "1") as up:
        yield up


def _connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)


def _read_until_closed(conn: socket.socket) -> bytes | None:
    """Everything the server sends until it closes; None if it is still open after WAIT."""
    received = b""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        conn.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            return None
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    return None


def _still_open(conn: socket.socket) -> bool:
    conn.setblocking(False)
    try:
        return conn.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False
    finally:
        conn.setblocking(True)


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(server: LiveServer) -> None:
    """A silent socket is open at first and closed by the server (no bytes) after the
    header timeout; uvicorn alone would keep it for ever."""
    with _connect(server) as conn:
        assert _still_open(conn)
        assert _read_until_closed(conn) == b""


def test_a_dribbled_request_head_is_answered_408_and_closed(server: LiveServer) -> None:
    """A head sent one byte every 50 ms (60 bytes would take 3 s) is cut off with 408
    before it is complete."""
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 60
    with _connect(server) as conn:
        sent = 0
        for byte in head:
            try:
                conn.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
            time.sleep(0.05)
            if not _still_open(conn):
                break
        reply = _read_until_closed(conn)
    assert sent < len(head)
    assert reply is not None and reply.startswith(b"HTTP/1.1 408 ")


def test_a_later_request_head_on_a_kept_alive_connection_has_the_same_timeout(
    server: LiveServer,
) -> None:
    """After one answer, a second head started but never finished is cut off with 408
    (uvicorn alone stops its keep-alive timer at the first byte and waits for ever)."""
    with _connect(server) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = b""
        for _ in range(100):
            if b"\r\n\r\n" in first and first.endswith(b"}"):
                break
            first += conn.recv(65536)
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHo")
        reply = _read_until_closed(conn)
    assert first.startswith(b"HTTP/1.1 200 ")
    assert reply is not None and reply.startswith(b"HTTP/1.1 408 ")


def test_a_request_head_over_64_kib_is_answered_400_and_closed(server: LiveServer) -> None:
    """A head that runs past MAX_HEADER_BYTES, sent in one go or in pieces, is refused
    with 400 and the connection closed; one just under it is answered."""
    line = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    with _connect(server) as conn:
        conn.sendall(line + b"X-Big: " + b"a" * (MAX_HEADER_BYTES - 1000) + b"\r\n\r\n")
        fits = conn.recv(65536)
    with _connect(server) as conn:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(line + b"X-Big: " + b"a" * (MAX_HEADER_BYTES + 10))
        whole = _read_until_closed(conn)
    with _connect(server) as conn:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(line)
            for _ in range(20):
                time.sleep(0.01)  # separate reads, as far as the server can tell
                conn.sendall(b"X-Piece: " + b"b" * 8000 + b"\r\n")
        pieces = _read_until_closed(conn)
    assert fits.startswith(b"HTTP/1.1 200 ")
    assert whole is not None and whole.startswith(b"HTTP/1.1 400 ")
    assert pieces is not None and pieces.startswith(b"HTTP/1.1 400 ")


def test_a_slow_body_is_answered_408_body_timeout(server: LiveServer) -> None:
    """A head promising 100 bytes followed by 10: 408 ``body-timeout`` after the body timeout."""
    with _connect(server) as conn:
        conn.sendall(
            b"POST /cases HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {NOBODY_TOKEN}\r\n".encode("ascii")
            + b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"id": "x'
        )
        reply = _read_until_closed(conn)
    assert reply is not None and reply.startswith(b"HTTP/1.1 408 ")
    assert b'"code": "body-timeout"' in reply


def test_a_kept_alive_connection_is_closed_after_the_keep_alive_timeout(
    server: LiveServer,
) -> None:
    """After an answer, an idle kept-alive connection is closed by the server."""
    with _connect(server) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reply = _read_until_closed(conn)
    assert reply is not None and reply.startswith(b"HTTP/1.1 200 ")


def test_two_hundred_idle_sockets_and_a_slow_sender_lock_nobody_out(tmp_path: Path) -> None:
    """With 200 silent sockets and a dribbling one open (more than the 64 requests in
    flight allowed), twenty requests of a legitimate client are all answered 200, and
    the silent sockets are still open at the end (a server of its own whose header
    timeout outlasts the test, so none is dropped before the client is done)."""
    with live_server(tmp_path, "--header-timeout", "60") as running:
        idle = [_connect(running) for _ in range(200)]
        try:
            idle[-1].sendall(b"GET /healthz HTTP/1.1\r\nHo")
            with httpx.Client(base_url=running.url, timeout=WAIT) as client:
                statuses = [
                    client.get("/cases", headers=auth(NOBODY_TOKEN)).status_code for _ in range(20)
                ]
            still_open = [_still_open(conn) for conn in idle]
        finally:
            for conn in idle:
                conn.close()
    assert statuses == [200] * 20
    assert all(still_open)


def test_beyond_max_connections_the_longest_idle_sockets_are_closed(tmp_path: Path) -> None:
    """With ``--max-connections 20`` (and a long header timeout), 50 idle sockets then a
    client: the client is answered, the oldest idle sockets are closed, the newest open."""
    with live_server(tmp_path, "--max-connections", "20", "--header-timeout", "60") as running:
        idle = [_connect(running) for _ in range(50)]
        try:
            with httpx.Client(base_url=running.url, timeout=WAIT) as client:
                answer = client.get("/cases", headers=auth(NOBODY_TOKEN))
            oldest_closed = [_read_until_closed(conn) == b"" for conn in idle[:30]]
            newest_open = [_still_open(conn) for conn in idle[-10:]]
        finally:
            for conn in idle:
                conn.close()
    assert answer.status_code == 200
    assert all(oldest_closed)
    assert all(newest_open)


def test_a_query_value_never_reaches_the_access_log(server: LiveServer) -> None:
    """``GET /cases?token=<secret>&limit=1``: the access log shows the names, not the values."""
    secret = "query-secret-token-5b7d9f1a3c"
    with httpx.Client(base_url=server.url, timeout=WAIT) as client:
        client.get(f"/cases?token={secret}&limit=1", headers=auth(NOBODY_TOKEN))
        client.get("/healthz?marker=end")  # the access log is written after the answer
    deadline = time.monotonic() + WAIT
    log = ""
    while time.monotonic() < deadline and "/healthz?marker=…" not in log:
        time.sleep(0.05)
        log = server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "/cases?token=…&limit=…" in log
    assert secret not in log


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/cases", "/cases"),
        ("/cases?", "/cases?…"),
        ("/cases?a=1&b=&c", "/cases?a=…&b=…&c=…"),
        ("/x?tok%65n=secret", "/x?token=…"),
    ],
)
def test_the_access_log_target_keeps_query_names_only(target: str, logged: str) -> None:
    """Each query value becomes ``…``; the path and parameter names stay."""
    assert redact_target(target) == logged


def test_a_long_target_is_cut_in_the_access_log() -> None:
    """A 60 KiB path is logged in at most MAX_LOGGED_TARGET characters."""
    assert len(redact_target("/" + "a" * 60_000)) == MAX_LOGGED_TARGET
    assert redact_target("/" + "a" * (MAX_LOGGED_TARGET - 1)) == "/" + "a" * (MAX_LOGGED_TARGET - 1)


def _run_in_flight(limit: int, requests: int) -> list[int]:
    """Start ``requests`` requests that all wait on one event, then release them."""

    async def scenario() -> list[int]:
        release = asyncio.Event()
        statuses: list[int] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        limited = InFlightLimit(app, limit=limit)

        async def one() -> None:
            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])
                    if message["status"] == 503:
                        assert (b"retry-after", b"1") in message["headers"]

            await limited({"type": "http", "headers": []}, receive, send)

        tasks = [asyncio.create_task(one()) for _ in range(requests)]
        for _ in range(requests * 3):
            await asyncio.sleep(0)  # let every request reach the limiter
        release.set()
        await asyncio.gather(*tasks)
        assert limited.active == 0
        return sorted(statuses)

    return asyncio.run(scenario())


def test_requests_in_flight_up_to_the_limit_run_and_one_more_gets_503() -> None:
    """Limit 3: three waiting requests all run; a fourth at the same time is 503 at once,
    with ``Retry-After: 1``."""
    assert _run_in_flight(3, 3) == [200, 200, 200]
    assert _run_in_flight(3, 4) == [200, 200, 200, 503]


@pytest.mark.parametrize(
    "option",
    [
        ("--header-timeout", "0"),
        ("--header-timeout", "inf"),
        ("--header-timeout", "nan"),
        ("--header-timeout", "3601"),
        ("--body-timeout", "-1"),
        ("--keep-alive-timeout", "0"),
        ("--max-connections", "0"),
        ("--limit-concurrency", "0"),
    ],
)
def test_a_limit_out_of_range_is_a_usage_error(tmp_path: Path, option: tuple[str, str]) -> None:
    """Timeouts outside 0.1–3600 s (or NaN) and counts below 1 stop ``yishi serve`` before it
    starts: exit 2, the option named, no traceback."""
    # In process (``cli_support``), as the CLI sweeps run: the same parsing and exit
    # status without starting the installed command eight times.
    done = completed("serve", "--tokens", tmp_path / "t.yaml", *option)
    assert done.returncode == 2
    assert option[0] in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
