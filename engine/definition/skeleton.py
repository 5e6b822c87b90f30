"""The checks that still hold after a schema error: names and the state graph.

A document the schema refused cannot become a model (a guard with a missing key
would fail to build, and its CEL would be type-checked against a broken data
schema). Its states, events and transitions are usually still well formed,
though, and an author fixing a schema error deserves to hear in the same run
that a transition names a misspelt state or that a state cannot be reached.

This module takes only what is well formed: a state is a mapping, a transition
has a ``from`` (a name or a list of names) and a ``to`` (a name), a deadline
names its event. Anything else is left out, and when something the graph needs
is left out (a transition without a usable ``to``, a non-boolean ``final``, a
missing ``initial``) the graph checks are skipped, since a state might then look
unreachable only because of the part the schema already reported.
"""

from __future__ import annotations

from typing import Any

from engine.definition.lint import lint_skeleton
from engine.definition.model import (
    Deadline,
    Event,
    Procedure,
    Role,
    RuleSet,
    State,
    Transition,
    frozen_mapping,
)
from engine.definition.strict_yaml import Document, Path
from engine.errors import Problem


def skeleton_problems(doc: Document, schema_problems: list[Problem]) -> list[Problem]:
    """Name and graph problems of a schema-invalid document, not repeating the schema's.

    Args:
        doc: the parsed document.
        schema_problems: what the schema check reported for it.

    Returns:
        Unknown states, roles and deadline events, and (when the whole graph is well
        formed) unreachable, dead-end and cannot-finish states. A problem at a path the
        schema already reported, or under it, is left out.
    """
    value = doc.value
    if not isinstance(value, dict):
        return []
    reader = _Reader(doc)
    procedure = reader.procedure(value)
    if procedure is None:
        return []
    # A state, event or role whose id the schema refused is named elsewhere by the id the
    # author meant: "unknown state" there would be an echo of the one refused id.
    refused = {
        _KINDS[section]
        for p in schema_problems
        if p.code == "schema.id" and (section := p.location.path.split(".", 1)[0]) in _KINDS
    }
    found = lint_skeleton(procedure, whole_graph=reader.whole and "state" not in refused)
    reported = [p.location.path for p in schema_problems if p.location.path]
    return [
        p
        for p in found
        if not _under_any(p.location.path, reported)
        and p.code.removeprefix("unknown-") not in refused
    ]


_KINDS = {"states": "state", "events": "event", "roles": "role"}


def _under_any(path: str, reported: list[str]) -> bool:
    return any(path == r or path.startswith((f"{r}.", f"{r}[")) for r in reported)


class _Reader:
    """Assembles a guard-less procedure from the well-formed parts of a document."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.whole = True

    def procedure(self, value: dict[str, Any]) -> Procedure | None:
        states_raw = value.get("states")
        events_raw = value.get("events")
        if not isinstance(states_raw, dict) or not isinstance(events_raw, dict):
            return None
        initial = value.get("initial")
        if not isinstance(initial, str):
            self.whole = False
            initial = next(iter(states_raw), "")
        roles_raw = value.get("roles")
        roles = roles_raw if isinstance(roles_raw, dict) else {}
        states = {sid: self.state(sid, raw) for sid, raw in states_raw.items()}
        events = {eid: self.event(eid, raw) for eid, raw in events_raw.items()}
        return Procedure(
            id=str(value.get("id", "")),
            version=str(value.get("version", "")),
            title=str(value.get("title", "")),
            rule_set=RuleSet(name=""),
            roles=frozen_mapping({rid: Role(id=rid, label=rid) for rid in roles}),
            data_schema=frozen_mapping({"type": "object"}),
            initial=initial,
            states=frozen_mapping(states),
            events=frozen_mapping({eid: e for eid, e in events.items() if e is not None}),
            source="",
            sha256="",
            file=self.doc.file,
            top_locations=frozen_mapping(
                {"initial": self.doc.locate(("initial",)), "states": self.doc.locate(("states",))}
            ),
        )

    def state(self, sid: str, raw: Any) -> State:
        path: Path = ("states", sid)
        if not isinstance(raw, dict):
            self.whole = False
            raw = {}
        final = raw.get("final", False)
        if not isinstance(final, bool):
            self.whole = False
            final = False
        deadline = raw.get("deadline")
        event = deadline.get("event") if isinstance(deadline, dict) else None
        if deadline is not None and not isinstance(event, str):
            self.whole = False
        return State(
            id=sid,
            label=str(raw.get("label", sid)),
            final=final,
            deadline=Deadline(
                period=str(deadline.get("after", "P1D")) if isinstance(deadline, dict) else "P1D",
                event=event,
                location=self.doc.locate((*path, "deadline")),
                event_location=self.doc.locate((*path, "deadline", "event")),
            )
            if isinstance(event, str)
            else None,
            location=self.doc.locate(path, key=True),
        )

    def event(self, eid: str, raw: Any) -> Event | None:
        path: Path = ("events", eid)
        if not isinstance(raw, dict) or not isinstance(raw.get("transitions"), list):
            self.whole = False
            return None
        roles = raw.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            roles = []
        read = (
            self.transition((*path, "transitions", i), i, item)
            for i, item in enumerate(raw["transitions"])
        )
        transitions = [t for t in read if t is not None]
        return Event(
            id=eid,
            label=str(raw.get("label", eid)),
            roles=tuple(roles),
            transitions=tuple(transitions),
            location=self.doc.locate(path, key=True),
            role_locations=tuple(self.doc.locate((*path, "roles", i)) for i in range(len(roles))),
        )

    def transition(self, path: Path, index: int, raw: Any) -> Transition | None:
        sources = raw.get("from") if isinstance(raw, dict) else None
        target = raw.get("to") if isinstance(raw, dict) else None
        if isinstance(sources, str):
            names, paths = [sources], [(*path, "from")]
        elif isinstance(sources, list) and sources and all(isinstance(s, str) for s in sources):
            names, paths = list(sources), [(*path, "from", i) for i in range(len(sources))]
        else:
            self.whole = False
            return None
        if not isinstance(target, str):
            self.whole = False
            return None
        return Transition(
            sources=tuple(names),
            target=target,
            index=index,
            location=self.doc.locate(path),
            source_locations=tuple(self.doc.locate(p) for p in paths),
            target_location=self.doc.locate((*path, "to")),
        )
