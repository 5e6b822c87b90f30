"""An action whose result no record can hold is a recorded ``action-failed`` refusal.

Guards may pass and an action may still compute a value beyond ±(2**53 - 1)
(a count times a factor, say). The attempt must not fail when its record is
sealed: it is refused, recorded, and the case data stays as it was.
"""

from __future__ import annotations

from datetime import UTC, datetime

from engine import Actor, Engine, load_source
from engine.audit.canonical import MAX_SAFE_INT
from engine.audit.verify import verify_records
from engine.runtime.attempt import _unsealable

SOURCE = """\
id: action-overflow
version: "1.0.0"
title: 动作溢出
rule_set:
  name: test
roles:
  clerk:
    label: 文书
data:
  type: object
  properties:
    total: {type: integer}
initial: open
states:
  open:
    label: 办理中
  done:
    label: 办结
    final: true
events:
  scale:
    label: 放大
    roles: [clerk]
    payload:
      type: object
      required: [n]
      properties:
        n: {type: integer}
    transitions:
      - from: open
        to: done
        actions:
          - set: {path: data.total, expr: payload.n * 1000}
"""

CLERK = Actor(id="文书甲", roles=("clerk",))
AT = datetime(2024, 3, 1, tzinfo=UTC)


def _engine() -> Engine:
    engine = Engine()
    engine.open_case(load_source(SOURCE, "<overflow>"), "o1", {"total": 0}, actor=CLERK, at=AT)
    return engine


def test_a_result_beyond_the_safe_integer_range_is_a_recorded_action_failed() -> None:
    """n × 1000 beyond 2**53 - 1: refused ``action-failed`` at seq 2, naming data.total;
    the data keeps its value and the chain still verifies."""
    engine = _engine()
    n = MAX_SAFE_INT // 1000 + 1

    outcome = engine.fire("o1", "scale", actor=CLERK, payload={"n": n}, at=AT)

    assert not outcome.applied
    assert outcome.reason is not None
    assert outcome.reason.code == "action-failed"
    assert outcome.seq == 2
    assert "data.total" in outcome.reason.message
    assert [d["path"] for d in outcome.reason.details] == ["data.total"]
    assert engine.case("o1").data == {"total": 0}
    assert engine.case("o1").state == "open"
    assert verify_records(engine.records("o1")).ok


def test_the_largest_result_a_record_holds_is_applied() -> None:
    """At the edge: n × 1000 ≤ 2**53 - 1 is applied and recorded exactly."""
    engine = _engine()
    n = MAX_SAFE_INT // 1000

    outcome = engine.fire("o1", "scale", actor=CLERK, payload={"n": n}, at=AT)

    assert outcome.applied
    assert engine.case("o1").data == {"total": n * 1000}


def test_what_actions_left_is_walked_where_it_may_have_changed() -> None:
    """Only untouched top-level scalars (the very objects checked when the data was
    written) are skipped: a changed scalar, a new field and anything inside a container
    are checked, and the refusal names the place."""
    big = MAX_SAFE_INT + 1
    before = {"kept": 7, "total": 0, "nested": {"x": 1}}

    assert _unsealable([], dict(before), before) is None
    changed = _unsealable([], {**before, "total": big}, before)
    added = _unsealable([], {**before, "ratio": 0.5}, before)
    inside = _unsealable([], {**before, "nested": {"x": big}}, before)
    output = _unsealable([{"name": "a", "params": {}, "output": big}], dict(before), before)

    assert changed is not None and changed.details[0]["path"] == "data.total"
    assert added is not None and added.details[0]["path"] == "data.ratio"
    assert inside is not None and inside.details[0]["path"] == "data.nested.x"
    assert output is not None and output.details[0]["path"] == "actions[0].output"
