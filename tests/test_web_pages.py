"""The workbench's rules, checked in process (no browser): sessions, CSRF, CSP, forms, lists.

The browser tests (test_web_browser.py) show the pages working end to end; these
pin each rule at its edges quickly: what the cookie holds, which posts are
refused, which headers every page carries, how a schema becomes a form and a
form a payload, and that the page can do nothing the API would refuse.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_support import (
    ADMIN_TOKEN,
    DATA,
    DIRECTOR_TOKEN,
    SECRETARY_TOKEN,
    compiled,
    procedure_text,
    token_table,
)
from server_support import client as api_client
from starlette.datastructures import FormData

from engine.runtime.engine import Engine
from engine.server import Principal, create_app
from engine.storage.memory import MemoryStore
from engine.web.forms import fields_of, read_form
from engine.web.local import LocalModeRefused, check_local_host, prepare_local
from engine.web.sessions import SESSION_COOKIE, SessionTable
from engine.web.views import remaining

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _app(sessions: SessionTable | None = None) -> tuple[TestClient, Engine]:
    if sessions is None:
        http = api_client(MemoryStore())  # an app an earlier test is done with, if any
        engine: Engine = http.app.state.services.engine  # type: ignore[attr-defined]
    else:
        engine = Engine(store=MemoryStore())
        app = create_app(engine, token_table(), sessions=sessions)
        http = TestClient(app, raise_server_exceptions=False)
    engine.register(compiled())
    return http, engine


def _sign_in(http: TestClient, token: str) -> str:
    """Sign in through the form; return the session's CSRF secret."""
    form = http.get("/ui/signin")
    pre = CSRF.search(form.text)
    assert pre is not None
    answer = http.post(
        "/ui/signin", data={"csrf": pre.group(1), "token": token}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    found = CSRF.search(http.get("/ui/cases").text)
    assert found is not None
    return found.group(1)


def _open(engine: Engine, case_id: str = "c-1") -> None:
    engine.open_case(
        compiled(), case_id, DATA, actor={"id": "张书记", "roles": ["branch_secretary"]}
    )


def test_signing_in_sets_an_httponly_strict_session_cookie_that_is_not_the_token() -> None:
    """The cookie is a random session id, HttpOnly and SameSite=Strict; the token is not in it."""
    http, _ = _app()
    form = http.get("/ui/signin")
    pre = CSRF.search(form.text)
    assert pre is not None
    answer = http.post(
        "/ui/signin",
        data={"csrf": pre.group(1), "token": SECRETARY_TOKEN, "next": "/ui/procedures"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/procedures"
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert SECRETARY_TOKEN not in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert len(value) >= 40


def test_sign_in_refuses_a_wrong_token_and_a_form_without_its_csrf_value() -> None:
    """401 for an unknown token, 403 without the sign-in form's own CSRF value; no session."""
    http, _ = _app()
    pre = CSRF.search(http.get("/ui/signin").text)
    assert pre is not None
    wrong = http.post("/ui/signin", data={"csrf": pre.group(1), "token": "not-a-token-at-all"})
    assert wrong.status_code == 401 and SESSION_COOKIE not in http.cookies
    forged = TestClient(http.app).post("/ui/signin", data={"csrf": "x", "token": SECRETARY_TOKEN})
    assert forged.status_code == 403
    assert SESSION_COOKIE not in forged.cookies


def test_after_signing_in_goes_only_to_a_path_of_this_server() -> None:
    """``next`` pointing at another site (//evil, https://…) is replaced by the cases list."""
    http, _ = _app()
    for target in ("//evil.example/x", "https://evil.example/", "\\\\evil"):
        pre = CSRF.search(http.get("/ui/signin").text)
        assert pre is not None
        answer = http.post(
            "/ui/signin",
            data={"csrf": pre.group(1), "token": SECRETARY_TOKEN, "next": target},
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/ui/cases", target


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ui/cases"),
        ("GET", "/ui/cases/c-1"),
        ("GET", "/ui/cases/c-1/diagram.svg"),
        ("GET", "/ui/cases/c-1/audit.jsonl"),
        ("GET", "/ui/procedures"),
        ("GET", "/ui/playground"),
        ("GET", "/ui/audit"),
        ("POST", "/ui/cases/c-1/act"),
        ("POST", "/ui/playground/check"),
    ],
)
def test_every_page_without_a_session_leads_to_sign_in(method: str, path: str) -> None:
    """No session: a redirect to the sign-in page, never the content."""
    http, engine = _app()
    _open(engine)
    answer = http.request(method, path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/ui/signin?next=")


def test_every_page_carries_a_strict_csp_and_holds_no_inline_script_or_style() -> None:
    """CSP without 'unsafe-inline'; no <script> without src, no style attribute or element."""
    http, engine = _app()
    _open(engine)
    _sign_in(http, SECRETARY_TOKEN)
    admin = TestClient(http.app)  # the playground is for admins
    _sign_in(admin, ADMIN_TOKEN)
    sha = compiled().procedure.sha256
    for client, path in (
        (http, "/ui/signin"),
        (http, "/ui/cases"),
        (http, "/ui/cases/c-1"),
        (http, "/ui/procedures"),
        (http, f"/ui/procedures/{sha}"),
        (admin, f"/ui/playground?from={sha}"),
        (http, "/ui/audit"),
    ):
        answer = client.get(path)
        assert answer.status_code == 200, path
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe" not in policy, path
        assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert not re.search(r"<script(?![^>]*\bsrc=)", answer.text), path
        assert not re.search(r"<style|\sstyle=", answer.text), path


def test_a_form_without_the_sessions_csrf_secret_is_refused_and_records_nothing() -> None:
    """A missing or wrong CSRF value: 403, and the case's seq does not move."""
    http, engine = _app()
    _open(engine)
    csrf = _sign_in(http, SECRETARY_TOKEN)
    body = {"event": "propose", "seq": "1", "f.present": "4", "f.yes": "3", "action": "fire"}
    assert http.post("/ui/cases/c-1/act", data=body).status_code == 403
    assert http.post("/ui/cases/c-1/act", data={**body, "csrf": csrf + "x"}).status_code == 403
    assert engine.case("c-1", history=False).seq == 1
    assert http.post("/ui/cases/c-1/act", data={**body, "csrf": csrf}).status_code == 200
    assert engine.case("c-1", history=False).seq == 2


def test_sign_out_ends_the_session() -> None:
    """After signing out the old cookie opens nothing."""
    http, _ = _app()
    csrf = _sign_in(http, SECRETARY_TOKEN)
    cookie = http.cookies[SESSION_COOKIE]
    assert http.post("/ui/signout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    replay = TestClient(http.app)
    replay.cookies.set(SESSION_COOKIE, cookie)
    assert replay.get("/ui/cases", follow_redirects=False).status_code == 303


def test_the_page_offers_only_the_events_the_actor_may_fire_and_refuses_like_the_api() -> None:
    """The director sees no form in drafting; a forged post is refused as the API refuses it."""
    http, engine = _app()
    _open(engine)
    csrf = _sign_in(http, DIRECTOR_TOKEN)
    page = http.get("/ui/cases/c-1").text
    assert 'id="form-propose"' not in page and 'id="no-events"' in page
    body = {"csrf": csrf, "event": "propose", "seq": "1", "f.present": "4", "f.yes": "3"}
    answer = http.post("/ui/cases/c-1/act", data={**body, "action": "fire"})
    assert "[not-authorised]" in answer.text
    record = engine.records("c-1")[-1]
    assert record["kind"] == "event.refused" and record["actor"]["id"] == "李主任"


def test_a_stale_seq_is_a_conflict_and_nothing_is_recorded() -> None:
    """Firing with the seq the page showed after the case moved: 409, the record count unchanged."""
    http, engine = _app()
    _open(engine)
    csrf = _sign_in(http, SECRETARY_TOKEN)
    engine.fire("c-1", "propose", actor={"id": "x", "roles": ["branch_secretary"]},
                payload={"present": 4, "yes": 3})  # fmt: skip
    body = {"csrf": csrf, "event": "deliberate", "seq": "1", "f.present": "9", "f.yes": "8"}
    answer = http.post("/ui/cases/c-1/act", data={**body, "action": "fire"})
    assert answer.status_code == 409 and 'id="conflict"' in answer.text
    assert engine.case("c-1", history=False).seq == 2


def test_check_first_records_nothing() -> None:
    """Check first shows each guard's explanation and leaves the case at its seq."""
    http, engine = _app()
    _open(engine)
    csrf = _sign_in(http, SECRETARY_TOKEN)
    body = {"csrf": csrf, "event": "propose", "seq": "1", "f.present": "2", "f.yes": "2"}
    answer = http.post("/ui/cases/c-1/act", data={**body, "action": "check"})
    assert "2 present of 5 expected" in answer.text
    assert engine.case("c-1", history=False).seq == 1


def test_a_number_that_does_not_parse_is_refused_by_the_engine_with_its_path() -> None:
    """A typed "二十五" reaches the engine as text and is refused invalid-payload at $.yes."""
    http, engine = _app()
    _open(engine)
    csrf = _sign_in(http, SECRETARY_TOKEN)
    body = {"csrf": csrf, "event": "propose", "seq": "1", "f.present": "4", "f.yes": "二十五"}
    answer = http.post("/ui/cases/c-1/act", data={**body, "action": "fire"})
    assert "[invalid-payload]" in answer.text and "yes" in answer.text
    assert engine.records("c-1")[-1]["reason"]["code"] == "invalid-payload"


def test_only_an_admin_may_register_from_the_playground() -> None:
    """A non-admin's register is 403 and stores nothing; an admin's is stored."""
    http, engine = _app(None)
    csrf = _sign_in(http, SECRETARY_TOKEN)
    text = re.sub(r"^version: .*$", 'version: "9.9.9"', procedure_text(), count=1, flags=re.M)
    body = {"csrf": csrf, "source": text, "scenario": "", "action": "register"}
    assert http.post("/ui/playground", data=body).status_code == 403
    assert len(engine.store.procedures()) == 1
    admin, _ = TestClient(http.app), None
    csrf = _sign_in(admin, ADMIN_TOKEN)
    answer = admin.post("/ui/playground", data={**body, "csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303 and len(engine.store.procedures()) == 2


def test_the_playground_is_for_admins_as_dry_runs_are_in_the_api() -> None:
    """Rule: checking or trying a procedure costs CPU, as a dry-run registration does, which
    the API allows only to admins; so the playground's page, check and run answer a non-admin
    403, and its links are not offered to them."""
    http, _ = _app()
    csrf = _sign_in(http, SECRETARY_TOKEN)
    assert http.get("/ui/playground").status_code == 403
    checked = http.post("/ui/playground/check", data={"csrf": csrf, "source": "a: 1"})
    assert checked.status_code == 403 and checked.json()["problems"] == []
    body = {"csrf": csrf, "source": procedure_text(), "scenario": ""}
    assert http.post("/ui/playground", data=body).status_code == 403
    assert 'href="/ui/playground"' not in http.get("/ui/procedures").text


def test_a_playground_scenario_may_not_start_from_a_file_on_the_server() -> None:
    """Rule: a scenario pasted into the playground runs with all its steps; a ``from`` naming
    a file is refused before anything is read, so a form can never read the server's files."""
    http, _ = _app()
    csrf = _sign_in(http, ADMIN_TOKEN)
    scenario = "from: /etc/passwd\nuntil: 2\nsteps: []\n"
    body = {"csrf": csrf, "source": procedure_text(), "scenario": scenario}
    answer = http.post("/ui/playground", data=body)
    assert answer.status_code == 200
    assert "&#39;from&#39; is not allowed" in answer.text and "root:" not in answer.text


def test_the_playground_check_answers_located_problems() -> None:
    """The as-you-type check returns validate's problems with line and column."""
    http, _ = _app()
    csrf = _sign_in(http, ADMIN_TOKEN)
    text = procedure_text().replace("initial: drafting", "initial: drafted")
    found = http.post("/ui/playground/check", data={"csrf": csrf, "source": text}).json()
    assert found["ok"] is False
    problem = next(p for p in found["problems"] if "drafted" in p["message"])
    assert problem["line"] > 1 and problem["column"] >= 1
    assert problem["text"].startswith(f"playground.yaml:{problem['line']}:")


def test_a_one_time_token_signs_in_once() -> None:
    """The printed link works once; the second use is 401 with no session."""
    sessions = SessionTable()
    token = sessions.add_one_time(Principal(actor="本机管理员", admin=True))
    http, _ = _app(sessions)
    first = http.get(f"/ui/signin?token={token}", follow_redirects=False)
    assert first.status_code == 303 and SESSION_COOKIE in first.cookies
    again = TestClient(http.app).get(f"/ui/signin?token={token}", follow_redirects=False)
    assert again.status_code == 401 and SESSION_COOKIE not in again.cookies


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_local_mode_accepts_loopback(host: str) -> None:
    """Without a token file the server may listen on a loopback address."""
    check_local_host(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org"])  # noqa: S104
def test_local_mode_refuses_any_other_address(host: str) -> None:
    """Without a token file any other address is refused, naming it and the fix."""
    with pytest.raises(LocalModeRefused) as caught:
        check_local_host(host)
    assert host in str(caught.value) and "--tokens" in str(caught.value)


def test_yishi_serve_without_tokens_on_a_network_address_exits_1(capsys: Any) -> None:
    """``run_serve`` refuses before opening the store: one line on stderr, exit 1."""
    from engine.server.serve import ServeOptions, run_serve

    options = ServeOptions(db="memory://", host="0.0.0.0", port=0, tokens=None)  # noqa: S104
    assert run_serve(options) == 1
    assert "refusing to serve on 0.0.0.0 without --tokens" in capsys.readouterr().err


def test_local_mode_registers_the_bundled_procedures_and_holds_their_roles() -> None:
    """On an empty store the bundled procedures are registered; the admin holds every role."""
    engine = Engine(store=MemoryStore())
    tokens, sessions, token, registered = prepare_local(engine)
    assert len(tokens) == 0 and "four-deliberations-two-disclosures.yaml" in registered
    who = sessions.use_one_time(token)
    assert who is not None and who.admin
    assert {"branch_secretary", "supervision_committee"} <= set(who.roles)


def test_a_payload_schema_becomes_fields_and_a_filled_form_its_payload() -> None:
    """Numbers, text, choices, yes/no, lists and a ballot table; empty fields are left out."""
    schema = {
        "type": "object",
        "required": ["present"],
        "properties": {
            "present": {"type": "integer", "title": "实到人数"},
            "note": {"type": "string"},
            "kind": {"type": "string", "enum": ["赞成", "反对"]},
            "secret": {"type": "boolean"},
            "names": {"type": "array", "items": {"type": "string"}},
            "votes": {"type": "object", "additionalProperties": {"type": "integer"}},
            "trust": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"yes": {"type": "integer"}, "ballots_cast": {"type": "integer"}},
                },
            },
            "other": {"type": "array", "items": {"type": "object"}},
        },
    }
    fields = fields_of(schema)
    assert [f.kind for f in fields] == [
        "integer", "text", "choice", "boolean", "list", "table", "table", "json",
    ]  # fmt: skip
    assert fields[0].required and fields[0].label == "实到人数"
    form = FormData(
        [
            ("f.present", "41"),
            ("f.note", ""),
            ("f.kind", "赞成"),
            ("f.secret", "false"),
            ("f.names", "张三\n李四"),
            ("t.votes.0.key", "张三"),
            ("t.votes.0.", "12"),
            ("t.votes.1.key", ""),
            ("t.votes.1.", "3"),
            ("t.trust.0.key", "王五"),
            ("t.trust.0.yes", "32"),
            ("t.trust.0.ballots_cast", "33"),
            ("f.other", '[{"a": 1}]'),
        ]
    )
    assert read_form(fields, form) == {
        "present": 41,
        "kind": "赞成",
        "secret": False,
        "names": ["张三", "李四"],
        "votes": {"张三": 12},
        "trust": {"王五": {"yes": 32, "ballots_cast": 33}},
        "other": [{"a": 1}],
    }


def test_remaining_time_is_told_in_the_procedures_own_days() -> None:
    """Calendar days and hours; working days skip the weekend; past due says so."""
    now = datetime(2024, 3, 15, 9, 0, tzinfo=UTC)  # a Friday
    assert remaining("2024-03-22T09:00:00+00:00", now, "calendar").startswith("还剩 7 天 0 小时")
    assert remaining("2024-03-19T09:00:00+00:00", now, "working").startswith("还剩 2 个工作日")
    assert remaining("2024-03-15T09:00:00+00:00", now, "calendar") == "已到期 due now"
    assert remaining((now - timedelta(hours=1)).isoformat(), now, "working") == "已到期 due now"


def test_the_cases_list_filters_and_pages() -> None:
    """25 a page with a next link; text search on id and data; state and procedure filters."""
    http, engine = _app()
    for n in range(30):
        data = {**DATA, "matter": "道路硬化" if n % 3 == 0 else "修缮祠堂"}
        engine.open_case(
            compiled(), f"case-{n:02d}", data, actor={"id": "x", "roles": ["branch_secretary"]}
        )
    _sign_in(http, SECRETARY_TOKEN)
    first = http.get("/ui/cases").text
    assert first.count('class="case-link"') == 25
    after = re.search(r'id="next-page" href="([^"]+)"', first)
    assert after is not None
    second = http.get(after.group(1).replace("&amp;", "&")).text
    assert second.count('class="case-link"') == 5 and 'id="next-page"' not in second
    assert http.get("/ui/cases?q=道路").text.count('class="case-link"') == 10
    assert http.get("/ui/cases?q=CASE-07").text.count('class="case-link"') == 1
    assert http.get("/ui/cases?state=proposed").text.count('class="case-link"') == 0
    assert http.get("/ui/cases?procedure=nope").text.count('class="case-link"') == 0
    assert http.get("/ui/cases?due=30").text.count('class="case-link"') == 0


def test_the_root_leads_browsers_to_the_workbench_and_stays_a_404_problem_for_api_clients() -> None:
    """``/`` with Accept: text/html redirects to the cases; without it, the API's 404 problem."""
    http, _ = _app()
    browser = http.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert browser.status_code == 303 and browser.headers["location"] == "/ui/cases"
    api = http.get("/")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")


def test_the_css_and_script_ship_in_the_installed_package() -> None:
    """The static files are served from the installed package (no CDN, no source tree)."""
    http, _ = _app()
    for name, kind in (("app.css", "text/css"), ("app.js", "javascript")):
        answer = http.get(f"/ui/static/{name}")
        assert answer.status_code == 200 and kind in answer.headers["content-type"]


def test_a_ballot_table_offers_one_row_per_candidate_the_case_names() -> None:
    """Rows come from the case data's latest list of candidates (formal before eligible)."""
    from engine.web.forms import candidate_rows, table_rows

    data: dict[str, Any] = {
        "matter": "换届",
        "nominees": [{"name": "张三", "post": "secretary"}, {"name": "李四", "post": "deputy"}],
        "review": {"eligible": ["张三", "李四", "王五"], "results": [{"name": "张三"}]},
    }
    assert candidate_rows(data) == ("张三", "李四", "王五")
    assert candidate_rows({**data, "formal": ["李四"]}) == ("李四",)
    assert candidate_rows({"candidates": ["x" * 41]}) == ()
    assert candidate_rows({"matter": "no list"}) == ()
    schema = {
        "type": "object",
        "properties": {"votes": {"type": "object", "additionalProperties": {"type": "integer"}}},
    }
    (table,) = fields_of(schema, rows=candidate_rows(data))
    rows = table_rows(table)
    assert rows[:3] == ("张三", "李四", "王五") and rows[3:] == ("",) * 10


def test_a_forged_event_id_the_api_would_refuse_never_reaches_the_chain() -> None:
    """An event id outside the API's pattern (slash, NUL, over-long) is 422; nothing recorded."""
    http, engine = _app()
    _open(engine)
    csrf = _sign_in(http, SECRETARY_TOKEN)
    for event in ("../propose", "propose\x00", "a" * 65, ""):
        body = {"csrf": csrf, "event": event, "seq": "1", "action": "fire"}
        assert http.post("/ui/cases/c-1/act", data=body).status_code == 422, event
    assert engine.case("c-1", history=False).seq == 1


def test_hostile_requests_to_the_pages_are_answered_without_a_500() -> None:
    """Odd ids, cursors, numbers, files and texts: a page or a 4xx, never a 500."""
    http, engine = _app()
    _open(engine)
    csrf = _sign_in(http, SECRETARY_TOKEN)
    sha = compiled().procedure.sha256
    gets = [
        "/ui/cases?after=%5B1,%22x%22%5D",
        "/ui/cases?after=not-json",
        "/ui/cases?after=%5B99999999999999999999999,%22x%22%5D",
        "/ui/cases?due=99999999",
        "/ui/cases?due=-1&q=" + "x" * 5000,
        "/ui/cases/%00",
        "/ui/cases/" + "a" * 3000,
        "/ui/cases/nope/diagram.svg",
        "/ui/cases/nope/audit.jsonl",
        "/ui/procedures/zzz",
        "/ui/procedures/" + "0" * 64,
        "/ui/procedures/" + "0" * 64 + "/diagram.svg",
        "/ui/playground?from=" + "f" * 64,
    ]
    for path in gets:
        assert http.get(path).status_code < 500, path
    posts: list[tuple[str, dict[str, Any], Any]] = [
        ("/ui/cases/nope/act", {"event": "propose"}, None),
        ("/ui/cases/c-1/act", {"event": "propose", "seq": "9" * 40, "f.present": "1e999"}, None),
        ("/ui/cases/c-1/act", {"event": "propose", "action": "check", "f.yes": "[1,"}, None),
        (f"/ui/procedures/{sha}/open", {"case_id": "../x"}, None),
        (f"/ui/procedures/{sha}/open", {"case_id": "c-1"}, None),
        (f"/ui/procedures/{sha}/open", {"case_id": "c-2", "f.matter": "x"}, None),
        ("/ui/procedures/zzz/open", {"case_id": "c-3"}, None),
        ("/ui/playground", {"source": "a: [", "scenario": "b: ["}, None),
        ("/ui/playground", {"source": procedure_text(), "scenario": "case: 1\n"}, None),
        ("/ui/playground", {"source": procedure_text(), "scenario": "\x00a: 1"}, None),
        ("/ui/playground/check", {"source": "\x00\ufeff" + "{" * 2000}, None),
        ("/ui/audit", {"as_of": "yesterday"}, {"log": ("a.jsonl", b"\xff\xfe{not json\n")}),
        ("/ui/audit", {}, {"log": ("a.jsonl", b"")}),
        ("/ui/audit", {}, {"log": ("a.jsonl", b"{}\n"), "procedures": ("p.yaml", b"\xff")}),
    ]
    admin = TestClient(http.app)
    admin_csrf = _sign_in(admin, ADMIN_TOKEN)
    for path, data, files in posts:
        answer = http.post(path, data={"csrf": csrf, **data}, files=files)
        assert answer.status_code < 500, (path, data, answer.text[:300])
        if path.startswith("/ui/playground"):  # the playground itself is for admins
            answer = admin.post(path, data={"csrf": admin_csrf, **data}, files=files)
            assert answer.status_code < 500, (path, data, answer.text[:300])


@pytest.mark.subprocess
def test_yishi_serve_without_tokens_prints_a_link_that_signs_in_once(tmp_path: Any) -> None:
    """The real command on 127.0.0.1: the printed link gives a session once, then 401."""
    import os
    import signal
    import subprocess
    import urllib.error
    import urllib.request

    from server_support import YISHI, free_port, wait_healthy

    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(YISHI), "serve", "--db", f"sqlite:///{tmp_path / 'local.db'}",
             "--port", str(port), "--no-access-log"],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        found = re.search(r"http://127\.0\.0\.1:\d+/ui/signin\?token=\S+", log_path.read_text())
        assert found is not None, log_path.read_text()

        class Stay(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        opener = urllib.request.build_opener(Stay)
        with pytest.raises(urllib.error.HTTPError) as first:
            opener.open(found.group(0), timeout=10)
        first.value.close()  # an HTTPError holds the response and its socket
        assert first.value.code == 303
        assert SESSION_COOKIE in (first.value.headers.get("Set-Cookie") or "")
        with pytest.raises(urllib.error.HTTPError) as again:
            opener.open(found.group(0), timeout=10)
        again.value.close()
        assert again.value.code == 401
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    bundled = len(list((Path(__file__).resolve().parent.parent / "procedures").glob("*.yaml")))
    assert f"registered {bundled} bundled procedure(s)" in log_path.read_text()


def test_due_times_are_shown_and_counted_in_the_procedures_zone() -> None:
    """2024-03-18T17:00Z is 03-19 01:00 in Shanghai: working days are counted to the 19th."""
    from zoneinfo import ZoneInfo

    from engine.web.views import local_time, zone_of

    shanghai = ZoneInfo("Asia/Shanghai")
    assert str(zone_of(compiled().procedure)) == "Asia/Shanghai"
    assert local_time("2024-03-18T17:00:00Z", shanghai) == "2024-03-19 01:00"
    friday = datetime(2024, 3, 15, 2, 0, tzinfo=UTC)  # Friday 10:00 in Shanghai
    due = "2024-03-18T17:00:00+00:00"  # Tuesday 01:00 in Shanghai, Monday in UTC
    assert remaining(due, friday, "working", shanghai).startswith("还剩 2 个工作日")
    assert remaining(due, friday, "working", ZoneInfo("UTC")).startswith("还剩 1 个工作日")
