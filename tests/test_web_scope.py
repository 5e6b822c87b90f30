"""The workbench keeps the API's door: units, auditors, ``opened_by`` and roles in the procedure.

Each page that reads a case is limited to the principal's units; forms to act or
to open a case are offered only where the API would accept the same token's
request, and a forged post where it would not is a logged 403 page that leaves
every chain exactly as it was (in process; no browser).
"""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient
from server_support import DATA, client, compiled, procedure_text

from engine.definition.compile import CompiledProcedure
from engine.definition.loader import load_source
from engine.runtime.engine import Engine
from engine.server import Principal, TokenTable, token_hash
from engine.storage.base import CaseFilter
from engine.storage.memory import MemoryStore

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
VILLAGE = "柳河县/城关镇/柳树村"
NEIGHBOUR = "柳河县/城关镇/杨村"
ALL_ROLES = ("branch_secretary", "village_director", "village_committee", "supervision_committee")

SECRETARY = "secretary-token-a1b2c3d4e5"
NEIGHBOUR_SECRETARY = "neighbour-token-f6a7b8c9d0"
TWO_VILLAGES = "two-villages-token-1e2f3a4b5c"
AUDITOR = "auditor-token-6d7e8f9a0b"
NO_ROLE = "no-role-token-c1d2e3f4a5"
DIRECTOR = "director-token-b6c7d8e9f0"
ADMIN = "local-admin-token-0a9b8c7d6e"
PRINCIPALS = {
    SECRETARY: Principal(actor="张书记", roles=ALL_ROLES, units=(VILLAGE,)),
    NEIGHBOUR_SECRETARY: Principal(actor="赵书记", roles=ALL_ROLES, units=(NEIGHBOUR,)),
    TWO_VILLAGES: Principal(actor="王书记", roles=ALL_ROLES, units=(VILLAGE, NEIGHBOUR)),
    AUDITOR: Principal(actor="县民政局", auditor=True, units=("柳河县",)),
    NO_ROLE: Principal(actor="网格员", roles=("grid_volunteer",), units=("柳河县",)),
    DIRECTOR: Principal(actor="李主任", roles=("village_director",), units=(VILLAGE,)),
    # What ``yishi serve`` without --tokens signs in: every role, admin, no unit limit.
    ADMIN: Principal(actor="本机管理员", roles=ALL_ROLES, admin=True),
}


def _secretary_opens() -> CompiledProcedure:
    """四议两公开 as a version only the branch secretary may open (``opened_by``)."""
    text, changed = re.subn(
        r"^version: .*$", 'version: "9.0.0"\nopened_by: [branch_secretary]',
        procedure_text(), count=1, flags=re.MULTILINE,
    )  # fmt: skip
    assert changed == 1
    return load_source(text, "secretary-opens.yaml")


def _app() -> tuple[TestClient, Engine]:
    """An app over a fresh store holding c-a (柳树村) and c-b (杨村), both at seq 1."""
    table = TokenTable([(token_hash(t), who) for t, who in PRINCIPALS.items()])
    http = client(MemoryStore(), tokens=table)  # an app an earlier test is done with, if any
    engine: Engine = http.app.state.services.engine  # type: ignore[attr-defined]
    engine.register(compiled())
    engine.register(_secretary_opens())
    opener = {"id": "张书记", "roles": ["branch_secretary"]}
    engine.open_case(compiled(), "c-a", DATA, actor=opener, unit=VILLAGE)
    engine.open_case(compiled(), "c-b", DATA, actor=opener, unit=NEIGHBOUR)
    return http, engine


def _sign_in(http: TestClient, token: str) -> str:
    """Sign in through the form; return the session's CSRF secret."""
    pre = CSRF.search(http.get("/ui/signin").text)
    assert pre is not None
    answer = http.post(
        "/ui/signin", data={"csrf": pre.group(1), "token": token}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    found = CSRF.search(http.get("/ui/cases").text)
    assert found is not None
    return found.group(1)


def _chains(engine: Engine) -> dict[str, list[bytes]]:
    """Every case's log, byte for byte."""
    listed = engine.store.list_cases(CaseFilter(), after=None, limit=100).cases
    return {c.id: engine.store.export_lines(c.id) for c in listed}


def _propose(csrf: str, action: str) -> dict[str, str]:
    return {
        "csrf": csrf, "event": "propose", "seq": "1", "f.present": "4", "f.yes": "3",
        "action": action,
    }  # fmt: skip


def _open_form(csrf: str, case_id: str, unit: str | None = None) -> dict[str, str]:
    form = {"csrf": csrf, "case_id": case_id, **{f"f.{k}": str(v) for k, v in DATA.items()}}
    if unit is not None:
        form["unit"] = unit
    return form


def _listed(text: str) -> set[str]:
    return set(re.findall(r'href="/ui/cases/(c-[a-z0-9-]+)"', text))


def test_the_cases_list_shows_only_the_cases_of_the_principals_units() -> None:
    """Each village's secretary lists their own village's case; a county auditor lists both."""
    expected = {SECRETARY: {"c-a"}, NEIGHBOUR_SECRETARY: {"c-b"}, AUDITOR: {"c-a", "c-b"},
                ADMIN: {"c-a", "c-b"}}  # fmt: skip
    for token, cases in expected.items():
        http, _ = _app()
        _sign_in(http, token)
        assert _listed(http.get("/ui/cases").text) == cases, PRINCIPALS[token].actor
        assert _listed(http.get("/ui/cases?q=c-").text) == cases, "the text search too"


@pytest.mark.parametrize(
    "path", ["/ui/cases/c-a", "/ui/cases/c-a/audit.jsonl", "/ui/cases/c-a/diagram.svg"]
)
def test_reading_a_case_outside_the_principals_units_is_a_logged_403(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The case page, its audit download and its diagram: 403 for another village's secretary."""
    http, _ = _app()
    _sign_in(http, NEIGHBOUR_SECRETARY)
    with caplog.at_level(logging.WARNING, logger="yishi.server"):
        answer = http.get(path)
    assert answer.status_code == 403 and "outside their units" in answer.text
    assert any(
        "forbidden:" in r.getMessage() and "赵书记" in r.getMessage() for r in caplog.records
    )
    assert http.get(path.replace("c-a", "c-b")).status_code in (200, 503)


@pytest.mark.parametrize("action", ["check", "fire"])
def test_a_forged_post_from_another_unit_is_refused_and_the_chain_unchanged(action: str) -> None:
    """Check first and fire on a case outside the principal's units: 403, every chain as before."""
    http, engine = _app()
    csrf = _sign_in(http, NEIGHBOUR_SECRETARY)
    before = _chains(engine)
    answer = http.post("/ui/cases/c-a/act", data=_propose(csrf, action))
    assert answer.status_code == 403 and "outside their units" in answer.text
    assert _chains(engine) == before


def test_an_auditor_sees_the_case_and_its_timeline_but_no_event_or_open_forms() -> None:
    """An auditor reads the case page (timeline, audit download) and is offered nothing to do."""
    http, engine = _app()
    _sign_in(http, AUDITOR)
    page = http.get("/ui/cases/c-a")
    assert page.status_code == 200 and 'id="no-events"' in page.text
    assert 'class="event-form"' not in page.text and 'id="timeline"' in page.text
    assert "立案 opened" in page.text
    assert http.get("/ui/cases/c-a/audit.jsonl").content == b"".join(
        engine.store.export_lines("c-a")
    )
    procedure = http.get(f"/ui/procedures/{compiled().procedure.sha256}").text
    assert 'id="open-form"' not in procedure and 'id="no-open"' in procedure


def test_a_forged_fire_and_open_from_an_auditor_are_refused_and_nothing_is_written() -> None:
    """An auditor's fire and open: 403 pages; the chains and the case list are unchanged."""
    http, engine = _app()
    csrf = _sign_in(http, AUDITOR)
    before = _chains(engine)
    fired = http.post("/ui/cases/c-a/act", data=_propose(csrf, "fire"))
    assert fired.status_code == 403 and "auditors read" in fired.text
    opened = http.post(
        f"/ui/procedures/{compiled().procedure.sha256}/open", data=_open_form(csrf, "c-x", VILLAGE)
    )
    assert opened.status_code == 403 and "auditors read" in opened.text
    assert _chains(engine) == before


def test_an_auditors_check_first_is_for_no_actor_and_records_nothing() -> None:
    """As the API's explain: an auditor may check an event, for no particular actor; seq stays."""
    http, engine = _app()
    csrf = _sign_in(http, AUDITOR)
    before = _chains(engine)
    answer = http.post("/ui/cases/c-a/act", data=_propose(csrf, "check"))
    assert answer.status_code == 200 and 'id="check-verdict"' in answer.text
    assert _chains(engine) == before


def test_a_principal_with_no_role_in_the_procedure_sees_no_forms_and_is_refused() -> None:
    """No role of 四议两公开: no event forms, no open form; forged posts 403, nothing recorded."""
    http, engine = _app()
    csrf = _sign_in(http, NO_ROLE)
    page = http.get("/ui/cases/c-a")
    assert page.status_code == 200 and 'class="event-form"' not in page.text
    procedure = http.get(f"/ui/procedures/{compiled().procedure.sha256}").text
    assert 'id="open-form"' not in procedure and 'id="no-open"' in procedure
    before = _chains(engine)
    for action in ("check", "fire"):
        answer = http.post("/ui/cases/c-a/act", data=_propose(csrf, action))
        assert answer.status_code == 403 and "holds no role" in answer.text
    opened = http.post(
        f"/ui/procedures/{compiled().procedure.sha256}/open", data=_open_form(csrf, "c-x", VILLAGE)
    )
    assert opened.status_code == 403 and "needs one of the roles" in opened.text
    assert _chains(engine) == before


def test_a_principal_of_the_unit_with_a_role_still_gets_their_forms() -> None:
    """The village's secretary, in their unit, is offered propose and can fire it (seq 1 → 2)."""
    http, engine = _app()
    csrf = _sign_in(http, SECRETARY)
    assert 'id="form-propose"' in http.get("/ui/cases/c-a").text
    answer = http.post("/ui/cases/c-a/act", data=_propose(csrf, "fire"))
    assert answer.status_code == 200
    assert engine.case("c-a", history=False).seq == 2


def test_opening_honours_opened_by() -> None:
    """Where only branch_secretary opens: the director gets no form and a forged open is 403."""
    http, engine = _app()
    sha = _secretary_opens().procedure.sha256
    csrf = _sign_in(http, DIRECTOR)
    assert 'id="open-form"' not in http.get(f"/ui/procedures/{sha}").text
    before = _chains(engine)
    answer = http.post(f"/ui/procedures/{sha}/open", data=_open_form(csrf, "c-x"))
    assert answer.status_code == 403 and "branch_secretary" in answer.text
    assert _chains(engine) == before and engine.store.get_case("c-x") is None


def test_a_principal_of_one_unit_opens_there_without_a_unit_field() -> None:
    """One unit: the form has no unit field and the case opens in that unit."""
    http, engine = _app()
    sha = _secretary_opens().procedure.sha256
    csrf = _sign_in(http, SECRETARY)
    form = http.get(f"/ui/procedures/{sha}").text
    assert 'id="open-form"' in form and 'name="unit"' not in form
    answer = http.post(f"/ui/procedures/{sha}/open", data=_open_form(csrf, "c-new"))
    assert answer.status_code == 200, answer.text
    opened = engine.store.get_case("c-new")
    assert opened is not None and opened.unit == VILLAGE


def test_a_principal_of_one_unit_cannot_open_in_another() -> None:
    """A unit typed outside the principal's one unit: 403, nothing stored."""
    http, engine = _app()
    csrf = _sign_in(http, SECRETARY)
    sha = compiled().procedure.sha256
    answer = http.post(f"/ui/procedures/{sha}/open", data=_open_form(csrf, "c-x", NEIGHBOUR))
    assert answer.status_code == 403 and "outside their units" in answer.text
    assert engine.store.get_case("c-x") is None


def test_a_principal_of_several_units_names_the_unit() -> None:
    """Several units: a required unit field; each of theirs opens there, none or another is 403."""
    http, engine = _app()
    sha = compiled().procedure.sha256
    csrf = _sign_in(http, TWO_VILLAGES)
    form = http.get(f"/ui/procedures/{sha}").text
    assert 'name="unit"' in form and "required" in form.split('name="unit"')[1].split(">")[0]
    for case_id, unit in (("c-1", VILLAGE), ("c-2", NEIGHBOUR), ("c-3", VILLAGE + "/一组")):
        answer = http.post(f"/ui/procedures/{sha}/open", data=_open_form(csrf, case_id, unit))
        assert answer.status_code == 200, answer.text
        opened = engine.store.get_case(case_id)
        assert opened is not None and opened.unit == unit
    for unit in ("", "柳河县/城关镇", "柳河县/东风镇/杨村"):
        answer = http.post(f"/ui/procedures/{sha}/open", data=_open_form(csrf, "c-x", unit))
        assert answer.status_code == 403 and "outside their units" in answer.text
    bad = http.post(f"/ui/procedures/{sha}/open", data=_open_form(csrf, "c-x", "柳河县//杨村"))
    assert bad.status_code == 422
    assert engine.store.get_case("c-x") is None


def test_the_local_admin_keeps_working_in_every_unit() -> None:
    """The local admin (no unit limit) reads and acts on any case and opens one without a unit."""
    http, engine = _app()
    sha = compiled().procedure.sha256
    csrf = _sign_in(http, ADMIN)
    assert 'id="form-propose"' in http.get("/ui/cases/c-b").text
    assert http.post("/ui/cases/c-b/act", data=_propose(csrf, "fire")).status_code == 200
    assert engine.case("c-b", history=False).seq == 2
    form = http.get(f"/ui/procedures/{sha}").text
    assert 'name="unit"' in form and "required" not in form.split('name="unit"')[1].split(">")[0]
    assert (
        http.post(f"/ui/procedures/{sha}/open", data=_open_form(csrf, "c-free")).status_code == 200
    )
    opened = engine.store.get_case("c-free")
    assert opened is not None and opened.unit == ""
