"""Semantic checks the schema cannot express: names, reachability, shadowing.

* every state, role and event a procedure names exists ("did you mean …");
* every state can be reached from the initial state;
* a final state can be reached from every state, and no non-final state is a dead end;
* no transition is shadowed by an earlier unguarded one for the same event and source;
* every event can be fired: some role may fire it, or a deadline fires it;
* deadlines in working days are whole days.

The graph checks read a misspelt state name as the state its "did you mean" names:
a misspelt target would otherwise also make its state "unreachable" and its source
a "dead end", and an author should read about the one mistake they made, not its
echoes. A name with no close match leaves the graph unknown, and the graph checks
are then skipped rather than guessed.

``lint_skeleton`` runs the name and graph checks alone on a procedure assembled
from the well-formed parts of a document the schema refused, so one run reports
the schema's problems and the graph's together.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from engine.definition.model import Procedure
from engine.errors import Problem, Severity, SourceLocation

_WHOLE_DAYS = re.compile(r"^P(?:\d+W)?(?:\d+D)?$")


def _hint(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class _Linter:
    def __init__(self, procedure: Procedure) -> None:
        self.p = procedure
        self.problems: list[Problem] = []
        # A misspelt state name read as its closest match, for the graph checks.
        self.read_as: dict[str, str] = {}
        self.unknown_states = False
        self.unknown_timer_events = False

    def report(
        self, location: SourceLocation, message: str, code: str, severity: Severity = "error"
    ) -> None:
        self.problems.append(
            Problem(location=location, message=message, code=code, severity=severity)
        )

    def unknown(self, kind: str, name: str, known: Iterable[str], location: SourceLocation) -> None:
        known = list(known)
        self.report(location, f"unknown {kind} {name!r}{_hint(name, known)}", f"unknown-{kind}")

    def unknown_state(self, name: str, location: SourceLocation) -> None:
        self.unknown("state", name, self.p.states, location)
        close = difflib.get_close_matches(name, list(self.p.states), n=1, cutoff=0.6)
        if close:
            self.read_as[name] = close[0]
        else:
            self.unknown_states = True

    def state(self, name: str) -> str:
        return self.read_as.get(name, name)

    def names(self) -> None:
        p = self.p
        if p.initial not in p.states:
            self.unknown_state(p.initial, p.where("initial"))
        for state in p.states.values():
            deadline = state.deadline
            if deadline is None:
                continue
            if deadline.event not in p.events:
                self.unknown(
                    "event", deadline.event, p.events, deadline.event_location or deadline.location
                )
                self.unknown_timer_events = True
            if deadline.days == "working" and not _WHOLE_DAYS.match(deadline.period):
                self.report(
                    deadline.period_location or deadline.location,
                    f"{deadline.period} counts working days, so it must be whole days (e.g. P5D)",
                    "deadline.working-days",
                )
        for role, where in zip(p.opened_by, p.opened_by_locations, strict=True):
            if role not in p.roles:
                self.unknown("role", role, p.roles, where)
        for event in p.events.values():
            role_locations = event.role_locations or (event.location,) * len(event.roles)
            for role, where in zip(event.roles, role_locations, strict=True):
                if role not in p.roles:
                    self.unknown("role", role, p.roles, where)
            for t in event.transitions:
                source_locations = t.source_locations or (t.location,) * len(t.sources)
                for source, where in zip(t.sources, source_locations, strict=True):
                    if source not in p.states:
                        self.unknown_state(source, where)
                if t.target not in p.states:
                    self.unknown_state(t.target, t.target_location or t.location)

    def edges(self) -> dict[str, set[str]]:
        graph: dict[str, set[str]] = {sid: set() for sid in self.p.states}
        for event in self.p.events.values():
            for t in event.transitions:
                target = self.state(t.target)
                for source in map(self.state, t.sources):
                    if source in graph and target in graph:
                        graph[source].add(target)
        return graph

    def reachability(self) -> None:
        p = self.p
        if self.unknown_states:
            return
        graph = self.edges()
        reached = _closure({self.state(p.initial)}, graph)
        for sid, state in p.states.items():
            if sid not in reached:
                self.report(
                    state.location,
                    f"state {sid!r} ({state.label}) cannot be reached from the initial "
                    f"state {p.initial!r}",
                    "state.unreachable",
                )
        reverse: dict[str, set[str]] = {sid: set() for sid in p.states}
        for source, targets in graph.items():
            for target in targets:
                reverse[target].add(source)
        finals = {sid for sid, s in p.states.items() if s.final}
        if not finals:
            self.report(
                p.where("states"),
                "no state is final: mark the end states with final: true",
                "final.none",
            )
            return
        can_finish = _closure(finals, reverse)
        for sid, state in p.states.items():
            if state.final:
                continue
            if not graph[sid]:
                self.report(
                    state.location,
                    f"state {sid!r} ({state.label}) is not final and no transition leaves it",
                    "state.dead-end",
                )
            elif sid not in can_finish:
                self.report(
                    state.location,
                    f"no final state can be reached from state {sid!r} ({state.label})",
                    "state.no-final",
                )

    def shadowing(self) -> None:
        for event in self.p.events.values():
            unguarded: dict[str, int] = {}
            for t in event.transitions:
                for source in t.sources:
                    if source in unguarded:
                        self.report(
                            t.location,
                            f"this transition from {source!r} can never run: transition "
                            f"{unguarded[source]} of event {event.id!r} has no guards and "
                            "comes first",
                            "transition.shadowed",
                        )
                for source in t.sources:
                    if not t.guards:
                        unguarded.setdefault(source, t.index)

    def fireable(self) -> None:
        if self.unknown_timer_events:
            return
        timer_events = {s.deadline.event for s in self.p.states.values() if s.deadline is not None}
        for event in self.p.events.values():
            if not event.roles and event.id not in timer_events:
                self.report(
                    event.location,
                    f"no role may fire event {event.id!r} and no deadline fires it: "
                    "list the roles that may",
                    "event.no-role",
                )

    def run(self) -> list[Problem]:
        self.names()
        self.reachability()
        self.shadowing()
        self.fireable()
        return self.problems


def _closure(start: set[str], graph: dict[str, set[str]]) -> set[str]:
    seen = set(start)
    frontier = list(start)
    while frontier:
        node = frontier.pop()
        for nxt in graph.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


def lint_procedure(procedure: Procedure) -> list[Problem]:
    """Every semantic problem in ``procedure``."""
    return _Linter(procedure).run()


def lint_skeleton(procedure: Procedure, *, whole_graph: bool) -> list[Problem]:
    """The name checks, and the graph checks when ``whole_graph``, of a partial procedure.

    Args:
        procedure: states, events (transitions without guards or actions) and roles taken
            from a document the schema refused.
        whole_graph: every state, transition and deadline of the document was well formed,
            so the graph is the author's whole graph and "unreachable" is no echo.

    Returns:
        Unknown names, and unreachable, dead-end and cannot-finish states when asked.
    """
    linter = _Linter(procedure)
    linter.names()
    if whole_graph:
        linter.reachability()
    return linter.problems
