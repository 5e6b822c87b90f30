"""The workbench in a real browser: headless Chromium against a real server on 127.0.0.1.

One long flow (sign in, open a 四议两公开 case, check first, a refusal, every event
through its form to the end, a conflict from a second actor, the highlighted
diagram and the timeline, the audit log downloaded, tampered and uploaded) and
a few focused tests (injection corpus, phone width). The browser is shared by
the module. Screenshots of each page are saved when ``$YISHI_SCREENSHOTS`` names
a folder. Any CSP violation or dialog is a failure.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from server_support import PROCEDURE_PATH, compiled
from web_support import (
    ADMIN_TOKEN,
    CLERK_TOKEN,
    OTHER_TOKEN,
    POLL,
    LiveWorkbench,
    SecondSession,
    browser_problems,
    chromium,
    click_and_wait,
    cookie_header,
    fill,
    no_alert,
    screenshots_dir,
    shot,
    sign_in,
    strip_ws,
    text_of,
)

CASE = "2024-liushu-road"
DATA = {
    "f.matter": "村内主干道硬化（2.3公里）",
    "f.branch_committee_members": "5",
    "f.two_committees_members": "9",
    "f.voting_party_members": "41",
    "f.representatives": "57",
}


@pytest.fixture(scope="module")
def server() -> Iterator[LiveWorkbench]:
    with LiveWorkbench() as live:
        live.engine.register(compiled())
        yield live


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture(scope="module")
def shots() -> Path | None:
    return screenshots_dir()


def _by_id(driver: Any, element_id: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def _fetch(server: LiveWorkbench, driver: Any, path: str) -> bytes:
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1, our own server
        server.url + path, headers={"Cookie": cookie_header(driver)}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - our 127.0.0.1 server
        body: bytes = answer.read()
        return body


def _fire(driver: Any, event: str, values: dict[str, str]) -> None:
    from selenium.webdriver.common.by import By

    form = driver.find_element(By.ID, f"form-{event}")
    details = form.find_element(By.XPATH, "./ancestor::details")
    if details.get_attribute("open") is None:
        details.find_element(By.TAG_NAME, "summary").click()
    fill(driver, f"form-{event}", values)
    click_and_wait(driver, f"fire-{event}")


def _label(state: str) -> str:
    """A state's label as the bundled procedure words it (the page shows it)."""
    return compiled().procedure.states[state].label


def _clean(driver: Any) -> None:
    assert no_alert(driver), "a dialog opened"
    assert browser_problems(driver) == []


def test_a_clerk_takes_a_case_from_opening_to_its_end(  # noqa: PLR0915 - one flow, in order
    server: LiveWorkbench, driver: Any, shots: Path | None, tmp_path: Path
) -> None:
    """Sign in, open, check first, refusal, every event, conflict, diagram, timeline, audit."""
    from selenium.webdriver.common.by import By

    base = server.url
    driver.get(f"{base}/ui/cases")
    assert "/ui/signin" in driver.current_url, "a page without a session leads to sign-in"
    shot(driver, shots, "signin")
    sign_in(driver, base, CLERK_TOKEN)
    assert driver.current_url.endswith("/ui/cases")
    assert text_of(driver, "who") == "王文书"
    cookie = driver.get_cookie("yishi_session")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert CLERK_TOKEN not in json.dumps(driver.get_cookies()), "the token never goes in a cookie"

    # Open a case through the procedure's page.
    driver.get(f"{base}/ui/procedures")
    shot(driver, shots, "procedures")
    driver.get(driver.find_element(By.CLASS_NAME, "procedure-link").get_attribute("href"))
    assert "四议两公开" in driver.title
    shot(driver, shots, "procedure", full=True)
    fill(driver, "open-form", {"case_id": CASE, **DATA})
    click_and_wait(driver, "open")
    assert text_of(driver, "case-id") == CASE
    assert text_of(driver, "state") == _label("drafting") and text_of(driver, "seq") == "1"

    # Check first: says what would happen, records nothing.
    fill(driver, "form-propose", {"f.present": "4", "f.yes": "3"})
    click_and_wait(driver, "check-propose")
    assert "would apply" in text_of(driver, "check-verdict")
    assert "支委会到会" in text_of(driver, "notice")
    assert text_of(driver, "seq") == "1", "check first records nothing"
    shot(driver, shots, "check-first")

    # A refusal: more votes in favour than members present.
    _fire(driver, "propose", {"f.present": "4", "f.yes": "9"})
    reason = text_of(driver, "reason")
    assert "guards-failed" in reason and "赞成票不超过到会人数" in reason
    assert text_of(driver, "seq") == "2", "a refusal is recorded"
    assert "refused" in (_by_id(driver, "rec-2").get_attribute("class") or "")
    assert "赞成票不超过到会人数" in text_of(driver, "rec-2")
    shot(driver, shots, "refused")

    _fire(driver, "propose", {"f.present": "4", "f.yes": "3"})
    assert text_of(driver, "state") == _label("proposed")

    # Someone else, in a second workbench session, acts first: this page's seq is stale.
    other = SecondSession(base)
    other.sign_in(OTHER_TOKEN)
    their_page = other.get(f"/ui/cases/{CASE}")
    assert 'name="seq" value="3"' in their_page
    form = {"csrf": other.csrf(their_page), "event": "deliberate", "seq": "3", "action": "fire"}
    their_answer = other.post(f"/ui/cases/{CASE}/act", {**form, "f.present": "9", "f.yes": "8"})
    assert f'id="state">{_label("deliberated")}' in their_answer
    _fire(driver, "deliberate", {"f.present": "9", "f.yes": "7"})
    assert "seq 3" in text_of(driver, "conflict") and "seq 4" in text_of(driver, "conflict")
    assert text_of(driver, "state") == _label("deliberated"), "the page shows the case as it now is"
    assert "李主任" in text_of(driver, "rec-4")
    shot(driver, shots, "conflict")

    _fire(driver, "review", {"f.present": "30", "f.yes": "21"})
    assert text_of(driver, "state") == _label("reviewed")
    _fire(driver, "resolve", {"f.present": "38", "f.yes": "20"})
    assert text_of(driver, "state") == _label("resolved")
    _fire(driver, "disclose_resolution", {"f.notice": "关于村内主干道硬化的决议"})
    assert text_of(driver, "state") == _label("resolution_disclosed")
    assert "7 天" in text_of(driver, "deadline") or "6 天" in text_of(driver, "deadline")
    assert text_of(driver, "no-events")
    shot(driver, shots, "deadline")

    # The disclosure period ends: the worker fires the timer.
    server.clock.advance(timedelta(days=8))
    assert [o.status for o in server.engine.tick(server.clock.now())] == ["applied"]
    driver.get(f"{base}/ui/cases/{CASE}")
    assert text_of(driver, "state") == _label("implementing")
    _fire(driver, "disclose_result", {"f.notice": "道路硬化完工，决算 45.8 万元"})
    server.clock.advance(timedelta(days=8))
    server.engine.tick(server.clock.now())
    driver.get(f"{base}/ui/cases/{CASE}")
    assert text_of(driver, "state") == _label("awaiting_sign_off")
    _fire(driver, "sign_off", {"f.opinion": "同意，已核实"})
    assert text_of(driver, "state") == _label("closed")
    assert text_of(driver, "final")
    seq = int(text_of(driver, "seq"))
    assert len(driver.find_elements(By.CSS_SELECTOR, "li.record")) == seq
    assert f"verified up to seq {seq}" in text_of(driver, "chain-status")
    assert text_of(driver, "head") == server.engine.case(CASE, history=False).head

    # The diagram: drawn, current state filled, path taken coloured.
    loaded = driver.execute_script("return document.getElementById('diagram-img').naturalWidth")
    assert loaded > 0
    svg = _fetch(server, driver, f"/ui/cases/{CASE}/diagram.svg").decode()
    assert svg.count('fill="#b3261e"') >= 1 and 'stroke="#b3261e"' in svg
    shot(driver, shots, "case", full=True)
    _clean(driver)

    # The audit log: downloaded, one record tampered, uploaded: the page says where.
    log = _fetch(server, driver, f"/ui/cases/{CASE}/audit.jsonl")
    assert log.count(b"\n") == seq
    lines = log.splitlines(keepends=True)
    assert b'"present":4' in lines[2]
    lines[2] = lines[2].replace(b'"present":4', b'"present":5')
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(b"".join(lines))
    driver.get(f"{base}/ui/audit")
    _by_id(driver, "log").send_keys(str(tampered))
    click_and_wait(driver, "examine")
    assert "line 3" in text_of(driver, "verify-status")
    assert "hash" in text_of(driver, "verify-message")
    shot(driver, shots, "audit-tampered", full=True)

    intact = tmp_path / "intact.jsonl"
    intact.write_bytes(log)
    _by_id(driver, "log").send_keys(str(intact))
    fill(driver, "audit-form", {"as_of": "5"})
    click_and_wait(driver, "examine")
    assert "✓" in text_of(driver, "verify-status")
    assert "✓" in text_of(driver, "replay-status")
    assert "seq 5" in text_of(driver, "case-at") and "reviewed" in text_of(driver, "case-at")
    shot(driver, shots, "audit", full=True)
    _clean(driver)

    driver.get(f"{base}/ui/cases?q=liushu")
    assert [e.text for e in driver.find_elements(By.CLASS_NAME, "case-link")] == [CASE]
    shot(driver, shots, "cases")

    # Sign-out ends the session.
    click_and_wait(driver, "signout")
    driver.get(f"{base}/ui/cases")
    assert "/ui/signin" in driver.current_url


def test_the_case_page_fits_a_phone(server: LiveWorkbench, driver: Any, shots: Path | None) -> None:
    """At 375 px wide nothing scrolls sideways and the forms are there (staff use phones)."""
    sign_in(driver, server.url, CLERK_TOKEN)
    server.engine.open_case(
        compiled(), "phone-1", {k[2:]: int(v) if v.isdigit() else v for k, v in DATA.items()},
        actor={"id": "王文书", "roles": ["branch_secretary"]},
    )  # fmt: skip
    try:
        driver.set_window_size(375, 812)
        for path, name in (("/ui/cases/phone-1", "phone-case"), ("/ui/cases", "phone-cases")):
            driver.get(server.url + path)
            width = driver.execute_script("return document.documentElement.clientWidth")
            scroll = driver.execute_script("return document.documentElement.scrollWidth")
            assert scroll <= width, f"{path} scrolls sideways at 375 px ({scroll} > {width})"
            shot(driver, shots, f"{name}")
        driver.get(server.url + "/ui/cases/phone-1")
        assert _by_id(driver, "fire-propose").is_displayed()
    finally:
        driver.set_window_size(1280, 1000)
    _clean(driver)


HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"


def test_markup_from_procedures_cases_and_payloads_is_shown_as_text(
    server: LiveWorkbench, driver: Any, shots: Path | None
) -> None:
    """Labels, a case id, data and payload text holding markup and script are text: nothing runs."""
    from selenium.webdriver.common.by import By

    from engine.definition.loader import load_source

    source = PROCEDURE_PATH.read_text(encoding="utf-8")
    source = source.replace("title: 四议两公开", f'title: "{HOSTILE}四议两公开"', 1)
    source = source.replace("    label: 拟议", f'    label: "{HOSTILE}拟议"', 1)
    source = source.replace("    label: 党支部提议", f'    label: "{HOSTILE}提议"', 1)
    # A changed text needs its own version: a store refuses another text under a taken one.
    source = re.sub(r'(?m)^version: "([^"]+)"', r'version: "\1-hostile"', source, count=1)
    hostile = load_source(source, "hostile.yaml")
    server.engine.register(hostile)
    case_id = 'x"><svg onload=alert(2)>'
    data = {k[2:]: int(v) if v.isdigit() else v for k, v in DATA.items()}
    data["matter"] = HOSTILE + "</textarea><script>alert(3)</script>"
    actor = {"id": "<b>王</b>", "roles": ["branch_secretary"]}
    server.engine.open_case(hostile, case_id, data, actor=actor)
    server.engine.fire(
        case_id, "propose", actor=actor, payload={"present": 1, "yes": 1, "minutes": HOSTILE}
    )
    sign_in(driver, server.url, CLERK_TOKEN)
    pages = [
        f"/ui/cases?q={urllib.request.quote('svg onload')}",
        f"/ui/cases/{urllib.request.quote(case_id, safe='')}",
        f"/ui/procedures/{hostile.procedure.sha256}",
        f"/ui/playground?from={hostile.procedure.sha256}",
        "/ui/procedures",
    ]
    for number, path in enumerate(pages):
        driver.get(server.url + path)
        assert no_alert(driver), f"a dialog opened on {path}"
        scripts = driver.find_elements(By.TAG_NAME, "script")
        assert [s.get_attribute("src") for s in scripts] == [f"{server.url}/ui/static/app.js"]
        assert not driver.find_elements(By.CSS_SELECTOR, "main img[src='x'], main svg")
        body = strip_ws(driver.find_element(By.TAG_NAME, "body").text)
        if number < 3:
            assert "<script>alert('x')</script>" in body, path
        shot(driver, shots, f"injection-{number}")
    driver.get(server.url + f"/ui/cases/{urllib.request.quote(case_id, safe='')}")
    assert text_of(driver, "case-id") == case_id
    assert "<b>王</b>" in text_of(driver, "timeline")
    _clean(driver)


def test_the_playground_checks_as_you_type_draws_and_runs_a_scenario(
    server: LiveWorkbench, driver: Any, shots: Path | None
) -> None:
    """Typing a mistake shows its located problem (debounced fetch); a scenario runs as a table."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    sign_in(driver, server.url, ADMIN_TOKEN)
    driver.get(f"{server.url}/ui/playground?from={compiled().procedure.sha256}")
    wait = WebDriverWait(driver, 30, POLL)
    wait.until(lambda d: text_of(d, "live-status").startswith("✓"))
    source = _by_id(driver, "source")
    source.send_keys(Keys.CONTROL, Keys.END)
    source.send_keys("\nbogus_key: 1")
    wait.until(lambda d: "bogus_key" in text_of(d, "problems"))
    problem = text_of(driver, "problems")
    assert re.search(r"playground\.yaml:\d+:1: .*bogus_key", problem), problem
    shot(driver, shots, "playground-typing")
    source.send_keys(Keys.BACKSPACE * len("\nbogus_key: 1"))
    wait.until(lambda d: text_of(d, "live-status").startswith("✓"))
    scenario = (
        PROCEDURE_PATH.parent / "examples" / "four-deliberations-happy-path.yaml"
    ).read_text(encoding="utf-8")
    driver.execute_script("document.getElementById('scenario').value = arguments[0]", scenario)
    click_and_wait(driver, "run")
    assert text_of(driver, "final-state") == "closed"
    rows = driver.find_elements(By.CSS_SELECTOR, "#scenario-table tbody tr")
    assert len(rows) >= 10
    assert "not-authorised" in text_of(driver, "scenario-table")
    assert driver.execute_script("return document.getElementById('diagram-img').naturalWidth") > 0
    shot(driver, shots, "playground", full=True)
    _clean(driver)
