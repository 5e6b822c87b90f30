"""Specification: legal but hostile JSON is a located 422, never a 500.

Python's JSON reader accepts ``2.0``, ``NaN``, ``Infinity``, ``1e999``, integers
beyond ±(2**53 - 1), lone surrogates and deep nesting; no audit record can hold
any of them. The server answers each with ``invalid-request`` naming the path of
the offending value, before the engine sees it, for ``data`` and for explain. A
fired event's payload goes on to the engine (unless nested too deep), which refuses
it ``invalid-payload`` and records the refusal with the payload withheld. Unexpected
failures are logged in a bounded entry.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_support import (
    NOBODY_TOKEN,
    SECRETARY_TOKEN,
    auth,
    client,
    open_case,
    seed,
)

from engine.audit.canonical import MAX_SAFE_INT
from engine.server.exact_json import MAX_DEPTH, MAX_REPORTED, inexact
from engine.server.limits import ContainFailures
from engine.server.problems import MAX_LOG_ENTRY, log_failure
from engine.storage import open_store

HOSTILE: dict[str, tuple[bytes, str]] = {
    "integral float": (b"2.0", "not an integer"),
    "fraction": (b"0.5", "not an integer"),
    "NaN": (b"NaN", "not a number a record can hold"),
    "Infinity": (b"Infinity", "not a number a record can hold"),
    "-Infinity": (b"-Infinity", "not a number a record can hold"),
    "overflowing exponent": (b"1e999", "not a number a record can hold"),
    "2**53": (str(MAX_SAFE_INT + 1).encode(), "outside ±(2**53 - 1)"),
    "-2**53": (str(-MAX_SAFE_INT - 1).encode(), "outside ±(2**53 - 1)"),
    "huge integer": (b"1" * 4000, "outside ±(2**53 - 1)"),
    "lone surrogate": (b'"\\ud800"', "lone surrogate"),
    "deep nesting": (b"[" * 900 + b"]" * 900, f"nested deeper than {MAX_DEPTH} levels"),
}


def _fresh() -> TestClient:
    connection = client()
    assert open_case(connection, seed(connection), "c-1").status_code == 201
    return connection


@pytest.fixture(scope="module")
def http() -> TestClient:
    """An in-process app with the bundled procedure and an open case ``c-1``, shared by the
    tests of this module (each compares seqs before and after)."""
    return _fresh()


def _post(http: TestClient, path: str, body: bytes, token: str = SECRETARY_TOKEN) -> Any:
    return http.post(
        path, content=body, headers={**auth(token), "Content-Type": "application/json"}
    )


def _seq(http: TestClient) -> str:
    etag: str = http.get("/cases/c-1", headers=auth(SECRETARY_TOKEN)).headers["etag"]
    return etag


@pytest.mark.parametrize("name", list(HOSTILE))
@pytest.mark.parametrize("token", [SECRETARY_TOKEN, NOBODY_TOKEN])
def test_explaining_a_payload_no_record_can_hold_is_a_located_422(
    http: TestClient, name: str, token: str
) -> None:
    """Each hostile value in ``payload.present`` sent to explain: 422 ``invalid-request``
    whose violation names ``body.payload.present`` (or a path under it), before a guard
    could bind it; the seq stays where it was. A token with no role in the procedure is
    refused at the door first (403), its payload never looked at."""
    value, words = HOSTILE[name]
    body = b'{"event": "propose", "payload": {"present": ' + value + b', "yes": 2}}'
    seq = _seq(http)

    answer = _post(http, "/cases/c-1/explain", body, token)

    if token == NOBODY_TOKEN:
        assert answer.status_code == 403, answer.text
        assert _seq(http) == seq
        return
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "invalid-request"
    assert problem["violations"][0]["path"].startswith("body.payload.present")
    assert words in problem["violations"][0]["message"]
    assert _seq(http) == seq


@pytest.mark.parametrize("name", [n for n in HOSTILE if n != "deep nesting"])
def test_firing_a_payload_no_record_can_hold_is_a_recorded_invalid_payload(
    http: TestClient, name: str
) -> None:
    """The secretary may fire ``propose``: each inexact value is refused 422
    ``invalid-payload`` naming ``present``, recorded at the next seq with the payload
    withheld (``not-exact``), and the chain still verifies."""
    value, _ = HOSTILE[name]
    body = b'{"event": "propose", "payload": {"present": ' + value + b', "yes": 2}}'
    seq = int(_seq(http).strip('"'))

    answer = _post(http, "/cases/c-1/events", body)

    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert (problem["code"], problem["seq"], problem["recorded"]) == (
        "invalid-payload",
        seq + 1,
        True,
    )
    assert "refused at present" in problem["detail"]
    record = http.get("/cases/c-1/audit", headers=auth(SECRETARY_TOKEN)).text.splitlines()[-1]
    assert '"why":"not-exact"' in record
    assert http.get("/cases/c-1/verify", headers=auth(SECRETARY_TOKEN)).json()["ok"]


def test_firing_a_payload_nested_too_deep_is_refused_at_the_door(http: TestClient) -> None:
    """900 levels of nesting: 422 ``invalid-request`` at ``body.payload.present…``; nothing
    recorded (copying it would exhaust the interpreter's recursion)."""
    value, words = HOSTILE["deep nesting"]
    body = b'{"event": "propose", "payload": {"present": ' + value + b', "yes": 2}}'
    seq = _seq(http)

    answer = _post(http, "/cases/c-1/events", body)

    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid-request"
    assert answer.json()["violations"][0]["path"].startswith("body.payload.present")
    assert words in answer.json()["violations"][0]["message"]
    assert _seq(http) == seq


@pytest.mark.parametrize("name", list(HOSTILE))
def test_case_data_no_record_can_hold_is_a_located_422_and_no_case_is_opened(
    http: TestClient, name: str
) -> None:
    """Opening a case with a hostile value in ``data``: 422 at ``body.data.…``; no case."""
    value, words = HOSTILE[name]
    sha = http.get("/procedures", headers=auth(SECRETARY_TOKEN)).json()["procedures"][0]["sha256"]
    body = b'{"id": "c-2", "procedure": "%s", "data": {"matter": ' % sha.encode() + value + b"}}"

    answer = _post(http, "/cases", body)

    assert answer.status_code == 422, answer.text
    assert answer.json()["violations"][0]["path"].startswith("body.data.matter")
    assert words in answer.json()["violations"][0]["message"]
    assert http.get("/cases/c-2", headers=auth(SECRETARY_TOKEN)).status_code == 404


def test_a_lone_surrogate_in_a_member_name_is_located_at_its_object(http: TestClient) -> None:
    """``{"\\udc00": 1}`` in the payload: the violation is at ``body.payload`` (its object)."""
    answer = _post(http, "/cases/c-1/explain", b'{"event": "propose", "payload": {"\\udc00": 1}}')

    assert answer.status_code == 422
    assert answer.json()["violations"] == [
        {"path": "body.payload", "message": "a member name holds a lone surrogate (not UTF-8)"}
    ]


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def test_nesting_is_allowed_up_to_the_limit_and_refused_one_beyond() -> None:
    """The value itself is level 0: containers at levels 0..MAX_DEPTH-1 pass; one more fails."""
    assert inexact({"x": _nested(MAX_DEPTH - 1)}, "body.payload") == []
    deeper = inexact({"x": _nested(MAX_DEPTH)}, "body.payload")
    assert [v["message"] for v in deeper] == [f"nested deeper than {MAX_DEPTH} levels"]


def test_the_safe_integer_edges_pass_and_one_beyond_fails() -> None:
    """±(2**53 - 1) are exact; ±2**53 are not; booleans and null are fine, alone or listed."""
    assert inexact([MAX_SAFE_INT, -MAX_SAFE_INT, True, None, "文"], "v") == []
    assert inexact(MAX_SAFE_INT, "v") == []
    assert [v["path"] for v in inexact(MAX_SAFE_INT + 1, "v")] == ["v"]
    assert [v["path"] for v in inexact([MAX_SAFE_INT + 1, -MAX_SAFE_INT - 1], "v")] == [
        "v[0]",
        "v[1]",
    ]


def test_the_list_of_violations_is_capped() -> None:
    """A thousand floats give MAX_REPORTED violations and one line counting the rest."""
    found = inexact([0.5] * 1000, "body.payload")
    assert len(found) == MAX_REPORTED + 1
    assert found[-1]["message"] == f"and {1000 - MAX_REPORTED} more values like these"


def test_an_exact_payload_at_the_edges_still_reaches_the_engine() -> None:
    """``present`` = 2**53 - 1 passes the door: the engine answers, applied or refused."""
    http = _fresh()
    body = b'{"event": "propose", "payload": {"present": %d, "yes": 2}}' % MAX_SAFE_INT
    answer = _post(http, "/cases/c-1/events", body)
    assert answer.status_code in (200, 422)
    assert answer.json().get("code") != "invalid-request"
    assert _seq(http) == '"2"'


def _recurse(depth: int) -> None:
    if depth == 0:
        raise RecursionError("maximum recursion depth exceeded")
    _recurse(depth - 1)


def test_a_failure_with_a_deep_traceback_is_logged_in_a_bounded_entry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 900-frame traceback is logged as one entry of at most MAX_LOG_ENTRY characters that
    still names the exception."""
    try:
        _recurse(900)
    except RecursionError as exc:
        with caplog.at_level(logging.ERROR, logger="yishi.test"):
            log_failure(logging.getLogger("yishi.test"), "POST /x" + "y" * 100_000, exc)
    assert len(caplog.records) == 1
    entry = caplog.records[0].getMessage()
    assert len(entry) <= MAX_LOG_ENTRY
    assert entry.startswith("POST /x")


def test_an_unexpected_failure_is_a_500_problem_with_a_bounded_log(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An engine call failing deep inside: 500 ``internal-error``, one log entry, bounded."""
    http = _fresh()
    engine = http.app.state.services.engine  # type: ignore[attr-defined]

    def explode(*args: object, **kwargs: object) -> None:
        _recurse(900)

    monkeypatch.setattr(engine, "explain", explode)
    with caplog.at_level(logging.ERROR, logger="yishi.server"):
        answer = _post(http, "/cases/c-1/explain", b'{"event": "propose"}')
    assert answer.status_code == 500
    assert answer.json()["code"] == "internal-error"
    entries = [r.getMessage() for r in caplog.records if r.name == "yishi.server"]
    assert len(entries) == 1
    assert len(entries[0]) <= MAX_LOG_ENTRY
    assert "RecursionError" in entries[0]


def test_an_unexpected_failure_does_not_escape_to_the_server(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Starlette raises a failure again after answering it (for uvicorn to log the whole
    traceback); wrapped in ``ContainFailures`` the app answers 500 and raises nothing, so
    the only log entry is the bounded one."""
    http = _fresh()
    engine = http.app.state.services.engine  # type: ignore[attr-defined]

    def explode(*args: object, **kwargs: object) -> None:
        _recurse(900)

    monkeypatch.setattr(engine, "explain", explode)
    contained = TestClient(ContainFailures(http.app), raise_server_exceptions=True)
    with caplog.at_level(logging.ERROR):
        answer = contained.post(
            "/cases/c-1/explain",
            content=b'{"event": "propose"}',
            headers={**auth(SECRETARY_TOKEN), "Content-Type": "application/json"},
        )
    assert answer.status_code == 500
    assert [len(r.getMessage()) <= MAX_LOG_ENTRY for r in caplog.records] == [True]


def test_without_the_wrapper_the_failure_would_reach_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The counterpart: the bare app raises the failure to its server after answering."""
    http = _fresh()
    engine = http.app.state.services.engine  # type: ignore[attr-defined]

    def explode(*args: object, **kwargs: object) -> None:
        _recurse(900)

    monkeypatch.setattr(engine, "explain", explode)
    bare = TestClient(http.app, raise_server_exceptions=True)
    with pytest.raises(RecursionError):
        bare.post(
            "/cases/c-1/explain",
            content=b'{"event": "propose"}',
            headers={**auth(SECRETARY_TOKEN), "Content-Type": "application/json"},
        )


def test_a_cursor_holding_a_lone_surrogate_is_a_422_on_sqlite(tmp_path: Path) -> None:
    """``after=[1,"\\ud800"]`` parses as a cursor, but no store can encode its id: 422, not
    the 500 SQLite's encoder would cause."""
    http = client(open_store(f"sqlite:///{tmp_path / 'cursor.db'}"))
    answer = http.get("/cases", params={"after": '[1,"\\ud800"]'}, headers=auth(SECRETARY_TOKEN))
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid-request"
