"""Specification: the HTTP API, in process (TestClient), endpoint by endpoint.

Each endpoint calls the same Python API the CLI uses and answers with its
outcome, or with an RFC 9457 problem carrying the engine's own reason.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_support import (
    ADMIN_TOKEN,
    COMMITTEE_TOKEN,
    DATA,
    DIRECTOR_TOKEN,
    HAPPY_PATH,
    NOBODY_TOKEN,
    SECRETARY_TOKEN,
    auth,
    client,
    fire,
    open_case,
    procedure_text,
    seed,
)

from engine.audit.verify import verify_lines
from engine.definition.loader import load_source
from engine.errors import StoreError
from engine.server import routes_procedures
from engine.storage import MemoryStore, open_store

PROBLEM = "application/problem+json"


@pytest.fixture
def http() -> TestClient:
    """A client of an app over an in-memory store."""
    return client()


@pytest.fixture
def sha(http: TestClient) -> str:
    """The bundled procedure, stored."""
    return seed(http)


@pytest.fixture
def case(http: TestClient, sha: str) -> str:
    """An open case ``c-1``."""
    assert open_case(http, sha, "c-1").status_code == 201
    return "c-1"


def problem(answer: Any, status: int, code: str) -> dict[str, Any]:
    """Check that ``answer`` is a problem with this status and code; return its body."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = answer.json()
    assert (body["status"], body["code"], body["type"]) == (
        status, code, f"urn:yishi:problem:{code}"
    )  # fmt: skip
    assert body["title"] and body["detail"]
    return body


# -- procedures ---------------------------------------------------------------------------------


def test_registering_is_content_addressed_and_idempotent(http: TestClient) -> None:
    """The first registration is 201 with the sha256 of the text; the same text again is 200.
    The listing names who registered it (the token's actor) and when, from the first time."""
    from datetime import UTC, datetime

    before = datetime.now(UTC)
    text = procedure_text()
    headers = {**auth(ADMIN_TOKEN), "Content-Type": "application/yaml"}
    first = http.post("/procedures", content=text.encode(), headers=headers)
    again = http.post("/procedures", content=text.encode(), headers=headers)
    expected = load_source(text, "x.yaml").procedure
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["sha256"] == expected.sha256 == again.json()["sha256"]
    assert (first.json()["registered"], again.json()["registered"]) == (True, False)
    assert first.headers["location"] == f"/procedures/{expected.sha256}"
    listed = http.get("/procedures", headers=auth(NOBODY_TOKEN)).json()["procedures"]
    at = listed[0].pop("registered_at")
    # The listing also says how many cases pin each version (none yet).
    assert listed == [
        {"id": expected.id, "version": expected.version, "sha256": expected.sha256, "cases": 0,
         "registered_by": "ops"}
    ]  # fmt: skip
    assert before <= datetime.fromisoformat(at) <= datetime.now(UTC)


def test_an_invalid_procedure_is_a_422_problem_with_every_located_problem(
    http: TestClient,
) -> None:
    """Errors come back as ``violations``, each with file, line, column, path and message."""
    text = procedure_text().replace("initial: drafting", "initial: drafted", 1)
    answer = http.post(
        "/procedures?file=mine.yaml",
        content=text.encode(),
        headers={**auth(ADMIN_TOKEN), "Content-Type": "application/yaml"},
    )
    body = problem(answer, 422, "procedure-invalid")
    errors = [v for v in body["violations"] if v["severity"] == "error"]
    assert errors and errors[0]["file"] == "mine.yaml" and errors[0]["line"] > 1
    assert "drafted" in body["detail"]
    assert http.get("/procedures", headers=auth(ADMIN_TOKEN)).json()["procedures"] == []


def test_malformed_yaml_is_located_too(http: TestClient) -> None:
    """A YAML syntax error or a duplicate key is a located ``procedure-invalid`` problem."""
    headers = {**auth(ADMIN_TOKEN), "Content-Type": "application/yaml"}
    broken = http.post("/procedures", content=b"id: [unclosed\n", headers=headers)
    twice = http.post("/procedures", content=b"id: a\nid: b\n", headers=headers)
    assert problem(broken, 422, "procedure-invalid")["violations"][0]["line"] >= 1
    assert problem(twice, 422, "procedure-invalid")["violations"][0]["line"] == 2


def test_a_procedure_that_is_not_utf8_or_not_yaml_typed_is_refused(http: TestClient) -> None:
    """Bytes that are not UTF-8 are 400; a JSON or form media type is 415."""
    headers = {**auth(ADMIN_TOKEN), "Content-Type": "application/yaml"}
    latin = http.post("/procedures", content=b"title: \xe9\n", headers=headers)
    form = http.post(
        "/procedures",
        content=b"a=b",
        headers={**auth(ADMIN_TOKEN), "Content-Type": "application/x-www-form-urlencoded"},
    )
    problem(latin, 400, "malformed-body")
    problem(form, 415, "unsupported-media-type")


def test_only_an_admin_token_registers_or_dry_runs(http: TestClient) -> None:
    """A non-admin token gets 403 for a registration and for a dry run (checking costs CPU);
    an admin's ``dry_run`` checks and stores nothing.

    (Before the second stage any token could dry-run.)
    """
    text = procedure_text().encode()
    headers = {**auth(SECRETARY_TOKEN), "Content-Type": "application/yaml"}
    admin = {**auth(ADMIN_TOKEN), "Content-Type": "application/yaml"}
    refused = http.post("/procedures", content=text, headers=headers)
    refused_dry = http.post("/procedures?dry_run=true", content=text, headers=headers)
    checked = http.post("/procedures?dry_run=true", content=text, headers=admin)
    problem(refused, 403, "forbidden")
    problem(refused_dry, 403, "forbidden")
    assert checked.status_code == 200 and checked.json()["registered"] is False
    assert http.get("/procedures", headers=auth(ADMIN_TOKEN)).json()["procedures"] == []


def test_description_source_and_diagrams(http: TestClient, sha: str) -> None:
    """Describe in words; the exact source; Mermaid, DOT and SVG diagrams."""
    headers = auth(NOBODY_TOKEN)
    described = http.get(f"/procedures/{sha}", headers=headers).json()
    source = http.get(f"/procedures/{sha}/source", headers=headers)
    mermaid = http.get(f"/procedures/{sha}/diagram", headers=headers)
    dot = http.get(f"/procedures/{sha}/diagram?format=dot", headers=headers)
    svg = http.get(f"/procedures/{sha}/diagram?format=svg", headers=headers)
    assert described["title"] == "四议两公开"
    assert [e["id"] for e in described["events"]][:2] == ["propose", "deliberate"]
    assert source.content == procedure_text().encode("utf-8")
    assert mermaid.text.startswith("stateDiagram-v2")
    assert mermaid.headers["content-type"].startswith("text/vnd.mermaid")
    assert dot.text.startswith("digraph")
    assert svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content


def test_svg_without_graphviz_is_a_503_problem(
    http: TestClient, sha: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When ``dot`` is not installed, SVG is 503 ``graphviz-missing``; Mermaid still works."""
    monkeypatch.setattr(routes_procedures, "find_dot", lambda: None)
    svg = http.get(f"/procedures/{sha}/diagram?format=svg", headers=auth(NOBODY_TOKEN))
    problem(svg, 503, "graphviz-missing")
    assert http.get(f"/procedures/{sha}/diagram", headers=auth(NOBODY_TOKEN)).status_code == 200


def test_an_unknown_procedure_version_is_404(http: TestClient) -> None:
    """A well-formed sha256 that is not stored: 404 ``unknown-procedure``, for reads and opens."""
    missing = "0" * 64
    problem(http.get(f"/procedures/{missing}", headers=auth(ADMIN_TOKEN)), 404, "unknown-procedure")
    problem(open_case(http, missing, "c-9"), 404, "unknown-procedure")


# -- cases --------------------------------------------------------------------------------------


def test_opening_a_case_records_the_token_actor(http: TestClient, sha: str) -> None:
    """201 with the outcome, ``Location`` and ``ETag``; the case.opened record names the caller."""
    opened = open_case(http, sha, "c-1")
    assert opened.status_code == 201
    assert opened.headers["location"] == "/cases/c-1" and opened.headers["etag"] == '"1"'
    assert opened.json()["to"] == "drafting" and opened.json()["status"] == "applied"
    shown = http.get("/cases/c-1", headers=auth(NOBODY_TOKEN))
    assert shown.headers["etag"] == '"1"'
    assert (shown.json()["state"], shown.json()["seq"], shown.json()["data"]) == (
        "drafting", 1, DATA
    )  # fmt: skip
    audit = http.get("/cases/c-1/audit", headers=auth(NOBODY_TOKEN)).text.splitlines()
    assert '"actor":{"id":"张书记","roles":["branch_secretary"]}' in audit[0]


def test_opening_twice_is_409_and_bad_data_is_422_with_violations(
    http: TestClient, sha: str, case: str
) -> None:
    """``case-exists`` for an id in use; ``invalid-data`` lists each data violation's path."""
    problem(open_case(http, sha, case), 409, "case-exists")
    bad = problem(open_case(http, sha, "c-2", {"matter": 5}), 422, "invalid-data")
    assert {"path": "matter", "message": "5 is not of type 'string'"} in bad["violations"]


def test_the_happy_path_applies_each_event_as_its_role(http: TestClient, case: str) -> None:
    """Each step is 200 applied, with ``ETag`` the new seq and the guards' explanations."""
    for number, (event, token, payload) in enumerate(HAPPY_PATH, start=2):
        answer = fire(http, case, event, token, payload)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "applied" and answer.json()["seq"] == number
        assert answer.headers["etag"] == f'"{number}"'
    shown = http.get(f"/cases/{case}", headers=auth(NOBODY_TOKEN)).json()
    assert shown["state"] == "resolution_disclosed" and shown["deadline"]["event"]


@pytest.mark.parametrize(
    ("event", "token", "payload", "code", "member"),
    [
        ("resolve", SECRETARY_TOKEN, {"present": 40, "yes": 30}, "not-allowed", None),
        ("propose", DIRECTOR_TOKEN, {"present": 4, "yes": 3}, "not-authorised", None),
        ("propose", SECRETARY_TOKEN, {"present": "4", "yes": 3}, "invalid-payload", "violations"),
        ("propose", SECRETARY_TOKEN, {"present": 4, "yes": 5}, "guards-failed", "guards"),
    ],
)
def test_a_refusal_is_recorded_and_answered_422_with_the_engine_reason(
    *,
    http: TestClient,
    case: str,
    event: str,
    token: str,
    payload: dict[str, Any],
    code: str,
    member: str | None,
) -> None:
    """The problem's code is the engine's reason code; the refusal is in the audit at its seq."""
    answer = fire(http, case, event, token, payload)
    body = problem(answer, 422, code)
    assert (body["case"], body["seq"], body["recorded"], body["event"]) == (case, 2, True, event)
    assert answer.headers["etag"] == '"2"'
    if member is not None:
        assert body[member]
    if code == "invalid-payload":
        assert body["violations"][0]["path"] == "present"
    records = http.get(f"/cases/{case}/audit", headers=auth(NOBODY_TOKEN)).text.splitlines()
    assert len(records) == 2 and '"kind":"event.refused"' in records[1]
    assert f'"code":"{code}"' in records[1]


def test_if_match_makes_an_attempt_conditional(http: TestClient, case: str) -> None:
    """``If-Match`` with the current seq applies; with another it is 412 and records nothing."""
    stale = fire(http, case, "propose", SECRETARY_TOKEN, {"present": 4, "yes": 3}, **{
        "If-Match": '"7"'
    })  # fmt: skip
    problem(stale, 412, "precondition-failed")
    assert http.get(f"/cases/{case}", headers=auth(NOBODY_TOKEN)).json()["seq"] == 1
    fresh = fire(http, case, "propose", SECRETARY_TOKEN, {"present": 4, "yes": 3}, **{
        "If-Match": '"1"'
    })  # fmt: skip
    assert fresh.status_code == 200 and fresh.headers["etag"] == '"2"'


def test_a_malformed_if_match_is_422(http: TestClient, case: str) -> None:
    """``If-Match`` must be ``*``, or one seq (quoted or not); anything else is invalid-request."""
    answer = fire(http, case, "propose", SECRETARY_TOKEN, {"present": 4, "yes": 3}, **{
        "If-Match": "W/\"1\", \"2\""
    })  # fmt: skip
    problem(answer, 422, "invalid-request")


def test_an_idempotency_key_makes_a_retry_return_the_first_outcome(
    http: TestClient, case: str
) -> None:
    """A retry (even with its first If-Match) gets the first outcome, ``replayed``; none added."""
    headers = {"Idempotency-Key": "req-0001", "If-Match": '"1"'}
    payload = {"present": 4, "yes": 3}
    first = fire(http, case, "propose", SECRETARY_TOKEN, payload, **headers)
    again = fire(http, case, "propose", SECRETARY_TOKEN, payload, **headers)
    assert first.status_code == again.status_code == 200
    assert (first.json()["replayed"], again.json()["replayed"]) == (False, True)
    assert first.json()["hash"] == again.json()["hash"]
    other = fire(http, case, "propose", SECRETARY_TOKEN, {"present": 5, "yes": 5}, **{
        "Idempotency-Key": "req-0001"
    })  # fmt: skip
    problem(other, 422, "idempotency-key-reused")
    assert http.get(f"/cases/{case}", headers=auth(NOBODY_TOKEN)).json()["seq"] == 2


def test_explain_says_what_an_event_needs_and_changes_nothing(http: TestClient, case: str) -> None:
    """Explain for the token's actor: each candidate transition and its guards; seq unchanged."""
    answer = http.post(
        f"/cases/{case}/explain",
        json={"event": "propose", "payload": {"present": 2, "yes": 2}},
        headers=auth(SECRETARY_TOKEN),
    )
    body = answer.json()
    assert answer.status_code == 200 and body["state"] == "drafting"
    assert body["transitions"] and all("guards" in t for t in body["transitions"])
    as_director = http.post(
        f"/cases/{case}/explain", json={"event": "propose"}, headers=auth(DIRECTOR_TOKEN)
    ).json()
    assert as_director["allowed"] is False and as_director["reason"]["code"] == "not-authorised"
    assert http.get(f"/cases/{case}", headers=auth(NOBODY_TOKEN)).json()["seq"] == 1


def test_listing_filters_and_pages_by_key(http: TestClient, sha: str) -> None:
    """Newest first; filters by procedure and state; ``next`` continues; the cap is enforced."""
    for number in range(5):
        open_case(http, sha, f"p-{number}")
    fire(http, "p-0", "propose", SECRETARY_TOKEN, {"present": 4, "yes": 3})
    headers = auth(NOBODY_TOKEN)
    seen, after = [], None
    while True:
        query = "limit=2" + (f"&after={after}" if after else "")
        page = http.get(f"/cases?{query}", headers=headers).json()
        seen += [c["id"] for c in page["cases"]]
        after = page["next"]
        if after is None:
            break
    assert seen[0] == "p-0" and sorted(seen) == [f"p-{n}" for n in range(5)]
    proposed = http.get("/cases?state=proposed", headers=headers).json()["cases"]
    assert [c["id"] for c in proposed] == ["p-0"]
    by_procedure = http.get(
        "/cases?procedure=four-deliberations-two-disclosures&limit=200", headers=headers
    )
    assert len(by_procedure.json()["cases"]) == 5
    later = http.get("/cases?updated_since=2999-01-01T00:00:00%2B08:00", headers=headers)
    assert later.json()["cases"] == []
    problem(http.get("/cases?limit=201", headers=headers), 422, "invalid-request")
    problem(http.get("/cases?after=not-a-cursor", headers=headers), 422, "invalid-request")
    naive = http.get("/cases?updated_since=2024-01-01T00:00:00", headers=headers)
    problem(naive, 422, "invalid-request")


# -- audit ------------------------------------------------------------------------------------


def test_the_audit_is_jsonl_that_verifies(http: TestClient, case: str) -> None:
    """``GET …/audit`` streams the stored lines; they verify and end at the case's head."""
    fire(http, case, "propose", SECRETARY_TOKEN, {"present": 4, "yes": 3})
    answer = http.get(f"/cases/{case}/audit", headers=auth(NOBODY_TOKEN))
    assert answer.headers["content-type"].startswith("application/jsonl")
    lines = answer.content.splitlines(keepends=True)
    report = verify_lines(lines)
    head = http.get(f"/cases/{case}", headers=auth(NOBODY_TOKEN)).json()["head"]
    assert report.ok and report.heads[-1].hash == head and len(lines) == 2


def test_verify_and_replay_a_case(http: TestClient, case: str) -> None:
    """Verify: intact and at the snapshot's head. Replay: no divergence; ``as_of`` stops early."""
    fire(http, case, "propose", SECRETARY_TOKEN, {"present": 4, "yes": 3})
    headers = auth(NOBODY_TOKEN)
    verified = http.get(f"/cases/{case}/verify", headers=headers).json()
    replayed = http.get(f"/cases/{case}/replay", headers=headers).json()
    early = http.get(f"/cases/{case}/replay?as_of=1", headers=headers).json()
    assert verified["ok"] and verified["head"] == verified["expected_head"]
    assert replayed["ok"] and replayed["case_at"]["state"] == "proposed"
    assert early["case_at"]["seq"] == 1 and early["case_at"]["state"] == "drafting"
    problem(
        http.get(f"/cases/{case}/replay?as_of=yesterday", headers=headers), 422, "invalid-request"
    )


def test_verify_reports_a_tampered_store(tmp_path: Path) -> None:
    """A record edited inside the database: verify says not ok, with the failure's kind."""
    db = tmp_path / "cases.db"
    store = open_store(f"sqlite:///{db}")
    http = client(store)
    open_case(http, seed(http), "c-1")
    fire(http, "c-1", "propose", SECRETARY_TOKEN, {"present": 4, "yes": 3})
    with sqlite3.connect(db) as conn:  # an insider's edit: 3 votes become 4
        conn.execute("UPDATE events SET record = replace(record, '\"yes\":3', '\"yes\":4')")
    verified = http.get("/cases/c-1/verify", headers=auth(NOBODY_TOKEN)).json()
    store.close()
    assert verified["ok"] is False and verified["failure"]["kind"] == "hash-mismatch"
    assert verified["failure"]["seq"] == 2


def test_unknown_cases_are_404_everywhere(http: TestClient) -> None:
    """Every case endpoint answers 404 ``unknown-case`` for a well-formed id that is not there."""
    headers = auth(NOBODY_TOKEN)
    for path in ("", "/audit", "/verify", "/replay"):
        problem(http.get(f"/cases/nope{path}", headers=headers), 404, "unknown-case")
    problem(fire(http, "nope", "propose", SECRETARY_TOKEN, {}), 404, "unknown-case")
    problem(
        http.post("/cases/nope/explain", json={"event": "propose"}, headers=headers),
        404,
        "unknown-case",
    )


# -- health -------------------------------------------------------------------------------------


def test_health_and_readiness_need_no_token(http: TestClient) -> None:
    """``/healthz`` and ``/readyz`` answer 200 without a token."""
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ok"}


def test_readiness_is_503_when_the_store_cannot_be_read() -> None:
    """A store that raises ``StoreError`` makes ``/readyz`` a 503 ``store-unavailable``."""

    class Broken(MemoryStore):
        def get_case(self, case_id: str) -> None:
            raise StoreError("database is locked")

    http = client(Broken())
    problem(http.get("/readyz"), 503, "store-unavailable")
    assert http.get("/healthz").status_code == 200


def test_unknown_routes_and_methods_are_problems(http: TestClient) -> None:
    """404 and 405 from routing are problems too."""
    problem(http.get("/nowhere", headers=auth(NOBODY_TOKEN)), 404, "not-found")
    problem(http.delete("/procedures", headers=auth(NOBODY_TOKEN)), 405, "method-not-allowed")


def test_the_openapi_document_describes_every_payload(http: TestClient) -> None:
    """Every operation has a JSON or typed 200/201 response and documents its problems."""
    document = http.get("/openapi.json").json()
    assert {"Problem", "OutcomeOut", "CaseOut", "OpenCase", "FireEvent"} <= set(
        document["components"]["schemas"]
    )
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            ok = responses.get("200") or responses.get("201")
            assert ok and ok.get("content"), (method, path)
            if not path.endswith("z"):
                assert "401" in responses and "422" in responses, (method, path)
    scheme = document["components"]["securitySchemes"]
    assert next(iter(scheme.values()))["scheme"] == "bearer"


def test_committee_token_is_used(http: TestClient) -> None:
    """The committee token maps to its actor (a sanity check of the fixture tokens)."""
    assert COMMITTEE_TOKEN != SECRETARY_TOKEN
