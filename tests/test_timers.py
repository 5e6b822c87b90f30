"""engine.tick: state deadlines fire as timer events, recorded at their due time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runtime_support import (
    CLERK,
    COMMITTEE,
    CST,
    T0,
    TOY_DATA,
    jcs_hash,
    new_engine,
    open_four,
    toy,
)

from engine.runtime.clock import format_time, normalise


def test_tick_fires_a_due_timer_recorded_at_its_due_time_by_the_system() -> None:
    """tick: a due deadline fires its event as kind timer.fired, actor system, at the due time."""
    engine, _ = new_engine()
    entered = open_four(engine, state="resolution_disclosed")
    due = entered + timedelta(days=7)

    fired = engine.tick(due + timedelta(days=3, hours=5))

    assert [(o.case, o.status, o.from_state, o.to_state) for o in fired] == [
        ("c1", "applied", "resolution_disclosed", "implementing")
    ]
    record = engine.records("c1")[-1]
    assert record["kind"] == "timer.fired"
    assert record["event"] == "resolution_period_ended"
    assert record["actor"] == {"id": "system", "roles": []}
    # recorded in UTC: the same instant as 2024-03-08T14:00:00+08:00
    assert record["at"] == "2024-03-08T06:00:00Z"
    assert due == datetime(2024, 3, 8, 6, 0, tzinfo=UTC)
    assert record["payload"] == {}
    assert "reason" not in record
    assert record["hash"] == jcs_hash(record)
    view = engine.case("c1")
    assert (view.state, view.deadline) == ("implementing", None)


def test_tick_exactly_at_the_due_time_fires() -> None:
    """tick: a deadline is due at its moment, not only after it."""
    engine, _ = new_engine()
    entered = open_four(engine, state="resolution_disclosed")

    fired = engine.tick(entered + timedelta(days=7))

    assert len(fired) == 1


def test_tick_before_the_due_time_fires_nothing_and_records_nothing() -> None:
    """tick: a deadline not yet due does nothing."""
    engine, _ = new_engine()
    entered = open_four(engine, state="resolution_disclosed")
    seq = engine.case("c1").seq

    fired = engine.tick(entered + timedelta(days=7) - timedelta(seconds=1))

    assert fired == []
    assert engine.case("c1").seq == seq
    assert engine.case("c1").state == "resolution_disclosed"


def test_tick_with_no_deadlines_fires_nothing() -> None:
    """tick: states without deadlines never fire."""
    engine, _ = new_engine()
    open_four(engine, state="resolved")

    assert engine.tick(T0 + timedelta(days=365)) == []


def test_tick_without_a_time_reads_the_injected_clock() -> None:
    """tick: ``now`` defaults to the engine's clock."""
    engine, clock = new_engine()
    entered = open_four(engine, state="resolution_disclosed")

    clock.at = entered + timedelta(days=6)
    assert engine.tick() == []
    clock.at = entered + timedelta(days=8)
    assert len(engine.tick()) == 1


def test_a_fired_timer_does_not_fire_again() -> None:
    """tick: once fired, a timer is gone; a later tick does nothing more."""
    engine, _ = new_engine()
    entered = open_four(engine, state="resolution_disclosed")
    engine.tick(entered + timedelta(days=8))

    again = engine.tick(entered + timedelta(days=30))

    assert again == []


def test_the_next_deadline_counts_from_the_timer_due_time() -> None:
    """tick: the state a timer enters counts its own deadline from the recorded due time."""
    engine, _ = new_engine()
    entered = open_four(engine, state="resolution_disclosed")
    engine.tick(entered + timedelta(days=8))
    disclosed_at = datetime(2024, 6, 20, 9, 0, tzinfo=CST)
    engine.fire(
        "c1", "disclose_result", actor=COMMITTEE, payload={"notice": "结果"}, at=disclosed_at
    )

    fired = engine.tick(datetime(2024, 6, 28, 0, 0, tzinfo=CST))

    assert [o.to_state for o in fired] == ["awaiting_sign_off"]
    assert engine.records("c1")[-1]["at"] == "2024-06-27T01:00:00Z"  # 09:00 in Shanghai


def test_several_due_cases_fire_earliest_first_each_at_its_own_time() -> None:
    """tick: every due case fires once, earliest deadline first."""
    engine, _ = new_engine()
    late = open_four(engine, "late", at=T0 + timedelta(days=1), state="resolution_disclosed")
    early = open_four(engine, "early", at=T0, state="resolution_disclosed")
    open_four(engine, "idle", at=T0, state="resolved")

    fired = engine.tick(T0 + timedelta(days=30))

    assert [o.case for o in fired] == ["early", "late"]
    assert [o.record["at"] for o in fired] == [
        format_time(normalise(early + timedelta(days=7))),
        format_time(normalise(late + timedelta(days=7))),
    ]


def test_a_refused_timer_is_recorded_with_its_reason_and_not_retried() -> None:
    """tick: a timer whose guards fail is recorded (timer.fired, with the reason), the state
    stays, and it is not retried by later ticks."""
    engine, _ = new_engine()
    engine.open_case(toy(), "t", TOY_DATA, actor=CLERK, at=T0)
    engine.fire("t", "post", actor=CLERK, at=T0)
    engine.fire("t", "object", actor=CLERK, at=T0 + timedelta(days=1))

    fired = engine.tick(T0 + timedelta(days=8))

    assert [(o.status, o.to_state) for o in fired] == [("refused", "posted")]
    record = engine.records("t")[-1]
    assert record["kind"] == "timer.fired"
    assert record["at"] == "2024-03-08T01:00:00Z"  # 09:00 in Shanghai
    assert record["actor"] == {"id": "system", "roles": []}
    assert record["reason"]["code"] == "guards-failed"
    assert record["reason"]["details"] == ["无异议: does not hold"]
    view = engine.case("t")
    assert (view.state, view.deadline, view.seq) == ("posted", None, 4)
    assert engine.tick(T0 + timedelta(days=30)) == []
    assert engine.case("t").seq == 4


def test_a_timer_whose_guards_hold_applies() -> None:
    """tick: the same timer with no objections moves the case on."""
    engine, _ = new_engine()
    engine.open_case(toy(), "t", TOY_DATA, actor=CLERK, at=T0)
    engine.fire("t", "post", actor=CLERK, at=T0)

    fired = engine.tick(T0 + timedelta(days=8))

    assert [(o.status, o.to_state) for o in fired] == [("applied", "done")]
    assert engine.case("t").final is True


PERIODIC = """\
# yaml-language-server: $schema=../schemas/procedure.schema.json
id: periodic
version: "1.0.0"
title: 季度公开
rule_set:
  name: test
roles:
  clerk:
    label: 文书
data:
  type: object
  properties:
    lapses: {type: integer}
initial: disclosing
states:
  disclosing:
    label: 按季公开
    deadline: {after: P3M, event: quarter_lapsed}
  done:
    label: 办结
    final: true
events:
  quarter_lapsed:
    label: 季度未公开
    transitions:
      - from: disclosing
        to: disclosing
        actions:
          - increment: {path: data.lapses}
  finish:
    label: 办结
    roles: [clerk]
    transitions:
      - {from: disclosing, to: done}
"""


def test_a_timers_own_self_loop_arms_the_deadline_again() -> None:
    """A deadline whose event loops back to the same state fires every period: the
    self-loop a timer takes re-enters the state and arms its deadline from the due time."""
    from engine import load_source

    engine, _ = new_engine()
    engine.open_case(load_source(PERIODIC, "<periodic>"), "p1", {"lapses": 0}, actor=CLERK)

    fired = engine.tick(T0 + timedelta(days=200))
    assert [o.to_state for o in fired] == ["disclosing"]
    assert engine.case("p1").deadline == {
        "at": "2024-09-01T01:00:00Z",  # 09:00 in Shanghai
        "event": "quarter_lapsed",
    }
    again = engine.tick(T0 + timedelta(days=200))
    assert [r["at"] for r in engine.records("p1")[1:]] == [
        "2024-06-01T01:00:00Z",
        "2024-09-01T01:00:00Z",
    ]
    assert len(again) == 1
    assert engine.case("p1").data["lapses"] == 2
