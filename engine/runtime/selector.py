"""The one transition selector: which transition an event takes from a state, and why.

Firing an event (``attempt``) and explaining one (``Engine.explain``) ask the same
question, so they call the same function: the event's candidate transitions from
the case's state are tried in file order; each candidate's guards are *all*
evaluated (so a refusal can say everything that is lacking), and the first
candidate whose guards all hold is chosen. An attempt stops there; an
explanation goes on and judges every candidate. What the record keeps is what
the selector returns, typed: each tried candidate with its guard results, in order.

The guards are judged here rather than by ``transitions``'s own trigger: selecting
through a ``transitions`` ``Machine`` (the same guards given through its public
``add_transition(..., conditions=[...])``) took 17–26 µs more per event than this
loop (``bench/selector_bench.py``, three runs on a busy 2-core machine; transitions
alone, with trivial conditions, 14 µs), against a goal of 50 µs for the whole
event; and its walk stops at the first candidate that holds, so an explanation
could not use it and would need a second selector.

``transitions`` still declares the machine: once per procedure version the states,
events and transitions are added to a ``Machine`` through its public API, each
transition's guards as its condition, and the candidates of every (event, state)
are read back from it with ``get_transitions``, in its order. That machine is a
working one (tests fire it and compare its choice with the selector's); at run time
a selection reads one tuple and evaluates guards, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from transitions import EventData, Machine

from engine.definition.compile import CompiledProcedure, CompiledTransition
from engine.frozen import builder
from engine.guards.checks import Env, GuardResult


@dataclass(frozen=True, slots=True)
class Judged:
    """One candidate transition and the results of all its guards, in file order."""

    candidate: CompiledTransition
    guards: tuple[GuardResult, ...]
    ready: bool


@dataclass(frozen=True, slots=True)
class Selection:
    """What the selector decided: every candidate it judged, in order, and the chosen one.

    ``chosen`` is the first candidate whose guards all held (None when none did).
    """

    judged: tuple[Judged, ...]
    chosen: CompiledTransition | None

    def guard_records(self) -> list[dict[str, Any]]:
        """Every evaluated guard as the audit record stores it, each naming its transition."""
        return [
            guard.record_for(judged.candidate.transition.index)
            for judged in self.judged
            for guard in judged.guards
        ]

    def failing(self) -> list[str]:
        """The explanation of every guard that did not hold, in order."""
        return [g.explanation for judged in self.judged for g in judged.guards if not g.passed]


_judged = builder(Judged)
_selection = builder(Selection)
# Each attempt makes a selection and a judgement per candidate tried (``engine.frozen``).


class Selector:
    """Selects transitions for one procedure version (built once, shared by every case)."""

    __slots__ = ("_candidates", "machine")

    def __init__(self, compiled: CompiledProcedure) -> None:
        self.machine = declare_machine(compiled)
        candidates: dict[tuple[str, str], tuple[CompiledTransition, ...]] = {}
        for event_id in compiled.transitions:
            for source in compiled.procedure.states:
                found = self.machine.get_transitions(trigger=event_id, source=source)
                if found:
                    candidates[(event_id, source)] = tuple(
                        _guards_of(transition).candidate for transition in found
                    )
        self._candidates: Mapping[tuple[str, str], tuple[CompiledTransition, ...]] = candidates

    def candidates(self, event: str, state: str) -> tuple[CompiledTransition, ...]:
        """The event's transitions leaving ``state``, in file order."""
        return self._candidates.get((event, state), ())

    def select(self, event: str, state: str, env: Env, *, every: bool = False) -> Selection:
        """Judge the event's candidates from ``state`` against ``env``; choose the first ready.

        Args:
            event: the event being fired or explained.
            state: the case's state.
            env: what guards read (data, payload, actor, now).
            every: judge every candidate (an explanation) instead of stopping at the
                first whose guards all hold (an attempt).

        Returns:
            The judged candidates in file order and the chosen one.
        """
        judged: list[Judged] = []
        chosen: CompiledTransition | None = None
        for candidate in self._candidates.get((event, state), ()):
            results = tuple([guard.evaluate(env) for guard in candidate.guards])
            ready = True
            for result in results:  # a loop: ``all`` over a generator costs more here
                if not result.passed:
                    ready = False
                    break
            judged.append(_judged(candidate, results, ready))
            if ready and chosen is None:
                chosen = candidate
                if not every:
                    break
        return _selection(tuple(judged), chosen)


class GuardsHold:
    """A transition's guards as one ``transitions`` condition: true when all of them hold.

    The guards read the ``env`` given to the trigger (``machine.events[e].trigger(model,
    env=...)``); the selector never triggers, it reads ``candidate`` back.
    """

    __slots__ = ("candidate",)

    def __init__(self, candidate: CompiledTransition) -> None:
        self.candidate = candidate

    def __call__(self, event_data: EventData) -> bool:
        env = event_data.kwargs["env"]
        return all(guard.evaluate(env).passed for guard in self.candidate.guards)


def declare_machine(compiled: CompiledProcedure) -> Machine:
    """The procedure as a ``transitions`` machine, each transition's guards its condition."""
    procedure = compiled.procedure
    machine = Machine(
        model=None,
        states=list(procedure.states),
        initial=procedure.initial,
        auto_transitions=False,
        send_event=True,
    )
    for event_id, transitions in compiled.transitions.items():
        for item in transitions:
            machine.add_transition(
                event_id,
                list(dict.fromkeys(item.transition.sources)),
                item.transition.target,
                conditions=[GuardsHold(item)],
            )
    return machine


def _guards_of(transition: Any) -> GuardsHold:
    """The condition ``declare_machine`` gave a transition (its only one)."""
    condition = transition.conditions[0].func
    assert isinstance(condition, GuardsHold)
    return condition
