"""Specification: an instant with no UTC form is a located 422 over HTTP, never a 500.

Records hold UTC, in years 1 to 9999, so ``9999-12-31T23:00:00-05:00`` (already year
10000 in UTC) and ``0001-01-01T01:00:00+05:00`` (still year 0) name no instant a record
or the store can hold. ``engine.runtime.clock.normalise`` says so with a ``ValueError``
naming the time (never an ``OverflowError`` from deep inside), and every HTTP input that
is a time answers it as a 422 problem located at the parameter. A time at the very edge
that does have a UTC form is accepted.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from server_support import (
    ADMIN_TOKEN,
    DATA,
    SECRETARY_TOKEN,
    auth,
    client,
    compiled,
    live_server,
    open_case,
    register,
    seed,
)
from toy_procedures import one_event

from engine import Actor, load_source
from engine.errors import TimeOutOfRange
from engine.runtime.clock import normalise
from engine.runtime.engine import Engine

NO_UTC_FORM = [
    "9999-12-31T23:00:00-05:00",
    "9999-12-31T23:59:59.999999-00:01",
    "0001-01-01T01:00:00+05:00",
]
EDGE = "9999-12-31T23:59:59+14:00"
"""The last second of year 9999 fourteen hours east of UTC: 9999-12-31T09:59:59Z, holdable."""


@pytest.mark.parametrize("text", NO_UTC_FORM)
def test_normalise_names_a_time_with_no_utc_form(text: str) -> None:
    """normalise raises ValueError naming the time and the years records hold."""
    with pytest.raises(ValueError, match="no UTC form") as caught:
        normalise(datetime.fromisoformat(text))
    assert text in str(caught.value)
    assert "years 1 to 9999" in str(caught.value)


def test_the_engine_refuses_such_an_event_time_and_records_nothing() -> None:
    """An embedding system's fire(at=…) with no UTC form is a ValueError; the case is unchanged."""
    engine = Engine()
    engine.open_case(compiled(), "c-1", DATA, actor={"id": "张书记", "roles": ["branch_secretary"]})
    with pytest.raises(ValueError, match="no UTC form"):
        engine.fire(
            "c-1", "propose", actor={"id": "张书记", "roles": ["branch_secretary"]},
            payload={"present": 4, "yes": 3}, at=datetime.fromisoformat(NO_UTC_FORM[0]),
        )  # fmt: skip
    assert engine.case("c-1").seq == 1


@pytest.mark.parametrize("text", NO_UTC_FORM)
@pytest.mark.parametrize("name", ["updated_since", "updated_before"])
def test_a_case_list_filter_with_no_utc_form_is_a_located_422(name: str, text: str) -> None:
    """GET /cases?updated_since=… (or updated_before) answers 422 invalid-request with a
    violation at query.<name>, not a 500."""
    http = client()
    seed(http)
    answer = http.get(f"/cases?{name}={quote(text)}", headers=auth(ADMIN_TOKEN))
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "invalid-request"
    (violation,) = problem["violations"]
    assert violation["path"] == f"query.{name}"
    assert "no UTC form" in violation["message"]
    assert problem["detail"].startswith(f"query.{name}: ")


def test_the_edge_time_with_a_utc_form_is_accepted() -> None:
    """The last second of year 9999 at +14:00 has a UTC form: the filter is applied (200)."""
    http = client()
    sha = seed(http)
    assert open_case(http, sha, "c-1").status_code == 201
    since = http.get(f"/cases?updated_since={quote(EDGE)}", headers=auth(ADMIN_TOKEN))
    before = http.get(f"/cases?updated_before={quote(EDGE)}", headers=auth(ADMIN_TOKEN))
    assert (since.status_code, before.status_code) == (200, 200)
    assert since.json()["cases"] == []
    assert [c["id"] for c in before.json()["cases"]] == ["c-1"]


@pytest.mark.parametrize("text", NO_UTC_FORM)
def test_replay_as_of_such_a_time_is_no_500(text: str) -> None:
    """as_of is compared with each record's instant, never converted: a time past every
    record shows the case at its head, one before them shows nothing yet."""
    http = client()
    sha = seed(http)
    assert open_case(http, sha, "c-1").status_code == 201
    answer = http.get(f"/cases/c-1/replay?as_of={quote(text)}", headers=auth(SECRETARY_TOKEN))
    assert answer.status_code == 200, answer.text
    at = answer.json()["case_at"]
    assert (at and at["seq"]) == (1 if text.startswith("9999") else None)


def test_a_running_server_answers_the_located_422(tmp_path: Path) -> None:
    """Over real sockets (uvicorn), the year-9999 filter is the same located 422."""
    with live_server(tmp_path) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        register(http)
        answer = http.get(
            f"/cases?updated_since={quote(NO_UTC_FORM[0])}", headers=auth(ADMIN_TOKEN)
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["violations"][0]["path"] == "query.updated_since"
    assert "Traceback" not in server.log


LATE_NOW = one_event(
    "late-now",
    "最后一刻",
    """\
  close:
    label: 办结
    roles: [clerk]
    transitions:
      - from: open
        to: done
        guards:
          - cel: GUARD
            explain: 检查
""",
    time_zone="Asia/Shanghai",
)


@pytest.mark.parametrize("guard", ["1 == 1", "now.getFullYear() > 2000"])
def test_an_instant_the_procedures_wall_clock_cannot_show_records_nothing(guard: str) -> None:
    """Rule: 9999-12-31T16:00Z has a UTC form, but on the +08:00 wall clock the procedure
    keeps time by it is already year 10000: ``now``, working days and every local time a
    page shows would have no value. Opening or firing then is refused (TimeOutOfRange, a
    ValueError; HTTP 422) before anything is recorded, whether or not a guard reads
    ``now``; never an OverflowError out of the engine (a 500 over HTTP)."""
    procedure = load_source(LATE_NOW.replace("GUARD", repr(guard)), "<late-now>")
    clerk = Actor(id="文书甲", roles=("clerk",))
    late = datetime.fromisoformat("9999-12-31T16:00:00+00:00")
    engine = Engine()
    with pytest.raises(TimeOutOfRange) as refused_open:
        engine.open_case(procedure, "c-0", {}, actor=clerk, at=late)
    engine.open_case(procedure, "c-1", {}, actor=clerk, at=datetime.fromisoformat(EDGE))
    with pytest.raises(TimeOutOfRange) as refused_fire:
        engine.fire("c-1", "close", actor=clerk, at=late)

    assert "9999-12-31T16:00:00Z is outside years 1 to 9999 on the Asia/Shanghai" in str(
        refused_fire.value
    )
    assert isinstance(refused_open.value, ValueError)
    assert (TimeOutOfRange.http_status, TimeOutOfRange.problem_code) == (422, "time-out-of-range")
    assert [c.id for c in engine.list_cases().cases] == ["c-1"]
    assert engine.case("c-1").seq == 1
