"""Specification: an outcome has one JSON form, and every interface gives it.

``Outcome.to_json()`` is what ``yishi case open|fire --json`` prints and what the
HTTP API answers (the body of 200/201, and ``outcome`` inside the 422 problem of a
refusal). The same attempt — same procedure, data, actor and time — made once
through the command line and once over HTTP writes the same record, so the two
answers must be equal, field for field, hash included.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from cli_support import invoke
from fastapi.testclient import TestClient
from server_support import (
    DATA,
    PROCEDURE_PATH,
    SECRETARY_TOKEN,
    auth,
    compiled,
    seed,
    token_table,
)

from engine.runtime.clock import FixedClock
from engine.runtime.engine import Engine
from engine.server import create_app

AT = "2026-03-02T09:30:00+08:00"
SECRETARY_ID = "张书记"  # the actor SECRETARY_TOKEN names, with role branch_secretary
APPLIES = {"present": 4, "yes": 3}
REFUSED = {"present": 4, "yes": 5}  # more yes than present: every guard check fails
KEYS = {"case", "seq", "status", "event", "from", "to", "reason", "guards", "replayed", "hash"}


def _http_answers() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Open c-1 and c-2 over HTTP at AT, fire the applied and the refused propose."""
    engine = Engine(clock=FixedClock(datetime.fromisoformat(AT)))
    http = TestClient(create_app(engine, token_table()), raise_server_exceptions=False)
    sha = seed(http)
    answers = []
    for case_id, payload in (("c-1", APPLIES), ("c-2", REFUSED)):
        opened = http.post(
            "/cases",
            json={"id": case_id, "procedure": sha, "data": DATA},
            headers=auth(SECRETARY_TOKEN),
        )
        assert opened.status_code == 201, opened.text
        fired = http.post(
            f"/cases/{case_id}/events",
            json={"event": "propose", "payload": payload},
            headers=auth(SECRETARY_TOKEN),
        )
        answers += [opened.json(), fired.json()]
    assert answers[3]["status"] == 422 and answers[3]["code"] == "guards-failed"
    return answers[0], answers[1], answers[2], answers[3]["outcome"]


def _cli_answers(tmp_path: Path) -> list[dict[str, Any]]:
    """The same four attempts through ``yishi case … --json`` on a SQLite store."""
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    data = tmp_path / "data.json"
    data.write_text(json.dumps(DATA, ensure_ascii=False), encoding="utf-8")
    who = ("--actor", SECRETARY_ID, "--role", "branch_secretary", "--at", AT, "--db", db)
    answers = []
    for case_id, payload in (("c-1", APPLIES), ("c-2", REFUSED)):
        opened = invoke("case", "open", PROCEDURE_PATH, case_id, "--data", f"@{data}", *who,
                        "--json")  # fmt: skip
        assert opened.code == 0, opened.stderr
        fired = invoke("case", "fire", case_id, "propose", "--payload", json.dumps(payload),
                       *who, "--json")  # fmt: skip
        assert fired.code == (0 if payload is APPLIES else 2), fired.stderr
        answers += [json.loads(opened.stdout), json.loads(fired.stdout)]
    return answers


def test_cli_and_http_give_the_same_outcome_json(tmp_path: Path) -> None:
    """Opening, an applied event and a refused one: the CLI's --json equals the HTTP answer
    (a refusal's 422 problem carries it as ``outcome``), guards and hash included."""
    compiled()  # warm the shared compile cache outside the comparison
    http = list(_http_answers())
    cli = _cli_answers(tmp_path)

    assert cli == http
    assert [set(answer) for answer in cli] == [KEYS] * 4
    applied, refused = cli[1], cli[3]
    assert applied["status"] == "applied" and applied["guards"]
    assert refused["status"] == "refused" and refused["reason"]["code"] == "guards-failed"
    assert refused["guards"] and refused["guards"][0]["result"] is False


def test_to_json_is_plain_json_and_names_every_field() -> None:
    """``Outcome.to_json()`` survives a JSON round trip unchanged and has exactly the
    documented keys, for the Python API as for the other interfaces."""
    engine = Engine(clock=FixedClock(datetime.fromisoformat(AT)))
    opened = engine.open_case(compiled(), "c-1", DATA, actor={"id": SECRETARY_ID,
                              "roles": ["branch_secretary"]})  # fmt: skip
    refused = engine.fire(
        "c-1", "propose", actor={"id": SECRETARY_ID, "roles": ["branch_secretary"]},
        payload=REFUSED,
    )  # fmt: skip

    for outcome in (opened, refused):
        form = outcome.to_json()
        assert set(form) == KEYS
        assert json.loads(json.dumps(form, ensure_ascii=False)) == form
    assert opened.to_json()["event"] is None and opened.to_json()["from"] is None
    assert refused.to_json()["hash"] == refused.record["hash"]
