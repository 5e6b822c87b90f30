"""The adapter around ``transitions``: the only module that imports it.

One ``Machine`` per procedure version, built once, with no models attached
(``model=None``) and no automatic ``to_<state>`` events, as transitions' FAQ
recommends for many instances. A case is fired by passing a small draft object
to ``machine.events[name].trigger(draft, attempt=…)``; transitions only reads and
sets ``draft.state``. Each candidate transition carries one ``GuardsCondition``
that evaluates *all* its guards (so a refusal can say everything that is
lacking) and records every result on the attempt. Concurrency is the store's
job, never transitions' locks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transitions import Machine
from transitions.core import Condition, EventData

from engine.definition.compile import CompiledProcedure, CompiledTransition
from engine.guards.checks import Env


@dataclass(slots=True)
class Draft:
    """What transitions sees of a case during one attempt: just its state."""

    state: str


@dataclass(slots=True)
class AttemptTrace:
    """What happened inside transitions during one attempt."""

    env: Env
    guards: list[dict[str, Any]] = field(default_factory=list)
    chosen: CompiledTransition | None = None


class GuardsCondition(Condition):
    """Evaluates every guard of one transition and records each result on the attempt."""

    def __init__(self, compiled: CompiledTransition) -> None:
        super().__init__(self._check)
        self.compiled = compiled

    def _check(self, event_data: EventData) -> bool:
        trace: AttemptTrace = event_data.kwargs["attempt"]
        index = self.compiled.transition.index
        passed = True
        for guard in self.compiled.guards:
            result = guard.evaluate(trace.env)
            trace.guards.append({"transition": index, **result.record()})
            passed = passed and result.passed
        if passed:
            trace.chosen = self.compiled
        return passed

    def check(self, event_data: EventData) -> bool:
        return self._check(event_data)


def build_machine(compiled: CompiledProcedure) -> Machine:
    """The one ``Machine`` for a procedure version."""
    procedure = compiled.procedure
    machine = Machine(
        model=None,
        states=list(procedure.states),
        initial=procedure.initial,
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=False,
        name=f"{procedure.id}@{procedure.version}",
    )
    for event_id, transitions in compiled.transitions.items():
        for item in transitions:
            t = item.transition
            machine.add_transition(event_id, list(t.sources), t.target)
            added = machine.events[event_id].transitions
            for source in t.sources:
                added[source][-1].conditions.append(GuardsCondition(item))
    return machine


def fire(machine: Machine, event: str, draft: Draft, trace: AttemptTrace) -> bool:
    """Try the event's transitions from ``draft.state`` in file order; True if one ran."""
    return bool(machine.events[event].trigger(draft, attempt=trace))
