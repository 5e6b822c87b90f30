"""Actions run in file order, each seeing the data as the earlier ones left it."""

from __future__ import annotations

from datetime import UTC, datetime

from engine import Actor, Engine, load_source

SOURCE = """\
# yaml-language-server: $schema=../schemas/procedure.schema.json
id: action-order
version: "1.0.0"
title: 动作顺序
rule_set:
  name: test
roles:
  clerk:
    label: 文书
data:
  type: object
  properties:
    count: {type: integer}
    doubled: {type: integer}
    log: {type: array, items: {type: integer}}
initial: open
states:
  open:
    label: 办理中
  done:
    label: 办结
    final: true
events:
  step:
    label: 记一笔
    roles: [clerk]
    transitions:
      - from: open
        to: done
        actions:
          - increment: {path: data.count, by: 2}
          - set: {path: data.doubled, expr: data.count * 2}
          - append: {path: data.log, expr: data.doubled + 1}
"""


def test_each_action_reads_what_the_earlier_actions_wrote() -> None:
    """An action's expression reads the working data after the actions before it, so
    count 1 → +2 = 3 → doubled 6 → log [7]; the recorded outputs show each value."""
    clerk = Actor(id="文书甲", roles=("clerk",))
    engine = Engine()
    at = datetime(2024, 3, 1, tzinfo=UTC)
    procedure = load_source(SOURCE, "<action-order>")
    engine.open_case(procedure, "a1", {"count": 1, "log": []}, actor=clerk, at=at)

    outcome = engine.fire("a1", "step", actor=clerk, at=at)

    assert outcome.applied
    assert engine.case("a1").data == {"count": 3, "doubled": 6, "log": [7]}
    outputs = [action["output"]["value"] for action in outcome.record["actions"]]
    assert outputs == [3, 6, 7]
