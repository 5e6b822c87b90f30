"""Hostile load against a running ``yishi serve``, and a legitimate client to time beside it.

Shared by ``test_server_hostile.py`` and ``bench/hostile_bench.py``. The attack
runs in its own process (``python hostile_support.py --url … --seconds …``), so
its threads do not take the measuring client's interpreter lock: 200 idle
sockets (reopened when the server closes them), heads and bodies dribbled a
byte at a time, a no-role token reading, explaining and sending oversized or
pathological bodies, and an expensive but valid guard explained over and over.
None of these requests may write to a chain. Once the idle sockets are open the
attack prints ``ready``; at the end it prints one JSON line: how many requests got
each status, and how many sockets it opened.

With ``--until-stdin-closes`` the attack lasts at least ``--seconds`` and goes on
until its standard input closes: a test closes it when its measuring client is
done, so every measured request runs under attack and none waits for a fixed
deadline chosen for the slowest machine.

Every loop is bounded by a count and by the deadline.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from server_support import (
    ADMIN_TOKEN,
    NOBODY_TOKEN,
    SECRETARY_TOKEN,
    auth,
)

COSTLY_PROCEDURE = """\
# yaml-language-server: $schema=../schemas/procedure.schema.json
id: costly-guard
version: "1.0.0"
title: 代价高的条件
rule_set:
  name: test
roles:
  clerk:
    label: 文书
  branch_secretary:
    label: 村党支部书记
opened_by: [branch_secretary]
data:
  type: object
initial: open
states:
  open:
    label: 办理中
  done:
    label: 办结
    final: true
events:
  check:
    label: 核对
    roles: [clerk]
    payload:
      type: object
      required: [marks]
      properties:
        marks:
          type: array
          maxItems: 200
          items: {type: integer, minimum: 0, maximum: 100}
    transitions:
      - from: open
        to: done
        guards:
          - cel: >-
              payload.marks.all(a, payload.marks.all(b, a + b >= 0))
              && size(payload.marks) > 200
            explain: 两两之和不为负且多于二百项
"""
"""A valid procedure whose guard is quadratic in a list of at most 200 items (never true).

The secretary may open its case (``opened_by``); a token with no role in it is
refused at the door before the guard, so only its clerk could make it run."""

COSTLY_CASE = "hostile-costly"
IDLE_SOCKETS = 200
MAX_REQUESTS_PER_THREAD = 100_000
"""A count bound for each attack loop (the deadline ends them first)."""

REFUSED_AT_THE_DOOR: tuple[bytes, ...] = (
    b'{"event": "propose", "payload": {"x": ' + b"[" * 900 + b"]" * 900 + b"}}",
    b'{"event": "propose", "payload": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    b'{"event": "propose", "payload": {"present": 2, "yes": ',
)
"""Bodies answered 400/422 before the engine, whoever sends them (nothing recorded)."""
INEXACT: tuple[bytes, ...] = (
    b'{"event": "propose", "payload": {"present": 2.0, "yes": 2}}',
    b'{"event": "propose", "payload": {"present": NaN, "yes": 2}}',
    b'{"event": "propose", "payload": {"present": Infinity, "yes": 2}}',
    b'{"event": "propose", "payload": {"present": 9007199254740993, "yes": 2}}',
    b'{"event": "propose", "payload": {"present": 2, "yes": 2, "x": "\\ud800"}}',
)
"""Values no record can hold: 422 from explain; fired by an actor who may fire the
event they are a recorded refusal, so the attack only explains them."""


def setup_costly_case(client: httpx.Client) -> None:
    """Register the costly procedure (admin) and open its case (secretary)."""
    answer = client.post(
        "/procedures",
        content=COSTLY_PROCEDURE.encode("utf-8"),
        headers={**auth(ADMIN_TOKEN), "Content-Type": "application/yaml"},
    )
    assert answer.status_code in (200, 201), answer.text
    body = {"id": COSTLY_CASE, "procedure": answer.json()["sha256"], "data": {}}
    opened = client.post("/cases", json=body, headers=auth(SECRETARY_TOKEN))
    assert opened.status_code == 201, opened.text


def legit_latencies(url: str, case: str, count: int, seconds: float) -> list[float]:
    """Time ``count`` requests of a legitimate client on its own case (at most ``seconds``).

    Reads, explains and fires in turn over one keep-alive connection; each fire
    applies and leaves the case in ``drafting``, so it can repeat.

    Returns:
        The seconds each request took, in order.
    """
    taken: list[float] = []
    deadline = time.monotonic() + seconds
    payload = {"event": "propose", "payload": {"present": 2, "yes": 2}}
    with httpx.Client(base_url=url, timeout=seconds) as client:
        for number in range(count):
            if time.monotonic() > deadline:
                break
            start = time.perf_counter()
            if number % 3 == 0:
                answer = client.get(f"/cases/{case}", headers=auth(SECRETARY_TOKEN))
            elif number % 3 == 1:
                answer = client.post(
                    f"/cases/{case}/explain", json=payload, headers=auth(SECRETARY_TOKEN)
                )
            else:
                answer = client.post(
                    f"/cases/{case}/events", json=payload, headers=auth(SECRETARY_TOKEN)
                )
            taken.append(time.perf_counter() - start)
            assert answer.status_code == 200, (number, answer.status_code, answer.text[:300])
    return taken


def p99(values: list[float]) -> float:
    """The 99th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


class _Tally:
    def __init__(self, over: Callable[[], bool]) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[str] = Counter()
        self.sockets = 0
        self.over = over
        """True once the attack should end (every loop asks it between steps)."""
        self.idle_open = threading.Event()
        """Set once the idle sockets are open, so a caller can start measuring."""

    def count(self, status: str) -> None:
        with self.lock:
            self.statuses[status] += 1

    def opened(self) -> None:
        with self.lock:
            self.sockets += 1


def _connect(host: str, port: int, tally: _Tally) -> socket.socket | None:
    try:
        conn = socket.create_connection((host, port), timeout=5)
    except OSError:
        tally.count("connect-failed")
        return None
    tally.opened()
    return conn


def _closed(conn: socket.socket) -> bool:
    conn.setblocking(False)
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        conn.setblocking(True)


def _status_of(reply: bytes) -> str:
    parts = reply.split(b" ", 2)
    return parts[1].decode("ascii", "replace") if len(parts) > 1 else "closed"


def _idle(host: str, port: int, tally: _Tally) -> None:
    sockets = [_connect(host, port, tally) for _ in range(IDLE_SOCKETS)]
    tally.idle_open.set()
    for _ in range(MAX_REQUESTS_PER_THREAD):
        if tally.over():
            break
        for index, conn in enumerate(sockets):
            if conn is None or _closed(conn):
                if conn is not None:
                    conn.close()
                sockets[index] = _connect(host, port, tally)
        time.sleep(0.2)
    for conn in sockets:
        if conn is not None:
            conn.close()


def _dribble(host: str, port: int, tally: _Tally, message: bytes) -> None:
    for _ in range(MAX_REQUESTS_PER_THREAD):
        if tally.over():
            return
        conn = _connect(host, port, tally)
        if conn is None:
            time.sleep(0.1)
            continue
        with conn:
            for byte in message:
                if tally.over() or _closed(conn):
                    break
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    break
                time.sleep(0.1)
            conn.settimeout(1)
            try:
                tally.count(_status_of(conn.recv(64)))
            except OSError:
                tally.count("closed")


def _junk(url: str, tally: _Tally, requests: list[Callable[[httpx.Client], Any]]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for number in range(MAX_REQUESTS_PER_THREAD):
            if tally.over():
                return
            try:
                answer = requests[number % len(requests)](client)
            except httpx.HTTPError as exc:
                tally.count(type(exc).__name__)
                continue
            tally.count(str(answer.status_code))


def _requests(case: str) -> list[Callable[[httpx.Client], Any]]:
    nobody = {**auth(NOBODY_TOKEN), "Content-Type": "application/json"}
    secretary = {**auth(SECRETARY_TOKEN), "Content-Type": "application/json"}
    costly = json.dumps({"event": "check", "payload": {"marks": [1] * 200}}).encode()
    made: list[Callable[[httpx.Client], Any]] = [
        lambda c: c.get("/cases", headers=nobody),
        lambda c: c.get(f"/cases/{case}/audit", headers=nobody),
        lambda c: c.post(f"/cases/{COSTLY_CASE}/explain", content=costly, headers=nobody),
        lambda c: c.post(f"/cases/{case}/explain", content=b"x" * 900_000, headers=nobody),
        lambda c: c.post("/procedures", content=b"#" * (2 * 1024 * 1024), headers=nobody),
        lambda c: c.get("/cases", headers=auth("not-a-token-0123456789")),
    ]
    for body in REFUSED_AT_THE_DOOR:
        made.append(_poster(f"/cases/{case}/events", body, secretary))
    for body in REFUSED_AT_THE_DOOR + INEXACT:
        made.append(_poster(f"/cases/{case}/explain", body, nobody))
        made.append(_poster(f"/cases/{case}/explain", body, secretary))
    return made


def _poster(path: str, body: bytes, headers: dict[str, str]) -> Callable[[httpx.Client], Any]:
    def post(client: httpx.Client) -> Any:
        return client.post(path, content=body, headers=headers)

    return post


def attack(
    url: str,
    case: str,
    seconds: float,
    *,
    stop: threading.Event | None = None,
    ready: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run every attack against ``url`` for ``seconds``; return the tally.

    Args:
        url: the server, e.g. ``http://127.0.0.1:8000``.
        case: a case the legitimate client uses (read and probed, never written).
        seconds: how long the attack lasts (at least, when ``stop`` is given).
        stop: when given, the attack also goes on until it is set.
        ready: called once the idle sockets are open.

    Returns:
        ``{"statuses": {status: count}, "sockets": opened}``.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    deadline = time.monotonic() + seconds

    def over() -> bool:
        return time.monotonic() > deadline and (stop is None or stop.is_set())

    tally = _Tally(over)
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    body = (
        f"POST /cases/{case}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {NOBODY_TOKEN}\r\nContent-Type: application/json\r\n"
        "Content-Length: 400\r\n\r\n"
    ).encode("ascii") + b" " * 400
    threads = [threading.Thread(target=_idle, args=(host, port, tally))]
    threads += [
        threading.Thread(target=_dribble, args=(host, port, tally, message))
        for message in (head, head, head, body, body)
    ]
    threads += [
        threading.Thread(target=_junk, args=(url, tally, _requests(case))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    tally.idle_open.wait(60)
    if ready is not None:
        ready()
    for thread in threads:
        thread.join()  # every loop is bounded by a count, and ends soon after ``over``
    return {"statuses": dict(tally.statuses), "sockets": tally.sockets}


def main() -> None:
    """``python hostile_support.py --url URL --case ID --seconds S [--until-stdin-closes]``:
    attack, print ``ready`` once the idle sockets are open, then the tally."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--case", required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--until-stdin-closes", action="store_true")
    options = parser.parse_args()
    stop: threading.Event | None = None
    if options.until_stdin_closes:
        stop = threading.Event()
        threading.Thread(target=_set_at_eof, args=(stop,), daemon=True).start()
    tally = attack(
        options.url,
        options.case,
        options.seconds,
        stop=stop,
        ready=lambda: print("ready", flush=True),
    )
    print(json.dumps(tally), flush=True)


def _set_at_eof(stop: threading.Event) -> None:
    """Read standard input to its end, then set ``stop``."""
    sys.stdin.read()
    stop.set()


if __name__ == "__main__":
    main()
