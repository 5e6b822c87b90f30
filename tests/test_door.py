"""Specification: the door of the engine API — who may open a case, who may act at all,
and the checks that come before any guard.

``Engine.open_case`` needs one of the procedure's ``opened_by`` roles (any of its
roles when it names none); ``Engine.fire`` and ``Engine.explain`` refuse, with
``Forbidden`` and nothing recorded, an actor who holds no role in the procedure.
Whoever passes the door is held to the recorded checks, in order: event here,
event's role, payload schema — all before any guard is evaluated, in fire and
explain alike. Opening checks the data against the data schema, undeclared
fields included, and the unit path.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from runtime_support import (
    DIRECTOR,
    FOUR_DATA,
    NOBODY,
    SECRETARY,
    T0,
    TOY_DATA,
    TOY_SOURCE,
    four,
    new_engine,
    open_four,
)

from engine.audit.record import record_problem
from engine.definition.describe import describe_procedure
from engine.definition.loader import check_source, load_source
from engine.errors import Forbidden
from engine.runtime.attempt import InvalidData
from engine.runtime.types import Actor
from engine.units import InvalidUnit

_BLOW = """  blow:
    label: 故障
    roles: [clerk]
    transitions:
      - from: open
        to: posted
        actions:
          - explode: {}
"""
# The toy procedure without its test-only action, so the default registry loads it.
PLAIN_SOURCE = TOY_SOURCE.replace(_BLOW, "")
GATED_SOURCE = PLAIN_SOURCE.replace(
    "roles:\n  clerk:\n    label: 文书\n",
    "roles:\n  clerk:\n    label: 文书\n  registrar:\n    label: 登记员\nopened_by: [registrar]\n",
)
CLERK = Actor(id="文书甲", roles=("clerk",))
REGISTRAR = Actor(id="登记员乙", roles=("registrar",))
AT = T0 + timedelta(days=3)


def gated() -> Any:
    """The toy procedure with ``opened_by: [registrar]``."""
    assert "opened_by" in GATED_SOURCE and "explode" not in GATED_SOURCE
    return load_source(GATED_SOURCE, "gated.yaml")


# -- who may open ------------------------------------------------------------------------------


def test_opened_by_limits_who_may_open_a_case() -> None:
    """opened_by: a role that may act on the case but not open it is Forbidden; nothing stored."""
    engine, _ = new_engine()

    with pytest.raises(Forbidden) as caught:
        engine.open_case(gated(), "t", TOY_DATA, actor=CLERK)
    opened = engine.open_case(gated(), "t2", TOY_DATA, actor=REGISTRAR)

    assert "may be opened by registrar (登记员)" in str(caught.value)
    assert engine.store.get_case("t") is None
    assert opened.applied and engine.store.case_ids() == ["t2"]


def test_without_opened_by_any_role_of_the_procedure_may_open() -> None:
    """No opened_by: every declared role may open; an actor with none of them may not."""
    engine, _ = new_engine()
    stranger = Actor(id="外人", roles=("registrar",))  # a role of another procedure

    engine.open_case(four(), "a", FOUR_DATA, actor=DIRECTOR, at=T0)
    with pytest.raises(Forbidden):
        engine.open_case(four(), "b", FOUR_DATA, actor=NOBODY, at=T0)
    with pytest.raises(Forbidden):
        engine.open_case(four(), "c", FOUR_DATA, actor=stranger, at=T0)

    assert engine.store.case_ids() == ["a"]


def test_a_refused_opener_cannot_squat_a_case_id() -> None:
    """Squatting: after a Forbidden open, the id is still free for an actor who may open it."""
    engine, _ = new_engine()
    with pytest.raises(Forbidden):
        engine.open_case(gated(), "2024-001", TOY_DATA, actor=NOBODY)

    opened = engine.open_case(gated(), "2024-001", TOY_DATA, actor=REGISTRAR)

    assert opened.seq == 1 and opened.record["actor"]["id"] == "登记员乙"


def test_opened_by_naming_an_undeclared_role_is_a_located_error() -> None:
    """validate: every opened_by role must be declared, reported at its line and column."""
    source = GATED_SOURCE.replace("opened_by: [registrar]", "opened_by: [registrer]")

    report = check_source(source, "gated.yaml")

    errors = [p for p in report.problems if p.severity == "error"]
    assert report.compiled is None and len(errors) == 1
    where = errors[0].location
    line = source.splitlines().index("opened_by: [registrer]") + 1
    assert (where.file, where.line, where.path) == ("gated.yaml", line, "opened_by[0]")
    assert "registrer" in errors[0].message and "registrar" in errors[0].message


def test_opened_by_must_name_at_least_one_role() -> None:
    """schema: an empty opened_by would let nobody open a case; it is refused."""
    report = check_source(GATED_SOURCE.replace("[registrar]", "[]"), "gated.yaml")

    assert report.compiled is None
    assert any("opened_by" in p.location.path for p in report.problems)


def test_describe_shows_who_may_open() -> None:
    """describe: opened_by in words, or every role when the procedure names none."""
    gated_description = describe_procedure(gated())
    open_description = describe_procedure(four())

    assert [r.id for r in gated_description.opened_by] == ["registrar"]
    assert [r.label for r in gated_description.opened_by] == ["登记员"]
    assert [r.id for r in open_description.opened_by] == list(four().procedure.roles)


# -- who may act at all ----------------------------------------------------------------------


def test_an_actor_with_no_role_in_the_procedure_writes_nothing() -> None:
    """The door: every event, valid or not, by a no-role actor raises Forbidden; seq unmoved."""
    engine, _ = new_engine()
    open_four(engine)
    before = engine.records("c1")
    huge = {"minutes": "字" * 100_000}

    for event in ("propose", "resolve", "no_such_event", "resolution_period_ended"):
        with pytest.raises(Forbidden):
            engine.fire("c1", event, actor=NOBODY, payload=huge, at=AT, idempotency_key="k")

    assert engine.records("c1") == before
    assert engine.case("c1").seq == 1


def test_an_actor_with_another_role_of_the_procedure_is_refused_and_recorded() -> None:
    """Past the door: a role of the procedure but not the event's is a recorded not-authorised."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire("c1", "propose", actor=DIRECTOR, payload={"present": 5, "yes": 5}, at=AT)

    assert (outcome.seq, outcome.reason and outcome.reason.code) == (2, "not-authorised")


def test_the_door_message_is_bounded() -> None:
    """Forbidden repeats at most 64 characters of an actor id, however long."""
    engine, _ = new_engine()
    open_four(engine)
    long_actor = Actor(id="长" * 10_000, roles=())

    with pytest.raises(Forbidden) as caught:
        engine.fire("c1", "propose", actor=long_actor, at=AT)

    assert len(str(caught.value)) < 200


def test_explain_by_an_actor_with_no_role_is_forbidden() -> None:
    """The door holds for explain too: no role in the procedure, no explanation."""
    engine, _ = new_engine()
    open_four(engine)

    with pytest.raises(Forbidden):
        engine.explain("c1", "propose", actor=NOBODY, payload={"present": 4, "yes": 3})


# -- checks before guards -----------------------------------------------------------------------


def test_explain_checks_the_payload_before_any_guard() -> None:
    """explain: an invalid payload is the answer, with its violations; no guard is evaluated."""
    engine, _ = new_engine()
    open_four(engine)

    explained = engine.explain("c1", "propose", actor=SECRETARY, payload={"present": "x"})

    assert explained.reason is not None and explained.reason.code == "invalid-payload"
    assert explained.transitions == () and explained.allowed is False


def test_explain_checks_the_event_before_any_guard() -> None:
    """explain: an event not allowed here is the answer; no guard is evaluated."""
    engine, _ = new_engine()
    open_four(engine)

    explained = engine.explain("c1", "resolve", actor=DIRECTOR, payload={"present": 40})

    assert explained.reason is not None and explained.reason.code == "not-allowed"
    assert explained.transitions == ()


def test_explain_for_an_authorised_actor_and_valid_payload_shows_the_guards() -> None:
    """explain: past the checks, every candidate transition's guards are shown."""
    engine, _ = new_engine()
    open_four(engine)

    explained = engine.explain("c1", "propose", actor=SECRETARY, payload={"present": 4, "yes": 3})

    assert explained.reason is None and explained.allowed is True
    assert explained.transitions and all(t.guards for t in explained.transitions)


@pytest.mark.parametrize(
    ("actor", "event", "payload", "code"),
    [
        (DIRECTOR, "resolve", {"present": "x"}, "not-allowed"),
        (DIRECTOR, "propose", {"present": "x"}, "not-authorised"),
        (SECRETARY, "propose", {"present": "x"}, "invalid-payload"),
    ],
)
def test_fire_records_no_guard_when_an_earlier_check_fails(
    actor: Actor, event: str, payload: dict[str, Any], code: str
) -> None:
    """fire: a refusal by event, role or payload evaluated no guard (its record has none)."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire("c1", event, actor=actor, payload=payload, at=AT)

    assert outcome.reason is not None and outcome.reason.code == code
    assert outcome.record["guards"] == []


# -- what opening checks -----------------------------------------------------------------------


def test_opening_refuses_fields_the_data_schema_does_not_declare() -> None:
    """Open: data fields the schema does not list are refused (nothing stored), capped at 20."""
    engine, _ = new_engine()
    extra = {**FOUR_DATA, **{f"x{n:03}": "字" * 10 for n in range(500)}}

    with pytest.raises(InvalidData) as caught:
        engine.open_case(four(), "c1", extra, actor=SECRETARY, at=T0)

    violations = caught.value.violations
    assert len(violations) == 21
    assert violations[0] == {
        "path": "x000",
        "message": "not a field of the procedure's data schema",
    }
    assert violations[-1]["message"] == "and 480 more undeclared fields"
    assert engine.store.case_ids() == []


def test_a_data_schema_that_allows_more_fields_is_honoured() -> None:
    """Open: a schema saying additionalProperties keeps its own word."""
    source = PLAIN_SOURCE.replace(
        "data:\n  type: object\n", "data:\n  type: object\n  additionalProperties: true\n"
    )
    compiled = load_source(source, "open.yaml")
    engine, _ = new_engine()

    opened = engine.open_case(compiled, "t", {**TOY_DATA, "extra": 1}, actor=CLERK)

    assert opened.applied


@pytest.mark.parametrize(
    "unit",
    [
        "/柳河县",
        "柳河县/",
        "柳河县//柳树村",
        " 柳河县",
        "柳河县\n",
        "县\x00",
        "a/" * 8 + "b",
        "字" * 201,
    ],
)
def test_opening_refuses_a_malformed_unit(unit: str) -> None:
    """Open: a unit path with an empty part, padding, control characters, >8 parts or >200
    characters is refused, and nothing is stored."""
    engine, _ = new_engine()

    with pytest.raises(InvalidUnit):
        engine.open_case(four(), "c1", FOUR_DATA, actor=SECRETARY, at=T0, unit=unit)

    assert engine.store.case_ids() == []


def test_a_unit_is_recorded_only_in_the_first_record() -> None:
    """The audit format: unit belongs to case.opened, non-empty; elsewhere it is refused."""
    engine, _ = new_engine()
    open_four(engine)
    opened = engine.open_case(four(), "u", FOUR_DATA, actor=SECRETARY, at=T0, unit="县/镇/村")
    later = dict(engine.records("c1")[0])
    applied = dict(engine.fire("u", "propose", actor=SECRETARY,
                               payload={"present": 4, "yes": 3}, at=AT).record)  # fmt: skip

    assert record_problem(opened.record, sealed=True) is None
    assert record_problem({**applied, "unit": "县"}, sealed=True) is not None
    assert record_problem({**later, "unit": ""}, sealed=True) is not None


def test_a_scenario_step_by_an_actor_with_no_role_is_a_mismatch_not_a_crash(
    tmp_path: Any,
) -> None:
    """Scenarios: a step whose actor is refused at the door is reported, and nothing recorded."""
    import json

    from runtime_support import FOUR_PATH, FROZEN_HAPPY_PATH

    from engine.definition.strict_yaml import parse_yaml
    from engine.runtime.scenario import load_scenario, run_scenario

    body = parse_yaml(FROZEN_HAPPY_PATH.read_text(encoding="utf-8"), "happy").value
    body["procedure"] = str(FOUR_PATH)
    body["actors"]["stranger"] = {"id": "路人", "roles": []}
    body["steps"][0]["actor"] = "stranger"
    path = tmp_path / "variant.yaml"
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")

    result = run_scenario(load_scenario(path))

    assert not result.ok
    first = result.steps[0]
    assert first.outcomes == ()
    assert first.mismatches[0].startswith(
        "step 1 (propose): refused at the door: 路人 holds no role"
    )
    assert all(r["actor"]["id"] != "路人" for r in result.records)
