"""Specification: the lean event path answers exactly as the FastAPI route does.

``engine.server.fast_fire`` takes well-formed ``POST /cases/{id}/events`` requests
away from FastAPI's machinery. Two applications over equal stores and
one fixed clock, one with the lean path and one without, get the same requests
in the same order: every answer — status, headers and body bytes — must be the
same, refusals, door checks and malformed requests included.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_support import (
    DATA,
    DIRECTOR_TOKEN,
    NOBODY_TOKEN,
    PRINCIPALS,
    SECRETARY_TOKEN,
    compiled,
)

from engine.runtime.clock import FixedClock
from engine.runtime.engine import Engine
from engine.runtime.types import Actor
from engine.server import Principal, TokenTable, create_app, token_hash
from engine.server.fast_fire import MAX_FAST_BODY, FastFire
from engine.storage import MemoryStore

VILLAGE = "柳河县/城关镇/柳树村"
NEIGHBOUR = "柳河县/城关镇/王庄村"
VILLAGE_TOKEN = "village-secretary-token-5a7c9e"
AUDITOR_TOKEN = "county-auditor-token-3b5d7f9a"
SECRETARY = Actor(id="张书记", roles=("branch_secretary",))

TOKENS = {
    **PRINCIPALS,
    VILLAGE_TOKEN: Principal(actor="柳树村书记", roles=("branch_secretary",), units=(VILLAGE,)),
    AUDITOR_TOKEN: Principal(actor="县审计", auditor=True),
}
EVENTS = "/cases/c1/events"


def compared_app(*, fast: bool, **limits: Any) -> FastAPI:
    """An application with cases c1 (the secretary's village) and c2 (a neighbour's),
    with or without the lean path: the two sides every comparison here is made between."""
    engine = Engine(MemoryStore(), FixedClock(datetime(2024, 3, 1, 9, tzinfo=UTC)))
    engine.register(compiled())
    engine.open_case(compiled(), "c1", DATA, actor=SECRETARY)
    engine.open_case(compiled(), "c2", DATA, actor=SECRETARY, unit=NEIGHBOUR)
    tokens = TokenTable([(token_hash(t), who) for t, who in TOKENS.items()])
    return create_app(engine, tokens, fast_fire=fast, **limits)


def _app(*, fast: bool) -> TestClient:
    return TestClient(compared_app(fast=fast), raise_server_exceptions=False)


def _bearer(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


def _raw(token: str) -> list[tuple[str, str]]:
    """For a body sent as bytes: the token and a JSON content type."""
    return [*_bearer(token), ("Content-Type", "application/json")]


def _json(body: Any) -> dict[str, Any]:
    return {"json": body}


PROPOSE = {"event": "propose", "payload": {"present": 2, "yes": 2}}

Request = tuple[str, list[tuple[str, str]], dict[str, Any]]
"""A path, headers and the body (as the test client takes it: json= or content=)."""

# In order: later requests see the records earlier ones made.
ACCEPTED: list[Request] = [
    (EVENTS, _bearer(SECRETARY_TOKEN), _json(PROPOSE)),
    (EVENTS, _bearer(SECRETARY_TOKEN), _json({"event": "propose"})),  # payload left out
    (EVENTS, [*_bearer(SECRETARY_TOKEN), ("Idempotency-Key", "k-1")], _json(PROPOSE)),
    (EVENTS, [*_bearer(SECRETARY_TOKEN), ("Idempotency-Key", "k-1")], _json(PROPOSE)),
    (EVENTS, [*_bearer(SECRETARY_TOKEN), ("Idempotency-Key", "k-1")], _json({"event": "review"})),
    (EVENTS, [*_bearer(SECRETARY_TOKEN), ("If-Match", '"4"')], _json(PROPOSE)),
    (EVENTS, [*_bearer(SECRETARY_TOKEN), ("If-Match", '"4"')], _json(PROPOSE)),  # moved: 412
    (EVENTS, [*_bearer(SECRETARY_TOKEN), ("If-Match", "*")], _json(PROPOSE)),
    (EVENTS, [*_bearer(SECRETARY_TOKEN), ("If-Match", "6")], _json(PROPOSE)),
    (EVENTS, _bearer(SECRETARY_TOKEN), _json({"event": "resolve", "payload": {}})),  # refused
    (EVENTS, _bearer(DIRECTOR_TOKEN), _json(PROPOSE)),  # not the event's role: recorded
    (EVENTS, _raw(SECRETARY_TOKEN), {"content": b'{"event":"propose","payload":{"yes":2.5}}'}),
    (EVENTS, _raw(SECRETARY_TOKEN), {"content": b'{"event":"propose","payload":{"yes":1e400}}'}),
    (EVENTS, _raw(SECRETARY_TOKEN), {"content": b'{"event":"propose","payload":{"yes":NaN}}'}),
    (EVENTS, _bearer(SECRETARY_TOKEN), _json({"event": "propose", "payload": {"yes": 2**60}})),
    (EVENTS, _raw(SECRETARY_TOKEN), {"content": b'{"event":"propose","payload":{"a":"\\ud800"}}'}),
    (EVENTS, _bearer(SECRETARY_TOKEN), _json({**PROPOSE, "payload": {"deep": [[[[[]]]]]}})),
    (
        EVENTS,
        _raw(SECRETARY_TOKEN),
        {"content": b'{"event":"propose","payload":{"d":' + b"[" * 70 + b"]" * 70 + b"}}"},
    ),
    (
        EVENTS,
        _raw(SECRETARY_TOKEN),
        {"content": b'{"event":"propose","payload":{"d":' + b"[" * 5000 + b"]" * 5000 + b"}}"},
    ),
    # the door: 403 and 404, never recorded
    (EVENTS, _bearer(NOBODY_TOKEN), _json(PROPOSE)),
    (EVENTS, _bearer(AUDITOR_TOKEN), _json(PROPOSE)),
    ("/cases/c2/events", _bearer(VILLAGE_TOKEN), _json(PROPOSE)),
    ("/cases/nobody/events", _bearer(SECRETARY_TOKEN), _json(PROPOSE)),
    (EVENTS, [("Authorization", f"bearer {SECRETARY_TOKEN}")], _json(PROPOSE)),
    (EVENTS, [*_bearer(SECRETARY_TOKEN), ("Content-Type", "Application/JSON")], _json(PROPOSE)),
    (EVENTS, _raw(SECRETARY_TOKEN), {"content": b'{"event":"x","event":"propose"}'}),
    (EVENTS, _raw(SECRETARY_TOKEN), {"content": b"\xef\xbb\xbf" + b'{"event":"propose"}'}),
]
"""Requests the lean path answers itself (all but the 5,000-deep payload, which the
JSON reader refuses: the route answers it)."""

MALFORMED: list[Request] = [
    # the route's own answers (401, 400, 422)
    (EVENTS, [], _json(PROPOSE)),
    (EVENTS, [("Authorization", f"Bearer {SECRETARY_TOKEN}")], {"content": b'{"event":"x"}'}),
    (EVENTS, _bearer("not-a-token-in-the-file"), _json(PROPOSE)),
    (EVENTS, [("Authorization", "Basic dXNlcjpwYXNz")], _json(PROPOSE)),
    (EVENTS, [("Authorization", f"Bearer  {SECRETARY_TOKEN}")], _json(PROPOSE)),
    (EVENTS, [("Authorization", f"Bearer {SECRETARY_TOKEN}\t")], _json(PROPOSE)),
    (EVENTS, [*_bearer(SECRETARY_TOKEN), *_bearer(NOBODY_TOKEN)], _json(PROPOSE)),
    (EVENTS, [*_bearer(NOBODY_TOKEN), *_bearer(SECRETARY_TOKEN)], _json(PROPOSE)),
    (EVENTS, [*_bearer(SECRETARY_TOKEN), ("Idempotency-Key", "bad key")], _json(PROPOSE)),
    (EVENTS, [*_bearer(SECRETARY_TOKEN), ("If-Match", '"4"\n')], _json(PROPOSE)),
    (EVENTS, [*_bearer(SECRETARY_TOKEN), ("If-Match", "W/1")], _json(PROPOSE)),
    (EVENTS, [*_bearer(SECRETARY_TOKEN), ("If-Match", "1"), ("If-Match", "2")], _json(PROPOSE)),
    (EVENTS, [*_bearer(SECRETARY_TOKEN), ("Content-Type", "text/plain")], _json(PROPOSE)),
    (EVENTS, [*_bearer(SECRETARY_TOKEN), ("Content-Type", "text/plain")], {"content": b"{}"}),
    (EVENTS, [*_raw(SECRETARY_TOKEN), ("Content-Type", "application/json")], _json(PROPOSE)),
    (
        EVENTS,
        [*_bearer(SECRETARY_TOKEN), ("Content-Type", "application/merge-patch+json")],
        _json(PROPOSE),
    ),
    (EVENTS, _raw(SECRETARY_TOKEN), {"content": b""}),
    (EVENTS, _raw(SECRETARY_TOKEN), {"content": b"null"}),
    (EVENTS, _raw(SECRETARY_TOKEN), {"content": b"{"}),
    (EVENTS, _raw(SECRETARY_TOKEN), {"content": "{'event'".encode("utf-16")}),
    (EVENTS, _raw(SECRETARY_TOKEN), {"content": b"[" * 100_000}),
    (EVENTS, _bearer(SECRETARY_TOKEN), _json({**PROPOSE, "payload": {"notes": "记" * 30_000}})),
    (EVENTS, _bearer(SECRETARY_TOKEN), _json([PROPOSE])),
    (EVENTS, _bearer(SECRETARY_TOKEN), _json({**PROPOSE, "actor": "县长"})),
    (EVENTS, _bearer(SECRETARY_TOKEN), _json({"payload": {}})),
    (EVENTS, _bearer(SECRETARY_TOKEN), _json({"event": 7})),
    (EVENTS, _bearer(SECRETARY_TOKEN), _json({"event": "propose\n"})),
    (EVENTS, _bearer(SECRETARY_TOKEN), _json({"event": "提议"})),
    (EVENTS, _bearer(SECRETARY_TOKEN), _json({"event": "propose", "payload": None})),
    (EVENTS, _bearer(SECRETARY_TOKEN), _json({"event": "propose", "payload": [1]})),
    ("/cases/bad%20id/events", _bearer(SECRETARY_TOKEN), _json(PROPOSE)),
    ("/cases/.hidden/events", _bearer(SECRETARY_TOKEN), _json(PROPOSE)),
    ("/cases/c1/events/", _bearer(SECRETARY_TOKEN), _json(PROPOSE)),
    ("/cases//events", _bearer(SECRETARY_TOKEN), _json(PROPOSE)),
]
"""Requests the lean path leaves to the route (a body over MAX_FAST_BODY among them)."""

REQUESTS = [*ACCEPTED, *MALFORMED, (EVENTS, _bearer(SECRETARY_TOKEN), _json(PROPOSE))]


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The case ids of the requests the lean path answered itself."""
    seen: list[str] = []
    original = FastFire._fire

    def counting(self: FastFire, scope: Any, attempt: Any) -> Any:
        seen.append(attempt.case_id)
        return original(self, scope, attempt)

    monkeypatch.setattr(FastFire, "_fire", counting)
    return seen


def test_the_lean_path_answers_as_the_route_does(taken: list[str]) -> None:
    """Every request gets the same status, headers and body bytes either way."""
    lean, route = _app(fast=True), _app(fast=False)
    for number, (path, headers, body) in enumerate(REQUESTS):
        expected = route.post(path, headers=headers, **body)
        actual = lean.post(path, headers=headers, **body)
        where = f"request {number}: {path} {headers} {body}"
        assert expected.status_code == actual.status_code, where
        assert expected.headers.multi_items() == actual.headers.multi_items(), where
        assert expected.content == actual.content, where
    trail = lean.get("/cases/c1/audit", headers=_bearer(SECRETARY_TOKEN))
    assert route.get("/cases/c1/audit", headers=_bearer(SECRETARY_TOKEN)).content == trail.content
    assert trail.content.count(b"\n") > 10


def test_the_lean_path_takes_the_well_formed_requests(taken: list[str]) -> None:
    """Well-formed attempts, refusals and door checks alike are the lean path's own."""
    assert len("记".encode()) * 30_000 > MAX_FAST_BODY
    lean = _app(fast=True)
    for path, headers, body in ACCEPTED:
        lean.post(path, headers=headers, **body)
    assert len(ACCEPTED) - 1 == len(taken)
    for number, (path, headers, body) in enumerate(MALFORMED):
        lean.post(path, headers=headers, follow_redirects=False, **body)
        assert len(ACCEPTED) - 1 == len(taken), f"request {number}: {path} {headers} {body}"


def test_an_unexpected_failure_is_a_500_problem_either_way(
    monkeypatch: pytest.MonkeyPatch, taken: list[str]
) -> None:
    """An exception no handler expects is the same bounded 500 problem on both paths."""
    lean, route = _app(fast=True), _app(fast=False)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("internal detail /srv/secret")

    for http in (lean, route):
        monkeypatch.setattr(http.app.state.services.engine, "fire", broken)  # type: ignore[attr-defined]
    expected = route.post(EVENTS, headers=_bearer(SECRETARY_TOKEN), json=PROPOSE)
    actual = lean.post(EVENTS, headers=_bearer(SECRETARY_TOKEN), json=PROPOSE)
    assert taken == ["c1"]
    assert (500, expected.content) == (actual.status_code, actual.content)
    assert b"secret" not in actual.content
