"""Shared helpers for the HTTP API tests: tokens, an in-process client, a real server.

``live_server`` starts the installed ``yishi serve`` in a subprocess on a free
port of 127.0.0.1 with a SQLite store, waits until ``/healthz`` answers, and
stops it (SIGTERM to its pid, then SIGKILL) afterwards, returning what it logged.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from engine.definition.compile import CompiledProcedure
from engine.definition.loader import load_procedure
from engine.runtime.engine import Engine
from engine.server import Principal, TokenTable, create_app, token_hash
from engine.server.deps import Services
from engine.storage.base import Store
from engine.web import SessionTable, WebState

ROOT = Path(__file__).resolve().parent.parent
PROCEDURE_PATH = ROOT / "procedures" / "four-deliberations-two-disclosures.yaml"
YISHI = Path(sys.executable).with_name("yishi")

ADMIN_TOKEN = "admin-token-7f3c9a1e5b"
SECRETARY_TOKEN = "secretary-token-2d8e4b6a0c"
DIRECTOR_TOKEN = "director-token-9a1c3e5f7b"
COMMITTEE_TOKEN = "committee-token-4b6d8f0a2c"
NOBODY_TOKEN = "nobody-token-6e8a0c2d4f"

PRINCIPALS = {
    ADMIN_TOKEN: Principal(actor="ops", admin=True),
    SECRETARY_TOKEN: Principal(actor="张书记", roles=("branch_secretary",)),
    DIRECTOR_TOKEN: Principal(actor="李主任", roles=("village_director",)),
    COMMITTEE_TOKEN: Principal(actor="村委会", roles=("village_committee",)),
    NOBODY_TOKEN: Principal(actor="路人", roles=()),
}

DATA: dict[str, Any] = {
    "matter": "村内主干道硬化",
    "branch_committee_members": 5,
    "two_committees_members": 9,
    "voting_party_members": 41,
    "representatives": 57,
    "reconvened": 0,
}

HAPPY_PATH: list[tuple[str, str, dict[str, Any]]] = [
    ("propose", SECRETARY_TOKEN, {"present": 4, "yes": 3}),
    ("deliberate", SECRETARY_TOKEN, {"present": 9, "yes": 8}),
    ("review", SECRETARY_TOKEN, {"present": 30, "yes": 21}),
    ("resolve", DIRECTOR_TOKEN, {"present": 38, "yes": 20}),
    ("disclose_resolution", COMMITTEE_TOKEN, {"notice": "关于村内主干道硬化的决议"}),
]


def auth(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


def token_table() -> TokenTable:
    """The test tokens."""
    return TokenTable([(token_hash(t), who) for t, who in PRINCIPALS.items()])


def token_file(directory: Path) -> Path:
    """Write the test tokens as a YAML token file (hashes only) and return its path."""
    lines = ["tokens:"]
    for token, who in PRINCIPALS.items():
        lines.append(f"  - actor: {who.actor}")
        lines.append(f"    roles: [{', '.join(who.roles)}]")
        if who.admin:
            lines.append("    admin: true")
        lines.append(f"    sha256: {token_hash(token)}")
    path = directory / "tokens.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@cache
def compiled() -> CompiledProcedure:
    """The bundled 四议两公开, compiled once for all the tests."""
    return load_procedure(PROCEDURE_PATH)


_SPARE_APPS: dict[tuple[tuple[str, Any], ...], list[FastAPI]] = {}
"""Apps a finished test used, by ``create_app`` options, for a later test to take."""
_LENT: list[tuple[tuple[tuple[str, Any], ...], FastAPI]] | None = None
"""Apps ``client`` handed out during the running test (None outside a test's own fixtures)."""


def client(
    store: Store | None = None, *, tokens: TokenTable | None = None, **options: Any
) -> TestClient:
    """An in-process client of an app over ``store`` (in memory when omitted).

    ``tokens`` is the token table (the test tokens when omitted); ``options`` go to
    ``create_app``.

    The app's engine already holds the compiled bundled procedure in its cache, so tests that
    ``seed`` it skip compiling it again (registering over HTTP still checks the text).

    Every call gives a new engine over ``store``, its own token table and a new session table.
    Within a test, each call also gives an app no one else is using; the app (its routes and
    middleware, all set by the options) may be one an earlier test used, given those new
    services: FastAPI prepares each app's routes at its first request, ~45 ms of CPU that
    hundreds of tests paid again for the same routes. Every state an app keeps between
    requests is in ``app.state.services`` and ``app.state.web``, which are replaced here.
    Apps made outside a test's own fixtures (at import, for a module) are never shared.
    """
    engine = Engine(store=store)
    table = token_table() if tokens is None else tokens
    key = _options_key(options)
    spare = _SPARE_APPS.get(key) if key is not None and _LENT is not None else None
    if spare:
        app = spare.pop()
        app.state.services = Services(engine=engine, tokens=table)
        app.state.web = WebState(sessions=SessionTable())
    else:
        app = create_app(engine, table, **options)
    if key is not None and _LENT is not None:
        _LENT.append((key, app))
    engine.preload(compiled())
    return TestClient(app, raise_server_exceptions=False)


def _options_key(options: dict[str, Any]) -> tuple[tuple[str, Any], ...] | None:
    """The options as a key, or None when one is not a plain value (a session table)."""
    if not all(isinstance(value, int | float | bool) for value in options.values()):
        return None
    return tuple(sorted(options.items()))


@contextlib.contextmanager
def lending_apps() -> Iterator[None]:
    """Around one test (tests/conftest.py): afterwards, the apps it used are spare."""
    global _LENT  # noqa: PLW0603 - one test at a time per process
    outer, _LENT = _LENT, []
    try:
        yield
    finally:
        for key, app in _LENT:
            _SPARE_APPS.setdefault(key, []).append(app)
        _LENT = outer


def seed(http: TestClient) -> str:
    """Store the bundled procedure through the Python API (fast); return its sha256."""
    engine: Engine = http.app.state.services.engine  # type: ignore[attr-defined]
    engine.register(compiled())
    return compiled().procedure.sha256


def procedure_text() -> str:
    """The bundled 四议两公开 source."""
    return PROCEDURE_PATH.read_text(encoding="utf-8")


def register(http: Any, text: str | None = None) -> str:
    """Register a procedure as admin; return its sha256."""
    answer = http.post(
        "/procedures",
        content=(text or procedure_text()).encode("utf-8"),
        headers={**auth(ADMIN_TOKEN), "Content-Type": "application/yaml"},
    )
    assert answer.status_code in (200, 201), answer.text
    sha: str = answer.json()["sha256"]
    return sha


def open_case(http: Any, sha: str, case_id: str, data: dict[str, Any] | None = None) -> Any:
    """Open a case as the secretary; return the response."""
    body = {"id": case_id, "procedure": sha, "data": DATA if data is None else data}
    return http.post("/cases", json=body, headers=auth(SECRETARY_TOKEN))


def fire(http: Any, case_id: str, event: str, token: str, payload: dict[str, Any], **h: str) -> Any:
    """Fire an event; return the response."""
    return http.post(
        f"/cases/{case_id}/events",
        json={"event": event, "payload": payload},
        headers={**auth(token), **h},
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """A running ``yishi serve``: its base URL, and its log once stopped."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    log: str = field(default="")


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until ``url/healthz`` answers 200.

    Raises:
        RuntimeError: when the server exits or does not answer in time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"yishi serve exited with status {process.returncode}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(f"{url}/healthz", timeout=1) as answer,  # noqa: S310
        ):
            if answer.status == 200:
                return
        time.sleep(0.05)
    raise RuntimeError("yishi serve did not become healthy in time")


@contextlib.contextmanager
def live_server(directory: Path, *extra: str) -> Iterator[LiveServer]:
    """Run ``yishi serve`` on a free port with a SQLite store in ``directory``."""
    tokens = token_file(directory)
    port = free_port()
    log_path = directory / "server.log"
    db = f"sqlite:///{directory / 'yishi.db'}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(YISHI), "serve", "--db", db, "--host", "127.0.0.1", "--port", str(port),
             "--tokens", str(tokens), *extra],
            stdout=log, stderr=subprocess.STDOUT, cwd=directory,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    server = LiveServer(
        url=f"http://127.0.0.1:{port}", port=port, process=process, log_path=log_path
    )
    try:
        wait_healthy(server.url, process)
        yield server
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        server.log = log_path.read_text(encoding="utf-8", errors="replace")


def as_json(answer: Any) -> Any:
    """A response's JSON body (httpx or urllib)."""
    if hasattr(answer, "json"):
        return answer.json()
    return json.loads(answer.read())
