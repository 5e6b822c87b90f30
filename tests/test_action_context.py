"""Specification: an action reads time and identity from its ``ActionContext``.

The registry tells action authors that they get the attempt's recorded time and
the actor who fired the event; ``now`` and ``actor`` are those, the same on
replay, and never the wall clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from toy_procedures import one_event

from engine import Actor, Engine, load_source
from engine.actions import ActionContext, ActionSpec, default_registry
from engine.actions.registry import ActionFunction

SOURCE = one_event(
    "action-context",
    "动作语境",
    """\
  sign:
    label: 签收
    roles: [clerk]
    transitions:
      - from: open
        to: done
        actions:
          - stamp: {}
""",
    schema_comment=True,
)


def _stamp(params: Mapping[str, Any], ctx: ActionContext) -> Any:
    return {"at": ctx.now.isoformat(), "by": ctx.actor.id, "roles": list(ctx.actor.roles)}


STAMP = ActionSpec(
    name="stamp",
    description="Records who signed and when, from the context.",
    params_schema={"type": "object", "additionalProperties": False},
    run=_stamp,
)


def test_an_action_sees_the_attempts_time_and_actor() -> None:
    """``now`` is the event's recorded ``at`` and ``actor`` who fired it, not the clock."""
    registry = default_registry()
    registry.register(STAMP)
    clerk = Actor(id="文书甲", roles=("clerk",))
    opened = datetime(2024, 3, 1, tzinfo=UTC)
    signed = datetime(2024, 3, 4, 9, 30, tzinfo=UTC)
    engine = Engine()
    procedure = load_source(SOURCE, "<action-context>", registry)
    engine.open_case(procedure, "c1", {}, actor=clerk, at=opened)

    outcome = engine.fire("c1", "sign", actor=clerk, at=signed)

    assert outcome.applied
    output = outcome.record["actions"][0]["output"]
    assert output == {"at": signed.isoformat(), "by": "文书甲", "roles": ["clerk"]}


def test_the_registry_signature_names_the_public_context() -> None:
    """An action is typed ``(params, ActionContext) -> output``; the context is the public
    class, the same one the attempt builds."""
    import typing

    from engine.runtime import attempt

    arguments = typing.get_args(ActionFunction)[0]
    assert arguments == [Mapping[str, Any], ActionContext]
    assert attempt.ActionContext is ActionContext
