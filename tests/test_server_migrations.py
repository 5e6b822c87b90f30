"""POST /migrations: admin only; a dry run reports every case and changes nothing; applied,
each case is recorded as case.migrated, and the case's verify and replay endpoints pass."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from server_support import (
    ADMIN_TOKEN,
    DATA,
    SECRETARY_TOKEN,
    auth,
    client,
    compiled,
    open_case,
    procedure_text,
    register,
    seed,
)
from store_support import SECRETARY, T0

from engine.runtime.engine import Engine
from engine.server.app import create_app
from engine.server.auth import Principal, TokenTable, token_hash


def _amended(http: Any) -> str:
    text = procedure_text()
    version = text.split('version: "', 1)[1].split('"', 1)[0]
    text = text.replace(f'version: "{version}"', f'version: "{version}-p10d"', 1)
    return register(http, text.replace("after: P7D", "after: P10D", 1))


def _renamed(http: Any) -> str:
    text = procedure_text()
    version = text.split('version: "', 1)[1].split('"', 1)[0]
    text = text.replace(f'version: "{version}"', f'version: "{version}-renamed"', 1)
    return register(http, text.replace("drafting", "drafted"))


def _migrate(http: Any, token: str = ADMIN_TOKEN, **body: Any) -> Any:
    return http.post("/migrations", json=body, headers=auth(token))


def test_only_admin_may_migrate_or_dry_run() -> None:
    """POST /migrations: a token that is not admin gets 403, dry run or not; nothing changes."""
    http = client()
    sha = seed(http)
    assert open_case(http, sha, "c1").status_code == 201
    to = _amended(http)

    for dry in (False, True):
        answer = _migrate(http, SECRETARY_TOKEN, cases=["c1"], to=to, reason="r", dry_run=dry)
        assert answer.status_code == 403
        assert answer.json()["code"] == "forbidden"
    assert http.get("/cases/c1", headers=auth(ADMIN_TOKEN)).json()["seq"] == 1


def test_dry_run_then_apply_then_verify_and_replay() -> None:
    """POST /migrations: dry_run reports and changes nothing; applied, the case runs under the
    new version at the next seq; GET …/verify and …/replay pass across the versions."""
    http = client()
    sha = seed(http)
    open_case(http, sha, "c1")
    to = _amended(http)

    dry = _migrate(http, cases=["c1"], to=to, reason="公示期延长", dry_run=True)
    unchanged = http.get("/cases/c1", headers=auth(ADMIN_TOKEN)).json()
    applied = _migrate(http, cases=["c1"], to=to, reason="公示期延长")
    after = http.get("/cases/c1", headers=auth(ADMIN_TOKEN)).json()
    verify = http.get("/cases/c1/verify", headers=auth(ADMIN_TOKEN))
    replay = http.get("/cases/c1/replay", headers=auth(ADMIN_TOKEN))

    assert dry.status_code == 200, dry.text
    (checked,) = dry.json()["cases"]
    assert checked["ok"] and checked["applied_seq"] is None
    assert (checked["from_state"], checked["to_state"]) == ("drafting", "drafting")
    assert unchanged["seq"] == 1 and unchanged["procedure"]["sha256"] == sha
    assert applied.status_code == 200, applied.text
    assert applied.json()["cases"][0]["applied_seq"] == 2
    assert after["procedure"]["sha256"] == to and after["seq"] == 2
    assert verify.status_code == 200 and verify.json()["ok"], verify.text
    assert replay.status_code == 200 and replay.json()["ok"], replay.text


def test_unmapped_state_is_reported_per_case_and_changes_nothing() -> None:
    """POST /migrations: a case whose state the new version lacks is reported refused (200,
    ok false, the state named); with state_map it migrates."""
    http = client()
    sha = seed(http)
    open_case(http, sha, "c1")
    to = _renamed(http)

    refused = _migrate(http, cases=["c1"], to=to, reason="改名")
    mapped = _migrate(http, cases=["c1"], to=to, reason="改名", state_map={"drafting": "drafted"})

    (case,) = refused.json()["cases"]
    assert refused.status_code == 200
    assert not case["ok"] and "'drafting' is not mapped" in case["problems"][0]
    assert mapped.json()["cases"][0]["applied_seq"] == 2
    assert http.get("/cases/c1", headers=auth(ADMIN_TOKEN)).json()["state"] == "drafted"


def test_unknown_version_or_case_is_404_and_bad_bodies_422() -> None:
    """POST /migrations: an unregistered version or an unknown case is 404 (nothing changes);
    an empty reason, no cases or an unknown member is 422."""
    http = client()
    sha = seed(http)
    open_case(http, sha, "c1")
    to = _amended(http)

    no_version = _migrate(http, cases=["c1"], to="0" * 64, reason="r")
    no_case = _migrate(http, cases=["c1", "nope"], to=to, reason="r")
    blank = _migrate(http, cases=["c1"], to=to, reason="  ")
    empty = _migrate(http, cases=[], to=to, reason="r")
    extra = _migrate(http, cases=["c1"], to=to, reason="r", actor="someone")

    assert (no_version.status_code, no_version.json()["code"]) == (404, "unknown-procedure")
    assert (no_case.status_code, no_case.json()["code"]) == (404, "unknown-case")
    assert [a.status_code for a in (blank, empty, extra)] == [422, 422, 422]
    assert http.get("/cases/c1", headers=auth(ADMIN_TOKEN)).json()["seq"] == 1


def test_an_admin_limited_to_units_migrates_only_cases_within_them() -> None:
    """POST /migrations: an admin token limited to a town may not migrate (or dry-run) a case
    of another town: 403 and nothing changes; a case within the town migrates. An auditor
    token is refused even when it is also admin."""
    town, other = "柳河县/城关镇", "柳河县/城关乡"
    table = TokenTable(
        [
            (token_hash("town-admin"), Principal(actor="镇管理员", admin=True, units=(town,))),
            (token_hash("auditor"), Principal(actor="审计", admin=True, auditor=True)),
            (token_hash(ADMIN_TOKEN), Principal(actor="ops", admin=True)),
        ]
    )
    app = create_app(Engine(), table)
    http = TestClient(app, raise_server_exceptions=False)
    engine: Engine = app.state.services.engine
    engine.register(compiled())
    sha = compiled().procedure.sha256
    engine.open_case(compiled(), "ours", DATA, actor=SECRETARY, at=T0, unit=f"{town}/柳树村")
    engine.open_case(compiled(), "theirs", DATA, actor=SECRETARY, at=T0, unit=f"{other}/李庄村")
    to = _amended(http)

    outside = _migrate(http, "town-admin", cases=["ours", "theirs"], to=to, reason="r")
    dry = _migrate(http, "town-admin", cases=["theirs"], to=to, reason="r", dry_run=True)
    auditor = _migrate(http, "auditor", cases=["ours"], to=to, reason="r", dry_run=True)
    inside = _migrate(http, "town-admin", cases=["ours"], to=to, reason="r")

    assert [a.status_code for a in (outside, dry, auditor)] == [403, 403, 403]
    assert "outside" in outside.json()["detail"]
    assert engine.case("theirs", history=False).procedure["sha256"] == sha
    assert inside.status_code == 200 and inside.json()["cases"][0]["applied_seq"] == 2
