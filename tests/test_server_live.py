"""Specification: ``yishi serve`` as a real uvicorn server on 127.0.0.1, with a SQLite store.

The main flows go over real sockets: register, open, a full case, refusals,
concurrent writers with If-Match, the audit fetched and verified by the
``yishi verify`` command, limits enforced by the running server, and a log
that never holds a token.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from server_support import (
    ADMIN_TOKEN,
    DIRECTOR_TOKEN,
    HAPPY_PATH,
    NOBODY_TOKEN,
    PRINCIPALS,
    SECRETARY_TOKEN,
    YISHI,
    LiveServer,
    auth,
    fire,
    live_server,
    open_case,
    register,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One running server for the module (its SQLite file in a temporary directory)."""
    with live_server(tmp_path_factory.mktemp("serve")) as running:
        yield running
    for token in PRINCIPALS:
        assert token not in running.log, "a bearer token reached the server log"


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client of the running server."""
    with httpx.Client(base_url=server.url, timeout=30) as connection:
        yield connection


@pytest.fixture(scope="module")
def sha(http: httpx.Client) -> str:
    """The bundled procedure, registered over HTTP."""
    return register(http)


def test_a_full_case_over_http_ends_with_a_verifying_audit(
    http: httpx.Client, sha: str, tmp_path: Path
) -> None:
    """Open, fire the happy path as each role, fetch the JSONL; ``yishi verify`` says ok."""
    assert open_case(http, sha, "live-1").status_code == 201
    for event, token, payload in HAPPY_PATH:
        answer = fire(http, "live-1", event, token, payload)
        assert answer.status_code == 200, answer.text
    audit = http.get("/cases/live-1/audit", headers=auth(NOBODY_TOKEN))
    assert audit.headers["content-type"].startswith("application/jsonl")
    path = tmp_path / "live-1.jsonl"
    path.write_bytes(audit.content)
    verified = subprocess.run(
        [str(YISHI), "verify", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "ok: 6 records in 1 cases" in verified.stdout
    checked = http.get("/cases/live-1/verify", headers=auth(NOBODY_TOKEN)).json()
    replayed = http.get("/cases/live-1/replay", headers=auth(NOBODY_TOKEN)).json()
    assert checked["ok"] and replayed["ok"]
    assert replayed["case_at"]["state"] == "resolution_disclosed"


def test_registering_again_over_http_is_idempotent(http: httpx.Client, sha: str) -> None:
    """The same text again: 200, same sha256, listed once."""
    assert register(http) == sha
    listed = http.get("/procedures", headers=auth(NOBODY_TOKEN)).json()["procedures"]
    assert [p["sha256"] for p in listed] == [sha]


def test_a_refusal_over_http_is_a_recorded_422_problem(http: httpx.Client, sha: str) -> None:
    """The director proposing: problem+json 422 ``not-authorised`` at seq 2, in the audit."""
    open_case(http, sha, "live-2")
    answer = fire(http, "live-2", "propose", DIRECTOR_TOKEN, {"present": 4, "yes": 3})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert (answer.json()["code"], answer.json()["seq"]) == ("not-authorised", 2)
    assert http.get("/cases/live-2", headers=auth(NOBODY_TOKEN)).headers["etag"] == '"2"'


def test_concurrent_writers_with_if_match_apply_exactly_one(http: httpx.Client, sha: str) -> None:
    """Sixteen clients fire at seq 1 at once: one 200, the rest 412, and the chain stays whole."""
    open_case(http, sha, "live-3")
    payload = {"present": 2, "yes": 2}  # applies and stays in drafting: any may win

    def attempt(number: int) -> int:
        with httpx.Client(base_url=str(http.base_url), timeout=30) as own:
            answer = fire(own, "live-3", "propose", SECRETARY_TOKEN, payload, **{
                "If-Match": '"1"', "Idempotency-Key": f"writer-{number}"
            })  # fmt: skip
            return answer.status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = sorted(pool.map(attempt, range(16)))
    assert statuses == [200] + [412] * 15
    checked = http.get("/cases/live-3/verify", headers=auth(NOBODY_TOKEN)).json()
    assert checked["ok"] and checked["records"] == 2


def test_concurrent_writers_without_if_match_all_land_in_one_chain(
    http: httpx.Client, sha: str
) -> None:
    """Without If-Match each attempt is applied or answered 409 (retryable); the chain verifies."""
    open_case(http, sha, "live-4")
    payload = {"present": 2, "yes": 2}

    def attempt(number: int) -> int:
        with httpx.Client(base_url=str(http.base_url), timeout=30) as own:
            return fire(own, "live-4", "propose", SECRETARY_TOKEN, payload).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(attempt, range(16)))
    assert set(statuses) <= {200, 409}
    checked = http.get("/cases/live-4/verify", headers=auth(NOBODY_TOKEN)).json()
    assert checked["ok"] and checked["records"] == 1 + statuses.count(200)


def test_the_running_server_refuses_oversized_bodies_and_bad_tokens(http: httpx.Client) -> None:
    """Over the real socket: 413 for a 2 MiB body, 401 without or with a wrong token."""
    big = http.post(
        "/procedures",
        content=b"#" * (2 * 1024 * 1024),
        headers={**auth(ADMIN_TOKEN), "Content-Type": "application/yaml"},
    )
    assert big.status_code == 413 and big.json()["code"] == "body-too-large"
    assert http.get("/cases").status_code == 401
    assert http.get("/cases", headers=auth("wrong-token-123456789")).status_code == 401


def test_raw_traversal_in_the_request_line_never_reaches_a_file(server: LiveServer) -> None:
    """A raw ``GET /cases/../../etc/passwd`` (no client normalising it) is a problem, not a file."""
    for target in ("/cases/../../etc/passwd", "/cases/%2e%2e/%2e%2e/etc/passwd", "/../etc/passwd"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
            request = (
                f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {NOBODY_TOKEN}\r\nConnection: close\r\n\r\n"
            )
            conn.sendall(request.encode("ascii"))
            reply = b""
            while chunk := conn.recv(65536):
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        assert status in (404, 422), (target, head)
        assert b"root:" not in body
        assert json.loads(body)["code"] in ("not-found", "invalid-request", "unknown-case")


def test_readiness_over_http(http: httpx.Client) -> None:
    """``/readyz`` is 200 while the SQLite store answers."""
    assert http.get("/readyz").json() == {"status": "ok"}


def test_a_missing_token_file_stops_serve_with_one_line(tmp_path: Path) -> None:
    """``yishi serve`` with no such token file exits 1 with one ``yishi: error:`` line."""
    done = subprocess.run(
        [str(YISHI), "serve", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--port", "1",
         "--tokens", str(tmp_path / "missing.yaml")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("yishi: error:") and len(done.stderr.splitlines()) == 1
