"""Specification: the HTTP API's security — tokens, the recorded actor, limits, ids.

No token or an unknown one is 401; a role the token lacks is the engine's
``not-authorised`` refusal; the actor recorded is always the token's, never one
in the body; bodies, pages and ids are bounded and checked before any engine call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_support import (
    ADMIN_TOKEN,
    DIRECTOR_TOKEN,
    NOBODY_TOKEN,
    SECRETARY_TOKEN,
    auth,
    client,
    fire,
    open_case,
    seed,
)

from engine.server import auth as auth_module
from engine.server import load_tokens, token_hash
from engine.server.auth import TokenFileError, parse_tokens
from engine.storage import MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    """The store the app under test and the registering client share."""
    return MemoryStore()


@pytest.fixture
def http(store: MemoryStore) -> TestClient:
    """A client of an app over the store, with a 1 KiB body limit."""
    return client(store, max_body=1024)


@pytest.fixture
def case(store: MemoryStore, http: TestClient) -> str:
    """An open case ``c-1`` of the bundled procedure (registered through a default-limit app)."""
    sha = seed(http)
    assert open_case(http, sha, "c-1").status_code == 201
    return "c-1"


# -- tokens -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer not-a-token-anyone-has"},
        {"Authorization": f"Bearer {SECRETARY_TOKEN}x"},
        {"Authorization": f"Bearer {token_hash(SECRETARY_TOKEN)}"},
    ],
)
def test_no_token_or_an_unknown_one_is_401(http: TestClient, headers: dict[str, str]) -> None:
    """Missing, malformed, unknown, or the stored hash itself: 401 with a Bearer challenge."""
    answer = http.get("/procedures", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthenticated"
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_every_endpoint_but_health_and_openapi_needs_a_token(http: TestClient) -> None:
    """Each operation in the OpenAPI document, called without a token, is 401 (or not reached)."""
    document = http.get("/openapi.json").json()
    sha = "0" * 64
    for path, operations in document["paths"].items():
        url = path.replace("{sha256}", sha).replace("{case_id}", "c-1")
        for method in operations:
            answer = http.request(method.upper(), url)
            if path in ("/healthz", "/readyz"):
                assert answer.status_code == 200, path
            else:
                assert answer.status_code == 401, (method, path)


def test_a_token_is_hashed_once_and_found_by_its_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lookup hashes the presented token once, whatever the file holds (here 502 entries),
    and finds the principal by that sha256: no work per entry, and the token itself is
    compared with nothing, so neither its length nor its likeness to a kept one shows."""
    others = [{"actor": f"v{n}", "sha256": token_hash(f"village-{n:04d}-0123456789")}
              for n in range(500)]  # fmt: skip
    table = parse_tokens(
        {
            "tokens": [
                {"actor": "a", "sha256": token_hash("first-token-0123456789")},
                *others,
                {"actor": "b", "token": "second-token-0123456789"},
            ]
        },
        "t.yaml",
    )
    hashed: list[bytes] = []
    original = hashlib.sha256

    def spy(data: bytes = b"", **options: bool) -> Any:
        hashed.append(bytes(data))
        return original(data, **options)

    compared: list[object] = []
    monkeypatch.setattr(auth_module.hashlib, "sha256", spy)
    monkeypatch.setattr(hmac, "compare_digest", lambda *pair: compared.append(pair))
    who = table.lookup("first-token-0123456789")
    assert who is not None and who.actor == "a"
    assert hashed == [b"first-token-0123456789"]
    second = table.lookup("second-token-0123456789")
    assert second is not None and second.actor == "b"
    assert table.lookup("nobody") is None
    assert len(hashed) == 3
    assert compared == []  # one compare_digest per entry was the old, linear lookup


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"tokens": [{"actor": "a", "token": "short"}]}, "at least 16"),
        ({"tokens": [{"actor": "a", "sha256": "xyz"}]}, "64 hexadecimal"),
        ({"tokens": [{"actor": "a"}]}, "exactly one of sha256"),
        ({"tokens": [{"actor": "", "sha256": "a" * 64}]}, "actor must be"),
        ({"tokens": [{"actor": "a", "sha256": "a" * 64, "roles": ["Bad Role"]}]}, "roles"),
        ({"tokens": [{"actor": "a", "sha256": "a" * 64, "role": []}]}, "unknown key"),
        (
            {"tokens": [{"actor": "a", "sha256": "a" * 64}, {"actor": "b", "sha256": "A" * 64}]},
            "listed twice",
        ),
        ({"users": []}, "'tokens' list"),
    ],
)
def test_a_bad_token_file_names_the_entry_and_never_the_token(
    document: dict[str, object], message: str
) -> None:
    """Each mistake is one message naming the entry's position; a plain token never appears."""
    with pytest.raises(TokenFileError) as caught:
        parse_tokens(document, "tokens.yaml")
    assert message in str(caught.value)
    assert "short" not in str(caught.value)


def test_token_files_are_yaml_or_json(tmp_path: Path) -> None:
    """The same entries read from YAML and from JSON; a parse error does not echo the file."""
    entries = {"tokens": [{"actor": "张书记", "roles": ["branch_secretary"], "sha256": "a" * 64}]}
    (tmp_path / "t.json").write_text(json.dumps(entries), encoding="utf-8")
    (tmp_path / "t.yaml").write_text(
        "tokens:\n  - actor: 张书记\n    roles: [branch_secretary]\n    sha256: " + "a" * 64 + "\n",
        encoding="utf-8",
    )
    assert len(load_tokens(tmp_path / "t.json")) == len(load_tokens(tmp_path / "t.yaml")) == 1
    (tmp_path / "bad.yaml").write_text("tokens: [secret-value-123456789\n", encoding="utf-8")
    with pytest.raises(TokenFileError) as caught:
        load_tokens(tmp_path / "bad.yaml")
    assert "secret-value" not in str(caught.value)


# -- the recorded actor -------------------------------------------------------------------------


def test_a_role_the_token_lacks_is_the_engine_not_authorised_refusal(
    http: TestClient, case: str
) -> None:
    """The director may not propose: 422 ``not-authorised``, recorded with the director as actor."""
    answer = fire(http, case, "propose", DIRECTOR_TOKEN, {"present": 4, "yes": 3})
    assert answer.status_code == 422 and answer.json()["code"] == "not-authorised"
    last = http.get(f"/cases/{case}/audit", headers=auth(NOBODY_TOKEN)).text.splitlines()[-1]
    assert '"actor":{"id":"李主任","roles":["village_director"]}' in last


@pytest.mark.parametrize("member", ["actor", "at", "roles"])
def test_an_actor_forged_in_the_body_is_refused_and_never_recorded(
    http: TestClient, case: str, member: str
) -> None:
    """A body with ``actor`` (or ``at``, ``roles``) is 422 invalid-request; nothing is recorded."""
    forged = {"id": "张书记", "roles": ["branch_secretary"]}
    body = {"event": "propose", "payload": {"present": 4, "yes": 3}, member: forged}
    answer = http.post(f"/cases/{case}/events", json=body, headers=auth(NOBODY_TOKEN))
    assert answer.status_code == 422 and answer.json()["code"] == "invalid-request"
    assert answer.json()["violations"][0]["path"] == f"body.{member}"
    audit = http.get(f"/cases/{case}/audit", headers=auth(NOBODY_TOKEN)).text
    assert len(audit.splitlines()) == 1


def test_a_forged_actor_inside_the_payload_is_just_payload(http: TestClient, case: str) -> None:
    """An ``actor`` inside the payload is judged by the event's schema, never taken as who acts."""
    payload = {"present": 4, "yes": 3, "actor": {"id": "李主任", "roles": ["village_director"]}}
    answer = fire(http, case, "propose", SECRETARY_TOKEN, payload)
    assert answer.status_code == 422 and answer.json()["code"] == "invalid-payload"
    last = http.get(f"/cases/{case}/audit", headers=auth(NOBODY_TOKEN)).text.splitlines()[-1]
    assert json.loads(last[last.index("{") :])["actor"] == {
        "id": "张书记", "roles": ["branch_secretary"]
    }  # fmt: skip


def test_opening_records_the_token_actor_not_one_in_the_body(http: TestClient, case: str) -> None:
    """``POST /cases`` with an ``actor`` member is refused (422 on ``body.actor``)."""
    body = {"id": "c-2", "procedure": "0" * 64, "data": {}, "actor": {"id": "x"}}
    answer = http.post("/cases", json=body, headers=auth(NOBODY_TOKEN))
    assert answer.status_code == 422 and answer.json()["violations"][0]["path"] == "body.actor"


# -- limits -------------------------------------------------------------------------------------


def test_an_oversized_body_is_413_before_it_is_read(http: TestClient, case: str) -> None:
    """A body over the limit (declared or chunked) is 413 ``body-too-large``; nothing recorded."""
    big = {"event": "propose", "payload": {"minutes": "议" * 2000, "present": 4, "yes": 3}}
    declared = http.post(f"/cases/{case}/events", json=big, headers=auth(SECRETARY_TOKEN))
    assert declared.status_code == 413 and declared.json()["code"] == "body-too-large"

    def chunks() -> object:
        yield b'{"event": "propose", "payload": {"minutes": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}}'

    chunked = http.post(
        f"/cases/{case}/events",
        content=chunks(),  # type: ignore[arg-type]
        headers={**auth(SECRETARY_TOKEN), "Content-Type": "application/json"},
    )
    assert chunked.status_code == 413
    assert http.get(f"/cases/{case}", headers=auth(NOBODY_TOKEN)).json()["seq"] == 1


def test_an_oversized_procedure_is_413(http: TestClient) -> None:
    """A procedure text over the body limit is 413 whatever its content."""
    answer = http.post(
        "/procedures",
        content=b"# " + b"x" * 2048,
        headers={**auth(ADMIN_TOKEN), "Content-Type": "application/yaml"},
    )
    assert answer.status_code == 413


@pytest.mark.parametrize(
    "raw", [b"{", b'{"event": "propose",}', b"\xff\xfe", b"[1, 2]", b"null", b'"propose"']
)
def test_malformed_json_is_400_or_422_and_records_nothing(
    http: TestClient, case: str, raw: bytes
) -> None:
    """Unparseable JSON is 400 ``malformed-body``; JSON of the wrong shape is 422."""
    answer = http.post(
        f"/cases/{case}/events",
        content=raw,
        headers={**auth(SECRETARY_TOKEN), "Content-Type": "application/json"},
    )
    assert answer.status_code in (400, 422)
    assert answer.json()["code"] in ("malformed-body", "invalid-request")
    assert http.get(f"/cases/{case}", headers=auth(NOBODY_TOKEN)).json()["seq"] == 1


def test_yaml_bombs_are_refused_as_located_problems() -> None:
    """A billion-laughs alias bomb and deep nesting are refused by the strict loader (422)."""
    http = client()
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    deep = "a: " + "[" * 200 + "]" * 200 + "\n"
    headers = {**auth(ADMIN_TOKEN), "Content-Type": "application/yaml"}
    for text in (bomb, deep):
        answer = http.post("/procedures", content=text.encode(), headers=headers)
        assert answer.status_code == 422 and answer.json()["code"] == "procedure-invalid"
        assert answer.json()["violations"][0]["line"] >= 1


@pytest.mark.parametrize(
    "path",
    [
        "/cases/..",
        "/cases/%2e%2e",
        "/cases/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/cases/..%2f..%2fetc%2fpasswd",
        "/cases/c-1%00",
        "/cases/%00",
        "/cases/.hidden",
        "/cases/a%20b",
        "/cases/" + "a" * 129,
        "/cases/%E6%A1%88-1",
        "/procedures/..%2f..%2fetc%2fpasswd",
        "/procedures/" + "A" * 64,
        "/procedures/" + "0" * 63,
    ],
)
def test_ids_outside_the_strict_patterns_never_reach_the_engine(
    http: TestClient, case: str, path: str
) -> None:
    """Traversal, NUL, dots, spaces, non-ASCII, over-long: 404 or 422 problems, never 200 or 5xx."""
    answer = http.get(path, headers=auth(NOBODY_TOKEN))
    assert answer.status_code in (404, 422), path
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_traversal_in_the_event_and_key_is_refused(http: TestClient, case: str) -> None:
    """An event id or idempotency key with ``/``, ``..`` or NUL is 422 before the engine sees it."""
    for event in ("../propose", "propose\x00", "a/b"):
        answer = http.post(
            f"/cases/{case}/events", json={"event": event}, headers=auth(SECRETARY_TOKEN)
        )
        assert answer.status_code == 422
    keyed = fire(http, case, "propose", SECRETARY_TOKEN, {}, **{"Idempotency-Key": "../k"})
    assert keyed.status_code == 422
    assert http.get(f"/cases/{case}", headers=auth(NOBODY_TOKEN)).json()["seq"] == 1


def test_page_sizes_are_capped(http: TestClient) -> None:
    """``limit`` above 200 or below 1 is 422; a long cursor is 422."""
    headers = auth(NOBODY_TOKEN)
    for query in ("limit=0", "limit=201", "limit=-1", "after=" + "x" * 301):
        assert http.get(f"/cases?{query}", headers=headers).status_code == 422, query


def test_case_exists_id_typed_by_secretary_is_fine(http: TestClient, case: str) -> None:
    """A well-formed id in the pattern (letters, digits, dot, dash, underscore) is accepted."""
    assert http.get(f"/cases/{case}", headers=auth(NOBODY_TOKEN)).status_code == 200
