"""``ActionContext``: everything an action may read and change, and nothing else.

An action is a deterministic function of its parameters and this context, so that
replay gets the very same output. It therefore reads time and identity from here,
never from the wall clock or a global: ``now`` is the attempt's recorded ``at``
and ``actor`` whoever fired the event (as recorded), just as a guard sees them.

Actions run in order, each on the data as the earlier ones left it; after an
action has run, the expressions of the next read that working copy afresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from engine.guards.cel import Bindings, CelExpression


class Acting(Protocol):
    """Who fired the event: the actor's id and roles (the runtime's ``Actor``)."""

    @property
    def id(self) -> str:
        """The actor id recorded in the audit."""
        ...

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles they hold."""
        ...


@runtime_checkable
class RuleSource(Protocol):
    """A context that can hand an action one of the procedure's counting rules."""

    def counting_rule(self, name: str) -> Any:
        """The checked rule named ``name`` under the procedure's ``counting``."""
        ...


@dataclass(slots=True, kw_only=True)
class ActionContext:
    """What an action sees; the attempt builds one for all the actions of a transition.

    Attributes:
        data: the case data being built by this attempt (a private copy it may change).
        payload: the event's payload, already checked against its schema.
        now: the attempt's recorded time (``at``), never the wall clock.
        actor: who fired the event.
        expressions: the procedure's compiled expressions, by source text.
        counting: the procedure's counting rules, by name (checked when it loaded).
        env: what expressions read (data, payload, actor, now).
    """

    data: dict[str, Any]
    payload: Mapping[str, Any]
    now: datetime
    actor: Acting
    expressions: Mapping[str, CelExpression]
    counting: Mapping[str, Any]
    env: dict[str, Any]
    stale: bool = False
    """True after an action ran: ``env`` must read ``data`` afresh."""

    def evaluate(self, expression: str) -> Any:
        """Evaluate a CEL expression declared in the action's ``expressions``."""
        if self.stale:
            # the same attempt: its cost budget carries over to the actions' reads
            self.env = (
                self.env.rebind(data=self.data)
                if isinstance(self.env, Bindings)
                else Bindings(self.env, data=self.data)
            )
            self.stale = False
        return self.expressions[expression].evaluate(self.env)

    def counting_rule(self, name: str) -> Any:
        """The procedure's counting rule ``name`` (checked when the procedure loaded)."""
        return self.counting[name]
