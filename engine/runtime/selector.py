"""The one transition selector: which transition an event takes from a state, and why.

Firing an event (``attempt``) and explaining one (``Engine.explain``) ask the same
question, so they call the same function: the event's candidate transitions from
the case's state are tried in file order; each candidate's guards are *all*
evaluated (so a refusal can say everything that is lacking), and the first
candidate whose guards all hold is chosen. An attempt stops there; an
explanation goes on and judges every candidate. What the record keeps is what
the selector returns, typed: each tried candidate with its guard results, in order.

The selector is written here rather than delegated to ``transitions``: selecting
through a ``transitions`` ``Machine``, the same guards given through its public
``add_transition(..., conditions=[...])``, took 17–26 µs more per event than this
loop (``bench/selector_bench.py``, three runs on a busy 2-core machine; transitions
alone, with trivial conditions, 14 µs), against a goal of 50 µs for the whole
event. And its walk stops at the first candidate that holds, so an explanation
could not use it and would need a second selector.

Candidates are grouped per (event, state) once per procedure version, so a
selection reads one tuple and evaluates guards; nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.definition.compile import CompiledProcedure, CompiledTransition
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


class Selector:
    """Selects transitions for one procedure version (built once, shared by every case)."""

    __slots__ = ("_candidates",)

    def __init__(self, compiled: CompiledProcedure) -> None:
        candidates: dict[tuple[str, str], list[CompiledTransition]] = {}
        for event_id, transitions in compiled.transitions.items():
            for item in transitions:
                for source in dict.fromkeys(item.transition.sources):
                    candidates.setdefault((event_id, source), []).append(item)
        self._candidates: Mapping[tuple[str, str], tuple[CompiledTransition, ...]] = {
            key: tuple(items) for key, items in candidates.items()
        }

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
            ready = all(result.passed for result in results)
            judged.append(Judged(candidate=candidate, guards=results, ready=ready))
            if ready and chosen is None:
                chosen = candidate
                if not every:
                    break
        return Selection(judged=tuple(judged), chosen=chosen)
