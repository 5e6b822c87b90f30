"""engine.runtime.engine: the processing order, refusals with reasons, records, determinism.

Each test names the rule from DESIGN.md ("Running a case", "The audit log") it checks.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
from datetime import timedelta
from typing import Any

import pytest
from runtime_support import (
    CLERK,
    COMMITTEE,
    DIRECTOR,
    FOUR_DATA,
    FOUR_PATH,
    NOBODY,
    SECRETARY,
    T0,
    TOY_DATA,
    as_lines,
    four,
    jcs_hash,
    new_engine,
    open_four,
    toy,
)

from engine.audit.chain import GENESIS
from engine.errors import CaseExists, Conflict, EngineError, Forbidden, UnknownCase
from engine.runtime.attempt import InvalidData
from engine.runtime.engine import Engine, IdempotencyMismatch
from engine.runtime.types import SYSTEM, Actor

AT = T0 + timedelta(days=3)


def _state(engine: Engine, case_id: str = "c1") -> tuple[str, dict[str, Any], int]:
    view = engine.case(case_id, history=False)
    return view.state, dict(view.data), view.seq


# -- 1. the event exists and is valid in the current state --------------------------------------


def test_unknown_event_is_not_allowed_and_suggests_the_closest_name() -> None:
    """Step 1: an unknown event is refused as not-allowed, with a "did you mean"."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire("c1", "propse", actor=SECRETARY, payload={}, at=AT)

    assert outcome.status == "refused"
    assert outcome.reason is not None
    assert outcome.reason.code == "not-allowed"
    assert outcome.reason.message == "unknown event 'propse'; did you mean 'propose'?"


def test_event_not_valid_in_this_state_is_not_allowed_and_lists_what_is() -> None:
    """Step 1: a known event with no transition from the current state is refused as not-allowed."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire(
        "c1", "review", actor=SECRETARY, payload={"present": 30, "yes": 21}, at=AT
    )

    assert outcome.reason is not None
    assert outcome.reason.code == "not-allowed"
    assert outcome.reason.message == (
        "review (党员大会审议) is not allowed in state drafting (拟议); allowed here: propose"
    )


def test_event_in_a_final_state_is_not_allowed_and_says_the_case_is_finished() -> None:
    """Step 1: in a final state nothing is allowed, and the message says so."""
    engine, _ = new_engine()
    open_four(engine, state="deliberated")
    rejected = engine.fire(
        "c1", "review", actor=SECRETARY, payload={"present": 30, "yes": 3}, at=AT
    )
    assert rejected.to_state == "rejected"

    outcome = engine.fire("c1", "propose", actor=SECRETARY, payload={"present": 5, "yes": 5}, at=AT)

    assert outcome.reason is not None
    assert outcome.reason.code == "not-allowed"
    assert outcome.reason.message == (
        "propose (党支部提议) is not allowed in state rejected (未通过); "
        "allowed here: nothing (the case is finished)"
    )


def test_not_allowed_is_checked_before_the_role() -> None:
    """Order: an event not valid here is not-allowed even when the actor also lacks the role."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire("c1", "resolve", actor=DIRECTOR, payload={"present": "x"}, at=AT)

    assert outcome.reason is not None
    assert outcome.reason.code == "not-allowed"


# -- 2. the actor holds a role allowed to fire it ----------------------------------------------


def test_missing_role_is_not_authorised_and_names_the_roles() -> None:
    """Step 2: an actor without any of the event's roles is refused, naming who may fire it."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire("c1", "propose", actor=DIRECTOR, payload={"present": 5, "yes": 5}, at=AT)

    assert outcome.reason is not None
    assert outcome.reason.code == "not-authorised"
    assert outcome.reason.message == (
        "李主任 holds village_director; propose (党支部提议) may be fired by: "
        "branch_secretary (村党支部书记)"
    )


def test_actor_without_roles_is_refused_at_the_door_unrecorded() -> None:
    """The door: an actor holding no role of the procedure raises Forbidden; nothing is recorded.

    (Before the second stage this was a recorded not-authorised refusal: such an
    actor could then grow any case's chain with whatever payload they sent.)
    """
    engine, _ = new_engine()
    open_four(engine)
    before = engine.records("c1")

    with pytest.raises(Forbidden) as caught:
        engine.fire("c1", "propose", actor=NOBODY, payload={"present": 5, "yes": 5}, at=AT)

    assert "路人 holds no role of four-deliberations" in str(caught.value)
    assert "not recorded" in str(caught.value)
    assert engine.records("c1") == before


def test_a_timer_event_fired_by_a_person_is_not_authorised() -> None:
    """Step 2: an event with no roles (a timer's) cannot be fired by anyone."""
    engine, _ = new_engine()
    open_four(engine, state="resolution_disclosed")

    outcome = engine.fire("c1", "resolution_period_ended", actor=COMMITTEE, at=AT)

    assert outcome.reason is not None
    assert outcome.reason.code == "not-authorised"
    assert outcome.reason.message.endswith("may be fired by: no role")


def test_role_is_checked_before_the_payload() -> None:
    """Order: an unauthorised actor with a bad payload is refused as not-authorised."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire("c1", "propose", actor=DIRECTOR, payload={"present": "x"}, at=AT)

    assert outcome.reason is not None
    assert outcome.reason.code == "not-authorised"


def test_actor_may_be_given_as_a_mapping() -> None:
    """API: ``actor`` may be a mapping {id, roles}; it is recorded the same way."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire(
        "c1",
        "propose",
        actor={"id": "张书记", "roles": ["branch_secretary"]},
        payload={"present": 4, "yes": 3},
        at=AT,
    )

    assert outcome.applied
    assert outcome.record["actor"] == {"id": "张书记", "roles": ["branch_secretary"]}


# -- 3. the payload matches the event's schema -------------------------------------------------


def test_invalid_payload_lists_every_violation_with_its_path() -> None:
    """Step 3: every payload violation is reported with its path, sorted by path."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire(
        "c1", "propose", actor=SECRETARY, payload={"present": "x", "yes": -1, "extra": 1}, at=AT
    )

    assert outcome.reason is not None
    assert outcome.reason.code == "invalid-payload"
    assert list(outcome.reason.details) == [
        {
            "path": "(root)",
            "message": "Additional properties are not allowed ('extra' was unexpected)",
        },
        {"path": "present", "message": "'x' is not of type 'integer'"},
        {"path": "yes", "message": "-1 is less than the minimum of 0"},
    ]
    assert outcome.reason.message == (
        "the payload of propose does not match its schema: "
        "(root): Additional properties are not allowed ('extra' was unexpected); "
        "present: 'x' is not of type 'integer'; yes: -1 is less than the minimum of 0"
    )


def test_missing_payload_fields_are_each_reported() -> None:
    """Step 3: each missing required field is its own violation."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire("c1", "propose", actor=SECRETARY, at=AT)

    assert outcome.reason is not None
    assert outcome.reason.code == "invalid-payload"
    assert [d["message"] for d in outcome.reason.details] == [
        "'present' is a required property",
        "'yes' is a required property",
    ]


def test_an_invalid_payload_evaluates_no_guards() -> None:
    """Order: a payload refused at step 3 never reaches the guards (none recorded)."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire("c1", "propose", actor=SECRETARY, payload={"present": "x"}, at=AT)

    assert outcome.guards == ()
    assert outcome.record["guards"] == []


# -- 4./5. guards in file order; the first passing transition runs -----------------------------


def test_guards_failed_lists_each_failing_guard_explanation() -> None:
    """Step 4: when no transition's guards all hold, each failing guard's explanation is given."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire("c1", "propose", actor=SECRETARY, payload={"present": 3, "yes": 4}, at=AT)

    assert outcome.reason is not None
    assert outcome.reason.code == "guards-failed"
    assert list(outcome.reason.details) == [
        "赞成票不超过到会人数: does not hold",
        "支委会到会不足: 3 present of 5 expected < 1/2 (2.5): not met",
        "赞成票不超过到会人数: does not hold",
    ]
    assert outcome.reason.message == "no transition of propose could run: " + "; ".join(
        outcome.reason.details
    )


def test_every_guard_of_a_tried_transition_is_recorded_with_inputs_and_result() -> None:
    """Step 4: every guard of every tried transition is recorded (inputs, result, explanation)."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire("c1", "propose", actor=SECRETARY, payload={"present": 2, "yes": 2}, at=AT)

    quorum = outcome.record["guards"][1]
    assert quorum == {
        "transition": 0,
        "kind": "quorum",
        "label": "支委会到会",
        "inputs": {
            "count": 2,
            "base": 5,
            "operator": "at_least",
            "fraction": "1/2",
            "bound": "5/2",
        },
        "result": False,
        "explanation": "支委会到会: 2 present of 5 expected ≥ 1/2 (2.5): not met",
    }
    assert [(g["transition"], g["result"]) for g in outcome.record["guards"]] == [
        (0, True),
        (0, False),
        (0, False),
        (1, True),
    ]


def test_first_passing_transition_in_file_order_wins() -> None:
    """Step 5: 2 of 5 present satisfies "reconvene" (2nd) and "not adopted" (3rd); the 2nd runs."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire("c1", "propose", actor=SECRETARY, payload={"present": 2, "yes": 2}, at=AT)

    assert outcome.applied
    assert outcome.to_state == "drafting"
    assert {g["transition"] for g in outcome.guards} == {0, 1}  # the 3rd was never tried
    assert [a["name"] for a in outcome.record["actions"]] == ["increment"]
    _, data, _ = _state(engine)
    assert data["reconvened"] == 1
    assert "decisions" not in data


def test_applied_event_changes_state_and_records_action_outputs() -> None:
    """Step 5: the chosen transition's actions run and their outputs are recorded."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire("c1", "propose", actor=SECRETARY, payload={"present": 4, "yes": 3}, at=AT)

    assert (outcome.status, outcome.from_state, outcome.to_state) == (
        "applied",
        "drafting",
        "proposed",
    )
    assert outcome.record["kind"] == "event.applied"
    assert "reason" not in outcome.record
    decision = {"step": "propose", "present": 4, "yes": 3, "adopted": True}
    assert outcome.record["actions"] == [
        {
            "name": "append",
            "params": {
                "path": "data.decisions",
                "expr": '{"step": "propose", "present": payload.present, "yes": payload.yes, '
                '"adopted": true}',
            },
            "output": {"path": "data.decisions", "value": decision, "length": 1},
        }
    ]
    assert _state(engine) == ("proposed", {**FOUR_DATA, "decisions": [decision]}, 2)


# -- 6. refusals are recorded and change nothing else ------------------------------------------


@pytest.mark.parametrize(
    ("event", "actor", "payload"),
    [
        ("propse", SECRETARY, {}),
        ("review", SECRETARY, {"present": 30, "yes": 21}),
        ("propose", DIRECTOR, {"present": 5, "yes": 5}),
        ("propose", SECRETARY, {"present": "x", "yes": 1}),
        ("propose", SECRETARY, {"present": 3, "yes": 4}),
    ],
    ids=["not-allowed-unknown", "not-allowed-state", "not-authorised", "invalid-payload", "guards"],
)
def test_refusal_is_recorded_as_event_refused_and_changes_nothing_else(
    event: str, actor: Actor, payload: dict[str, Any]
) -> None:
    """Step 6: a refusal appends one event.refused record; state, data and deadline stay."""
    engine, _ = new_engine()
    open_four(engine)
    before = engine.case("c1")

    outcome = engine.fire("c1", event, actor=actor, payload=payload, at=AT)

    after = engine.case("c1")
    record = after.history[-1]
    assert record["kind"] == "event.refused"
    assert record["reason"]["code"] == outcome.reason.code if outcome.reason else False
    assert (record["from"], record["to"]) == ("drafting", "drafting")
    assert record["actions"] == []
    assert record["payload"] == payload
    assert (after.state, after.data, after.deadline) == (before.state, before.data, before.deadline)
    assert after.seq == before.seq + 1
    assert after.history[:-1] == before.history


# -- actions run on a copy ---------------------------------------------------------------------


def test_action_failure_refuses_the_attempt_and_leaves_data_unchanged() -> None:
    """Actions run on a copy: an action that changes the data and then fails changes nothing."""
    engine, _ = new_engine()
    engine.open_case(toy(), "t", TOY_DATA, actor=CLERK, at=T0)

    outcome = engine.fire("t", "blow", actor=CLERK, at=AT)

    assert outcome.reason is not None
    assert outcome.reason.code == "action-failed"
    assert outcome.reason.message == "action explode failed: the fuse blew"
    assert outcome.record["actions"] == []
    assert _state(engine, "t") == ("open", TOY_DATA, 2)


def test_a_cel_error_in_a_later_action_undoes_the_earlier_ones() -> None:
    """Actions run on a copy: the append before a failing division is not kept."""
    engine, _ = new_engine()
    engine.open_case(toy(), "t", TOY_DATA, actor=CLERK, at=T0)

    outcome = engine.fire("t", "divide", actor=CLERK, payload={"n": 0}, at=AT)

    assert outcome.reason is not None
    assert outcome.reason.code == "action-failed"
    assert outcome.reason.message.startswith("action set failed: division by zero")
    assert _state(engine, "t") == ("open", TOY_DATA, 2)


def test_actions_leaving_the_data_invalid_are_refused_with_each_path() -> None:
    """Actions run on a copy: data that would break the data schema is refused, with paths."""
    engine, _ = new_engine()
    engine.open_case(toy(), "t", TOY_DATA, actor=CLERK, at=T0)

    outcome = engine.fire("t", "note", actor=CLERK, payload={"text": "甲", "n": -1}, at=AT)

    assert outcome.reason is not None
    assert outcome.reason.code == "action-failed"
    assert list(outcome.reason.details) == [
        {"path": "count", "message": "-1 is less than the minimum of 0"}
    ]
    assert _state(engine, "t") == ("open", TOY_DATA, 2)


def test_actions_never_mutate_the_previous_snapshot_or_the_records() -> None:
    """Actions run on a copy: data held by earlier records and views is never changed later."""
    engine, _ = new_engine()
    engine.open_case(toy(), "t", TOY_DATA, actor=CLERK, at=T0)
    first = engine.fire("t", "note", actor=CLERK, payload={"text": "甲", "n": 1}, at=AT)
    view = engine.case("t")
    kept = copy.deepcopy(view)

    engine.fire("t", "note", actor=CLERK, payload={"text": "乙", "n": 2}, at=AT)

    assert view == kept
    assert first.record["actions"][0]["output"]["length"] == 1
    assert engine.case("t").data["notes"] == ["甲", "乙"]


# -- expected_seq and idempotency --------------------------------------------------------------


def test_expected_seq_mismatch_raises_conflict_and_records_nothing() -> None:
    """Concurrency: a stale expected_seq raises Conflict and appends nothing."""
    engine, _ = new_engine()
    open_four(engine)

    with pytest.raises(Conflict) as caught:
        engine.fire(
            "c1",
            "propose",
            actor=SECRETARY,
            payload={"present": 4, "yes": 3},
            at=AT,
            expected_seq=5,
        )

    assert str(caught.value) == "case 'c1' is at seq 1, not 5: read it again and retry"
    assert _state(engine) == ("drafting", FOUR_DATA, 1)
    assert len(engine.records("c1")) == 1


def test_matching_expected_seq_applies() -> None:
    """Concurrency: the current seq as expected_seq lets the attempt through."""
    engine, _ = new_engine()
    open_four(engine)

    outcome = engine.fire(
        "c1", "propose", actor=SECRETARY, payload={"present": 4, "yes": 3}, at=AT, expected_seq=1
    )

    assert outcome.applied
    assert outcome.seq == 2


def test_same_idempotency_key_and_request_returns_the_first_outcome_and_appends_nothing() -> None:
    """Idempotency: a retry with the same key and request gets the first outcome, replayed=True."""
    engine, _ = new_engine()
    open_four(engine)
    payload = {"present": 4, "yes": 3}
    first = engine.fire(
        "c1", "propose", actor=SECRETARY, payload=payload, at=AT, idempotency_key="k1"
    )

    again = engine.fire(
        "c1",
        "propose",
        actor=SECRETARY,
        payload=payload,
        at=AT + timedelta(hours=1),
        idempotency_key="k1",
    )

    assert first.replayed is False
    assert again.replayed is True
    assert (again.seq, again.status, again.to_state, again.record) == (
        first.seq,
        first.status,
        first.to_state,
        first.record,
    )
    assert again.record["idempotency_key"] == "k1"
    assert len(engine.records("c1")) == 2


def test_idempotent_retry_of_a_refusal_returns_the_refusal() -> None:
    """Idempotency: a refused attempt's key also answers its retry, without a new record."""
    engine, _ = new_engine()
    open_four(engine)
    first = engine.fire("c1", "propose", actor=DIRECTOR, payload={}, at=AT, idempotency_key="k")

    again = engine.fire("c1", "propose", actor=DIRECTOR, payload={}, at=AT, idempotency_key="k")

    assert again.replayed
    assert again.reason == first.reason
    assert len(engine.records("c1")) == 2


def test_same_idempotency_key_for_a_different_request_is_a_mismatch() -> None:
    """Idempotency: a key reused for another payload raises IdempotencyMismatch, adds nothing."""
    engine, _ = new_engine()
    open_four(engine)
    engine.fire(
        "c1",
        "propose",
        actor=SECRETARY,
        payload={"present": 4, "yes": 3},
        at=AT,
        idempotency_key="k1",
    )

    with pytest.raises(IdempotencyMismatch) as caught:
        engine.fire(
            "c1",
            "propose",
            actor=SECRETARY,
            payload={"present": 4, "yes": 4},
            at=AT,
            idempotency_key="k1",
        )

    assert "idempotency key 'k1' was first used on case 'c1'" in str(caught.value)
    assert "(seq 2)" in str(caught.value)
    assert len(engine.records("c1")) == 2


def test_idempotency_keys_are_scoped_per_actor() -> None:
    """Idempotency: the same key from another actor is that actor's own, a new request.

    (Before the second stage the second actor was refused with a mismatch, so one
    actor could squat another's keys.)
    """
    engine, _ = new_engine()
    open_four(engine)
    first = engine.fire("c1", "propose", actor=SECRETARY, payload={}, at=AT, idempotency_key="k")

    other = engine.fire("c1", "propose", actor=DIRECTOR, payload={}, at=AT, idempotency_key="k")
    again = engine.fire("c1", "propose", actor=SECRETARY, payload={}, at=AT, idempotency_key="k")

    assert (other.seq, other.replayed) == (first.seq + 1, False)
    assert (again.seq, again.replayed) == (first.seq, True)


def test_idempotency_keys_are_per_case() -> None:
    """Idempotency: the same key on another case is a new request."""
    engine, _ = new_engine()
    open_four(engine, "a")
    open_four(engine, "b")
    engine.fire(
        "a",
        "propose",
        actor=SECRETARY,
        payload={"present": 4, "yes": 3},
        at=AT,
        idempotency_key="k",
    )

    other = engine.fire(
        "b",
        "propose",
        actor=SECRETARY,
        payload={"present": 4, "yes": 3},
        at=AT,
        idempotency_key="k",
    )

    assert not other.replayed
    assert len(engine.records("b")) == 2


# -- explain -----------------------------------------------------------------------------------


def test_explain_lists_each_candidate_transition_with_its_guards_and_changes_nothing() -> None:
    """explain: every candidate transition in file order, its guards, whether ready; no record."""
    engine, _ = new_engine()
    open_four(engine)
    before = engine.case("c1")

    explained = engine.explain("c1", "propose", actor=SECRETARY, payload={"present": 2, "yes": 2})

    assert engine.case("c1") == before
    assert explained.allowed is True
    assert explained.reason is None
    assert [(t.index, t.target, t.ready) for t in explained.transitions] == [
        (0, "proposed", False),
        (1, "drafting", True),
        (2, "drafting", True),
    ]
    assert [g["explanation"] for g in explained.transitions[0].guards] == [
        "赞成票不超过到会人数: holds",
        "支委会到会: 2 present of 5 expected ≥ 1/2 (2.5): not met",
        "支委会同意: 2 of 5 支委会成员 > 1/2 (2.5): not met",
    ]
    assert explained.transitions[0].label == "支委会半数以上到会，过半数同意"


def test_explain_of_an_event_not_allowed_here_gives_the_reason_and_no_transitions() -> None:
    """explain: an event not valid in the state says not-allowed and lists nothing."""
    engine, _ = new_engine()
    open_four(engine)

    explained = engine.explain("c1", "resolve")

    assert explained.allowed is False
    assert explained.reason is not None
    assert explained.reason.code == "not-allowed"
    assert explained.transitions == ()
    assert len(engine.records("c1")) == 1


def test_explain_for_an_unauthorised_actor_evaluates_no_guard() -> None:
    """explain: the role is checked before any guard; not-authorised, and no guard ran.

    (Before the second stage explain evaluated every guard first, so anyone could
    spend the server's CPU on guards of events they may not fire.)
    """
    engine, _ = new_engine()
    open_four(engine)

    explained = engine.explain("c1", "propose", actor=DIRECTOR, payload={"present": 4, "yes": 3})

    assert explained.allowed is False
    assert explained.reason is not None
    assert explained.reason.code == "not-authorised"
    assert explained.transitions == ()


def test_explain_without_a_payload_says_which_inputs_are_missing() -> None:
    """explain: with no payload yet, guards reading it cannot be evaluated and say so."""
    engine, _ = new_engine()
    open_four(engine)

    explained = engine.explain("c1", "propose")

    assert explained.allowed is False
    first = explained.transitions[0].guards[0]
    assert first["result"] is False
    assert "cannot be evaluated" in first["explanation"]


# -- open_case ---------------------------------------------------------------------------------


def test_open_case_with_invalid_data_raises_invalid_data_with_each_path() -> None:
    """open_case: data not matching the data schema raises InvalidData listing each violation."""
    engine, _ = new_engine()
    bad = {**FOUR_DATA, "branch_committee_members": 0, "representatives": "五十七"}
    del bad["matter"]

    with pytest.raises(InvalidData) as caught:
        engine.open_case(four(), "c1", bad, actor=SECRETARY, at=T0)

    assert caught.value.violations == [
        {"path": "(root)", "message": "'matter' is a required property"},
        {"path": "branch_committee_members", "message": "0 is less than the minimum of 1"},
        {"path": "representatives", "message": "'五十七' is not of type 'integer'"},
    ]
    assert "the case data does not match the procedure's data schema" in str(caught.value)
    with pytest.raises(UnknownCase):
        engine.case("c1")


def test_open_case_twice_raises_case_exists() -> None:
    """open_case: a case id can be opened once."""
    engine, _ = new_engine()
    open_four(engine)

    with pytest.raises(CaseExists) as caught:
        engine.open_case(four(), "c1", FOUR_DATA, actor=SECRETARY, at=T0)

    assert str(caught.value) == "case 'c1' is already open"
    assert len(engine.records("c1")) == 1


def test_open_case_copies_the_data_it_is_given() -> None:
    """open_case: changing the caller's dict afterwards does not change the case or its record."""
    engine, _ = new_engine()
    data = copy.deepcopy(FOUR_DATA)
    engine.open_case(four(), "c1", data, actor=SECRETARY, at=T0)

    data["matter"] = "改了"

    assert engine.case("c1").data["matter"] == FOUR_DATA["matter"]
    assert engine.records("c1")[0]["data"]["matter"] == FOUR_DATA["matter"]


def test_unknown_case_raises() -> None:
    """fire on a case that does not exist raises UnknownCase."""
    engine, _ = new_engine()

    with pytest.raises(UnknownCase) as caught:
        engine.fire("nope", "propose", actor=SECRETARY)

    assert str(caught.value) == "no case 'nope'"
    assert isinstance(caught.value, EngineError)


# -- the audit records ---------------------------------------------------------------------------


def test_case_opened_record_names_the_procedure_and_holds_data_and_rule_set() -> None:
    """Audit: case.opened names id, version, source sha256; holds the initial data and rule_set."""
    engine, _ = new_engine()
    open_four(engine)

    opened = engine.records("c1")[0]

    assert opened["kind"] == "case.opened"
    assert opened["procedure"] == {
        "id": "four-deliberations-two-disclosures",
        "version": "1.0.0",
        "sha256": hashlib.sha256(FOUR_PATH.read_bytes()).hexdigest(),
    }
    assert opened["data"] == FOUR_DATA
    assert opened["rule_set"] == {
        "name": "four-deliberations-two-disclosures",
        "choices": {
            "quorum_operator": "at_least",
            "majority_base": "expected",
            "disclosure": {"period": "P7D", "days": "calendar"},
        },
    }
    assert (opened["seq"], opened["event"], opened["from"], opened["to"]) == (
        1,
        None,
        None,
        "drafting",
    )
    assert opened["at"] == "2024-03-01T01:00:00Z"  # entered as 09:00+08:00, recorded in UTC
    assert opened["actor"] == {"id": "张书记", "roles": ["branch_secretary"]}


def _mixed_history(engine: Engine) -> list[dict[str, Any]]:
    open_four(engine, state="proposed")
    engine.fire("c1", "review", actor=SECRETARY, payload={"present": 1, "yes": 1}, at=AT)
    engine.fire("c1", "deliberate", actor=DIRECTOR, payload={}, at=AT)
    engine.fire(
        "c1",
        "deliberate",
        actor=SECRETARY,
        payload={"present": 9, "yes": 8},
        at=AT,
        idempotency_key="次",
    )
    return engine.records("c1")


def test_records_form_a_hash_chain_from_64_zeros() -> None:
    """Audit: seq 1, 2, …; seq 1's prev is 64 zeros; each prev is the previous record's hash."""
    engine, _ = new_engine()

    records = _mixed_history(engine)

    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert records[0]["prev"] == "0" * 64 == GENESIS
    for earlier, later in itertools.pairwise(records):
        assert later["prev"] == earlier["hash"]
    assert engine.case("c1").head == records[-1]["hash"]


def test_record_hash_is_sha256_of_rfc8785_canonical_json_without_hash() -> None:
    """Audit: hash = sha256 of the RFC 8785 canonical JSON of the record without ``hash``."""
    engine, _ = new_engine()

    records = _mixed_history(engine)

    for record in records:
        assert record["hash"] == jcs_hash(record), record["seq"]


def test_records_carry_the_format_fields() -> None:
    """Audit: every record has v, case, seq, at, kind, actor, event, payload, from, to, guards,
    actions, procedure, prev and hash; refusals carry their reason."""
    engine, _ = new_engine()
    required = {
        "v",
        "case",
        "seq",
        "at",
        "kind",
        "actor",
        "event",
        "payload",
        "from",
        "to",
        "guards",
        "actions",
        "procedure",
        "prev",
        "hash",
    }

    records = _mixed_history(engine)

    for record in records:
        assert required <= set(record), record["seq"]
        assert record["v"] == 1
        assert ("reason" in record) == (record["kind"] == "event.refused")
    assert records[-1]["idempotency_key"] == "次"


def test_at_omitted_takes_the_clock_time_and_records_it() -> None:
    """Determinism: without ``at`` the injected clock supplies the time, which is recorded."""
    engine, clock = new_engine()
    open_four(engine)
    clock.advance(timedelta(days=2, hours=10))

    outcome = engine.fire("c1", "propose", actor=SECRETARY, payload={"present": 4, "yes": 3})

    assert outcome.record["at"] == "2024-03-03T11:00:00Z"  # the clock said 19:00+08:00


def test_same_inputs_give_byte_identical_records() -> None:
    """Determinism: two engines given the same inputs write the same records, byte for byte."""
    first, _ = new_engine()
    second, _ = new_engine()

    a = _mixed_history(first)
    b = _mixed_history(second)

    assert as_lines(a) == as_lines(b)


def test_the_system_actor_is_recorded_for_timers() -> None:
    """Audit: timers are fired by the system actor, recorded as {"id": "system", "roles": []}."""
    assert SYSTEM.record() == {"id": "system", "roles": []}


def test_case_view_reports_the_pending_deadline() -> None:
    """engine.case: the next deadline and the event it fires are visible."""
    engine, _ = new_engine()
    open_four(engine, state="resolution_disclosed")

    view = engine.case("c1", history=False)

    assert view.deadline == {"at": "2024-03-08T06:00:00Z", "event": "resolution_period_ended"}
    assert view.history == ()
    assert view.final is False
