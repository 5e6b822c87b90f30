"""Specification: scoped authorisation over HTTP — tokens with units, auditors, the door.

A token names an actor, roles, optionally units (a unit covers those under it)
and admin/auditor flags. Over HTTP: opening needs an opening role and a covered
unit; reads and writes of a case, listings, and its audit stay within the
token's units; an auditor reads and never writes; an attempt by a token with no
role in the procedure is 403, logged in one bounded line, and written to no
chain; idempotency keys are each actor's own; a dry run needs admin.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_support import (
    ADMIN_TOKEN,
    COMMITTEE_TOKEN,
    DATA,
    DIRECTOR_TOKEN,
    NOBODY_TOKEN,
    PRINCIPALS,
    SECRETARY_TOKEN,
    auth,
    client,
    compiled,
    procedure_text,
)

from engine.runtime.engine import Engine
from engine.server import Principal, TokenFileError, TokenTable, create_app, load_tokens, token_hash
from engine.server.auth import parse_tokens
from engine.storage import Store, open_store
from engine.storage.base import CaseFilter

COUNTY = "柳河县"
TOWN = "柳河县/城关镇"
VILLAGE = "柳河县/城关镇/柳树村"
NEIGHBOUR = "柳河县/城关镇/王庄村"
OTHER_TOWN = "柳河县/城关乡/李庄村"

VILLAGE_TOKEN = "village-secretary-token-1a2b3c"
NEIGHBOUR_TOKEN = "neighbour-secretary-token-4d5e6f"
TOWN_DIRECTOR_TOKEN = "town-director-token-7a8b9c0d"
AUDITOR_TOKEN = "town-auditor-token-0e1f2a3b"
ROLE_AUDITOR_TOKEN = "auditor-with-roles-token-9c8b7a"

SCOPED = {
    VILLAGE_TOKEN: Principal(actor="柳树村书记", roles=("branch_secretary",), units=(VILLAGE,)),
    NEIGHBOUR_TOKEN: Principal(actor="王庄村书记", roles=("branch_secretary",), units=(NEIGHBOUR,)),
    TOWN_DIRECTOR_TOKEN: Principal(actor="镇主任", roles=("village_director",), units=(TOWN,)),
    AUDITOR_TOKEN: Principal(actor="镇审计", auditor=True, units=(TOWN,)),
    ROLE_AUDITOR_TOKEN: Principal(actor="有角色的审计", roles=("branch_secretary",), auditor=True),
}

PROPOSE = {"present": 4, "yes": 3}


def _client(store: Store | None = None) -> TestClient:
    table = TokenTable([(token_hash(t), who) for t, who in {**PRINCIPALS, **SCOPED}.items()])
    http = client(store, tokens=table)
    http.app.state.services.engine.register(compiled())  # type: ignore[attr-defined]
    return http


@pytest.fixture
def http() -> TestClient:
    """A client over an in-memory store holding the bundled procedure, with scoped tokens."""
    return _client()


def _sha() -> str:
    return compiled().procedure.sha256


def _open(http: TestClient, token: str, case_id: str, unit: str | None = None, **more: Any) -> Any:
    body: dict[str, Any] = {"id": case_id, "procedure": _sha(), "data": DATA, **more}
    if unit is not None:
        body["unit"] = unit
    return http.post("/cases", json=body, headers=auth(token))


def _fire(http: TestClient, token: str, case_id: str, event: str = "propose", **kw: Any) -> Any:
    headers = {**auth(token), **kw.pop("headers", {})}
    payload = kw.pop("payload", PROPOSE)
    return http.post(
        f"/cases/{case_id}/events", json={"event": event, "payload": payload}, headers=headers
    )


def _store(http: TestClient) -> Store:
    store: Store = http.app.state.services.engine.store  # type: ignore[attr-defined]
    return store


def _chains(http: TestClient) -> dict[str, list[bytes]]:
    store = _store(http)
    return {case: store.export_lines(case) for case in store.case_ids()}


def _forbidden(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 403, answer.text
    body: dict[str, Any] = answer.json()
    assert body["code"] == "forbidden" and body["detail"]
    return body


def _town(http: TestClient) -> None:
    """Cases in the village, its neighbour, another town, and one with no unit."""
    assert _open(http, SECRETARY_TOKEN, "v-1", VILLAGE).status_code == 201
    assert _open(http, SECRETARY_TOKEN, "n-1", NEIGHBOUR).status_code == 201
    assert _open(http, SECRETARY_TOKEN, "o-1", OTHER_TOWN).status_code == 201
    assert _open(http, SECRETARY_TOKEN, "x-1").status_code == 201


# -- the token file ---------------------------------------------------------------------------


def test_a_token_file_gives_units_and_auditor(tmp_path: Path) -> None:
    """Token file: units and auditor are read; an entry without units is not limited."""
    path = tmp_path / "tokens.yaml"
    path.write_text(
        "tokens:\n"
        f"  - actor: 柳树村书记\n    roles: [branch_secretary]\n    units: [{VILLAGE}]\n"
        f"    sha256: {token_hash(VILLAGE_TOKEN)}\n"
        f"  - actor: 镇审计\n    auditor: true\n    units: [{TOWN}, {OTHER_TOWN}]\n"
        f"    sha256: {token_hash(AUDITOR_TOKEN)}\n"
        f"  - actor: 张书记\n    roles: [branch_secretary]\n"
        f"    sha256: {token_hash(SECRETARY_TOKEN)}\n",
        encoding="utf-8",
    )

    table = load_tokens(path)

    assert table.lookup(VILLAGE_TOKEN) == Principal(
        actor="柳树村书记", roles=("branch_secretary",), units=(VILLAGE,)
    )
    assert table.lookup(AUDITOR_TOKEN) == Principal(
        actor="镇审计", auditor=True, units=(TOWN, OTHER_TOWN)
    )
    assert table.lookup(SECRETARY_TOKEN) == Principal(actor="张书记", roles=("branch_secretary",))


def test_a_long_token_file_is_looked_up_by_the_presented_tokens_hash() -> None:
    """docs/embedding.md: one hash and one lookup per request however long the token file
    is. Ten thousand entries: the first and the last are found, a token differing from a
    kept one in its last character is not, nor one with a lone surrogate, and the hash
    itself (a kept entry's sha256, presented as a token) opens nothing."""
    tokens = [f"village-token-{n:05d}-0123456789" for n in range(10_000)]
    table = TokenTable([(token_hash(t), Principal(actor=f"村{n}")) for n, t in enumerate(tokens)])

    assert len(table) == 10_000
    assert table.lookup(tokens[0]) == Principal(actor="村0")
    assert table.lookup(tokens[-1]) == Principal(actor="村9999")
    assert table.lookup(tokens[-1][:-1] + "X") is None
    assert table.lookup("village-token-\udcff") is None
    assert table.lookup(token_hash(tokens[0])) is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"units": []}, "units must be a non-empty list"),
        ({"units": VILLAGE}, "units must be a non-empty list"),
        ({"units": [""]}, "cannot be empty"),
        ({"units": ["县//村"]}, "every part between '/'"),
        ({"units": [3]}, "units must be a non-empty list"),
        ({"auditor": "yes"}, "auditor must be true or false"),
        ({"unit": [VILLAGE]}, "unknown key(s) unit; expected: actor, roles, units, admin, auditor"),
    ],
)
def test_a_token_entry_with_bad_units_or_auditor_is_refused(
    entry: dict[str, Any], message: str
) -> None:
    """Token file: each mistake names the entry by position and never the token."""
    document = {"tokens": [{"actor": "甲", "token": "a-long-enough-token-000", **entry}]}

    with pytest.raises(TokenFileError) as caught:
        parse_tokens(document, "tokens.yaml")

    assert str(caught.value).startswith("tokens.yaml: tokens[1]: ")
    assert message in str(caught.value)
    assert "a-long-enough-token-000" not in str(caught.value)


def test_principal_helpers_answer_read_write_and_open() -> None:
    """Principal: may_read by units; may_write needs a role of the procedure and no auditor
    flag; may_open needs an opening role; an unlimited principal covers the case with no unit."""
    procedure = compiled().procedure
    village = SCOPED[VILLAGE_TOKEN]
    auditor = SCOPED[AUDITOR_TOKEN]
    nobody = PRINCIPALS[NOBODY_TOKEN]

    assert village.may_read(VILLAGE) and not village.may_read(NEIGHBOUR)
    assert not village.may_read("")
    assert village.may_write(procedure, VILLAGE) and not village.may_write(procedure, TOWN)
    assert village.may_open(procedure, VILLAGE) and not village.may_open(procedure, NEIGHBOUR)
    assert auditor.may_read(VILLAGE) and auditor.may_read(TOWN) and not auditor.may_read(COUNTY)
    assert not auditor.may_write(procedure, VILLAGE) and not auditor.may_open(procedure, VILLAGE)
    assert not SCOPED[ROLE_AUDITOR_TOKEN].may_write(procedure, "")
    assert nobody.may_read("") and nobody.may_read(VILLAGE)
    assert not nobody.may_write(procedure, VILLAGE) and not nobody.may_open(procedure, "")


# -- opening ------------------------------------------------------------------------------------


def test_opening_needs_an_opening_role_and_is_logged_when_refused(
    http: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Open: a token with no opening role is 403, logged without its token; no case exists."""
    with caplog.at_level(logging.WARNING, logger="yishi.server"):
        answer = _open(http, NOBODY_TOKEN, "2024-001", VILLAGE)

    body = _forbidden(answer)
    assert "needs one of the roles" in body["detail"]
    assert _store(http).get_case("2024-001") is None
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("forbidden:")]
    assert len(lines) == 1 and "POST /cases actor=路人" in lines[0]
    assert NOBODY_TOKEN not in caplog.text


def test_opening_stays_within_the_tokens_units(http: TestClient) -> None:
    """Open: inside the token's units is 201; outside, or with no unit, is 403."""
    inside = _open(http, VILLAGE_TOKEN, "v-1", VILLAGE)
    outside = _open(http, VILLAGE_TOKEN, "n-1", NEIGHBOUR)
    above = _open(http, VILLAGE_TOKEN, "t-1", TOWN)
    below = _open(http, TOWN_DIRECTOR_TOKEN, "v-2", VILLAGE)

    assert inside.status_code == 201
    assert "outside their units" in _forbidden(outside)["detail"]
    _forbidden(above)
    assert below.status_code == 201
    assert sorted(_store(http).case_ids()) == ["v-1", "v-2"]


def test_a_single_unit_token_opens_in_its_unit_by_default(http: TestClient) -> None:
    """Open: without a unit, a token for exactly one unit opens there; an unlimited one, in none."""
    assert _open(http, VILLAGE_TOKEN, "v-1").status_code == 201
    assert _open(http, SECRETARY_TOKEN, "x-1").status_code == 201

    shown = http.get("/cases/v-1", headers=auth(VILLAGE_TOKEN)).json()
    assert shown["unit"] == VILLAGE
    assert http.get("/cases/x-1", headers=auth(SECRETARY_TOKEN)).json()["unit"] == ""


def test_opening_with_a_malformed_unit_is_422(http: TestClient) -> None:
    """Open: a unit with an empty part is 422 invalid-unit; nothing is stored."""
    answer = _open(http, SECRETARY_TOKEN, "c-1", "柳河县//柳树村")

    assert answer.status_code == 422 and answer.json()["code"] == "invalid-unit"
    assert _store(http).case_ids() == []


def test_opening_with_undeclared_data_is_422(http: TestClient) -> None:
    """Open: data the procedure's data schema does not declare is 422 invalid-data, not stored."""
    data = {**DATA, "padding": "字" * 100_000}
    answer = http.post(
        "/cases",
        json={"id": "c-1", "procedure": _sha(), "data": data},
        headers=auth(SECRETARY_TOKEN),
    )

    assert answer.status_code == 422 and answer.json()["code"] == "invalid-data"
    assert answer.json()["violations"][0]["path"] == "padding"
    assert _store(http).case_ids() == []


# -- reading within units -----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/audit", "/verify", "/replay"])
def test_reading_a_case_stays_within_the_tokens_units(http: TestClient, suffix: str) -> None:
    """Reads: a case, its audit, verify and replay are 200 within the units, 403 outside."""
    _town(http)

    mine = http.get(f"/cases/v-1{suffix}", headers=auth(VILLAGE_TOKEN))
    theirs = http.get(f"/cases/n-1{suffix}", headers=auth(VILLAGE_TOKEN))
    no_unit = http.get(f"/cases/x-1{suffix}", headers=auth(VILLAGE_TOKEN))
    town = http.get(f"/cases/n-1{suffix}", headers=auth(AUDITOR_TOKEN))
    unlimited = http.get(f"/cases/o-1{suffix}", headers=auth(NOBODY_TOKEN))

    assert mine.status_code == 200 and town.status_code == 200 and unlimited.status_code == 200
    _forbidden(theirs)
    _forbidden(no_unit)


def test_a_cases_documents_stay_within_the_tokens_units(http: TestClient) -> None:
    """Reads: a case's documents are refused 403 outside the token's units, before anything is
    rendered; inside them the request reaches the document library (this test's procedure has
    no document files beside it, which the library answers 422)."""
    _town(http)

    theirs = http.get("/cases/n-1/documents/minutes", headers=auth(VILLAGE_TOKEN))
    mine = http.get("/cases/v-1/documents/minutes", headers=auth(VILLAGE_TOKEN))

    _forbidden(theirs)
    assert mine.status_code == 422 and mine.json()["code"] == "procedure-invalid"


def test_listing_shows_only_cases_within_the_tokens_units(http: TestClient) -> None:
    """List: each token sees the cases of its units (and below); an unlimited token sees all."""
    _town(http)

    def ids(token: str) -> list[str]:
        answer = http.get("/cases", headers=auth(token))
        assert answer.status_code == 200
        return sorted(c["id"] for c in answer.json()["cases"])

    assert ids(VILLAGE_TOKEN) == ["v-1"]
    assert ids(NEIGHBOUR_TOKEN) == ["n-1"]
    assert ids(AUDITOR_TOKEN) == ["n-1", "v-1"]
    assert ids(SECRETARY_TOKEN) == ["n-1", "o-1", "v-1", "x-1"]
    listed = http.get("/cases", headers=auth(AUDITOR_TOKEN)).json()["cases"]
    assert {c["id"]: c["unit"] for c in listed} == {"n-1": NEIGHBOUR, "v-1": VILLAGE}


def test_an_unknown_case_is_404_whatever_the_scope(http: TestClient) -> None:
    """Reads: a missing case is 404 for a limited token too (nothing to hide or show)."""
    answer = http.get("/cases/nope", headers=auth(VILLAGE_TOKEN))
    assert answer.status_code == 404


# -- writing within units ------------------------------------------------------------------------


def test_firing_outside_the_tokens_units_is_403_and_unrecorded(http: TestClient) -> None:
    """Fire: a token for the neighbouring village is 403 on this village's case; chain unchanged."""
    _town(http)
    before = _chains(http)

    refused = _fire(http, NEIGHBOUR_TOKEN, "v-1")
    applied = _fire(http, VILLAGE_TOKEN, "v-1")

    _forbidden(refused)
    assert applied.status_code == 200
    after = _chains(http)
    assert after["v-1"][:1] == before["v-1"] and len(after["v-1"]) == 2
    assert {k: v for k, v in after.items() if k != "v-1"} == {
        k: v for k, v in before.items() if k != "v-1"
    }


def test_a_town_token_acts_on_its_villages_cases(http: TestClient) -> None:
    """Nesting: a token for the town may act on a village's case of that town."""
    _town(http)
    assert _fire(http, VILLAGE_TOKEN, "v-1").status_code == 200
    _fire(http, VILLAGE_TOKEN, "v-1", "deliberate", payload={"present": 9, "yes": 8})
    _fire(http, VILLAGE_TOKEN, "v-1", "review", payload={"present": 30, "yes": 21})

    resolved = _fire(
        http, TOWN_DIRECTOR_TOKEN, "v-1", "resolve", payload={"present": 38, "yes": 20}
    )
    elsewhere = _fire(http, TOWN_DIRECTOR_TOKEN, "o-1", "resolve", payload={"present": 38})

    assert resolved.status_code == 200 and resolved.json()["to"] == "resolved"
    _forbidden(elsewhere)


# -- the auditor --------------------------------------------------------------------------------


def test_an_auditor_reads_everything_in_scope_and_writes_nothing(http: TestClient) -> None:
    """Auditor: reads cases and audits of its units, explains; fire and open are 403."""
    _town(http)
    before = _chains(http)

    read = http.get("/cases/v-1/audit", headers=auth(AUDITOR_TOKEN))
    explained = http.post(
        "/cases/v-1/explain", json={"event": "propose", "payload": PROPOSE},
        headers=auth(AUDITOR_TOKEN),
    )  # fmt: skip
    fired = _fire(http, AUDITOR_TOKEN, "v-1")
    fired_with_roles = _fire(http, ROLE_AUDITOR_TOKEN, "v-1")
    opened = _open(http, AUDITOR_TOKEN, "a-1", VILLAGE)
    opened_with_roles = _open(http, ROLE_AUDITOR_TOKEN, "a-2", VILLAGE)

    assert read.status_code == 200 and read.content == b"".join(before["v-1"])
    assert explained.status_code == 200 and explained.json()["allowed"] is True
    assert "auditors read" in _forbidden(fired)["detail"]
    _forbidden(fired_with_roles)
    _forbidden(opened)
    _forbidden(opened_with_roles)
    assert _chains(http) == before


# -- a no-role token writes nothing anywhere ----------------------------------------------------


def _every_write(http: TestClient, token: str, case_id: str) -> list[Any]:
    """Every endpoint that writes (or would evaluate guards), tried with ``token``."""
    yaml_headers = {**auth(token), "Content-Type": "application/yaml"}
    big = {"minutes": "字" * 200_000}
    answers = [
        http.post("/procedures", content=procedure_text().encode(), headers=yaml_headers),
        http.post(
            "/procedures?dry_run=true", content=procedure_text().encode(), headers=yaml_headers
        ),
        _open(http, token, "squat", ""),
        _open(http, token, case_id, ""),
        http.post(
            f"/cases/{case_id}/explain",
            json={"event": "propose", "payload": PROPOSE},
            headers=auth(token),
        ),
    ]
    events = ["propose", "resolve", "no_such_event", "resolution_period_ended", "deliberate"]
    for event in events:
        answers.append(_fire(http, token, case_id, event, payload=big))
        answers.append(_fire(http, token, case_id, event, headers={"Idempotency-Key": "k-1"}))
        answers.append(_fire(http, token, case_id, event, headers={"If-Match": '"1"'}))
    return answers


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgresql"])
def test_a_no_role_token_can_write_nothing_anywhere(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The rule: every write endpoint answers a no-role token 403; every chain, every
    procedure and every key stays as it was, in every backend; each refusal is logged once."""
    from store_support import pg_schema_url

    urls = {"memory": iter(["memory://"]), "sqlite": iter([f"sqlite:///{tmp_path / 'c.db'}"])}
    found = urls.get(backend) or pg_schema_url()
    store = open_store(next(found))
    try:
        http = _client(store)
        _town(http)
        _fire(http, VILLAGE_TOKEN, "v-1", headers={"Idempotency-Key": "k-1"})
        chains = _chains(http)
        procedures = store.procedures()
        before = store.list_cases(CaseFilter(), limit=50)

        with caplog.at_level(logging.WARNING, logger="yishi.server"):
            answers = _every_write(http, NOBODY_TOKEN, "v-1")

        assert [a.status_code for a in answers] == [403] * len(answers)
        assert _chains(http) == chains
        assert store.procedures() == procedures
        assert store.list_cases(CaseFilter(), limit=50) == before
        logged = [r for r in caplog.records if r.getMessage().startswith("forbidden:")]
        assert len(logged) == len(answers)
        assert all(len(r.getMessage()) < 600 for r in logged)
        assert NOBODY_TOKEN not in caplog.text
    finally:
        store.close()
        for _ in found:
            pass


def test_a_long_actor_id_is_logged_bounded(caplog: pytest.LogCaptureFixture) -> None:
    """The log: one line per refusal, at most 64 characters of the actor and 120 of the path;
    a line break in an actor id is escaped, so it cannot forge a second log line."""
    token = "a-token-with-a-long-actor-00"
    who = Principal(actor="伪造\nforbidden: GET / actor=ops" + "长" * 100, roles=())
    app = create_app(Engine(), TokenTable([(token_hash(token), who)]))
    app.state.services.engine.register(compiled())
    app.state.services.engine.preload(compiled())
    http = TestClient(app, raise_server_exceptions=False)
    _open(http, SECRETARY_TOKEN, "c-1")  # not in this table: 401, nothing opened

    with caplog.at_level(logging.WARNING, logger="yishi.server"):
        answer = _open(http, token, "c-" + "1" * 100)

    _forbidden(answer)
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("forbidden:")]
    assert len(line) < 600 and "\n" not in line
    assert "actor=伪造\\nforbidden" in line


# -- idempotency keys ---------------------------------------------------------------------------


def test_another_actors_idempotency_key_cannot_be_squatted(http: TestClient) -> None:
    """Keys: the director sending the secretary's key first does not take it from them."""
    _town(http)
    key = {"Idempotency-Key": "2024-03-04-propose"}

    squat = _fire(http, DIRECTOR_TOKEN, "v-1", headers=key)
    mine = _fire(http, SECRETARY_TOKEN, "v-1", headers=key)
    again = _fire(http, SECRETARY_TOKEN, "v-1", headers=key)

    assert squat.status_code == 422 and squat.json()["code"] == "not-authorised"
    assert mine.status_code == 200 and mine.json()["replayed"] is False
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["seq"] == mine.json()["seq"] == 3


def test_a_committee_member_may_still_be_refused_and_recorded(http: TestClient) -> None:
    """Past the door: a role of the procedure but not the event's is a recorded 422."""
    _town(http)

    answer = _fire(http, COMMITTEE_TOKEN, "v-1")

    assert answer.status_code == 422 and answer.json()["recorded"] is True
    assert len(_chains(http)["v-1"]) == 2


def test_dry_run_needs_admin(http: TestClient) -> None:
    """Dry run: any non-admin token is 403 (validation costs CPU); admin gets 200."""
    headers = {"Content-Type": "application/yaml"}
    text = procedure_text().encode()
    refused = http.post(
        "/procedures?dry_run=true", content=text, headers={**headers, **auth(VILLAGE_TOKEN)}
    )
    checked = http.post(
        "/procedures?dry_run=true", content=text, headers={**headers, **auth(ADMIN_TOKEN)}
    )

    assert "dry run" in _forbidden(refused)["detail"]
    assert checked.status_code == 200
