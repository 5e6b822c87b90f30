"""The immutable procedure model: what a checked procedure file means.

Everything here is frozen, slotted and keyword-only; collections are tuples or
read-only mappings. A ``Procedure`` is identified by its id, version and the
sha256 of the exact source text it was loaded from, so an audit record can name
the version a case ran under and replay can find it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from engine.errors import SourceLocation
from engine.governance.counting_rule import CountingRule

# A guard of the model is defined with its kind (engine.guards.kinds), beside its schema,
# builder and check; here it is any of them (GuardModel), so that loading the model
# loads no guard kind's check (nor the CEL core).
from engine.guards.kind import CountRef
from engine.guards.kind import GuardModel as Guard

__all__ = [
    "ActionCall",
    "CountRef",
    "Deadline",
    "DocumentSpec",
    "Event",
    "Guard",
    "Procedure",
    "Role",
    "RuleSet",
    "State",
    "Transition",
    "frozen_mapping",
]

DayKind = Literal["calendar", "working"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def frozen_mapping(values: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only view of a fresh dict, for the model's mapping fields."""
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionCall:
    """A call of a registered action with its (schema-checked) parameters.

    ``param_locations`` says where each parameter's value is written.
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    location: SourceLocation
    param_locations: Mapping[str, SourceLocation] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """One way an event can move a case, tried in file order.

    ``source_locations`` (one per source) and ``target_location`` point at the state
    names themselves, so a misspelt name is reported where it is written.
    """

    sources: tuple[str, ...]
    target: str
    guards: tuple[Guard, ...] = ()
    actions: tuple[ActionCall, ...] = ()
    label: str = ""
    index: int
    location: SourceLocation
    source_locations: tuple[SourceLocation, ...] = ()
    target_location: SourceLocation | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something that happens to a case, fired by an actor holding one of ``roles``.

    ``role_locations`` (one per role) point at the role names as written.
    """

    id: str
    label: str
    description: str = ""
    roles: tuple[str, ...] = ()
    payload_schema: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    secret_ballot: bool = False
    transitions: tuple[Transition, ...]
    location: SourceLocation
    role_locations: tuple[SourceLocation, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadline:
    """After ``period`` in a state (calendar or working days) a timer fires ``event``.

    ``period_location`` and ``event_location`` point at the two values as written.
    """

    period: str
    days: DayKind = "calendar"
    event: str
    location: SourceLocation
    period_location: SourceLocation | None = None
    event_location: SourceLocation | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class State:
    """A state of a case; ``label`` is the Chinese name shown to people."""

    id: str
    label: str
    description: str = ""
    final: bool = False
    deadline: Deadline | None = None
    location: SourceLocation


@dataclass(frozen=True, slots=True, kw_only=True)
class Role:
    """A role an actor may hold."""

    id: str
    label: str
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSet:
    """The rule set a procedure follows and its stated choices (docs/rules.md)."""

    name: str
    basis: str = ""
    choices: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentSpec:
    """An official document a case can produce, rendered from a sandboxed template.

    ``template`` is relative to the procedure file; ``after`` lists the states whose
    entry makes the document available.
    """

    name: str
    title: str
    after: tuple[str, ...]
    template: str
    location: SourceLocation
    after_locations: tuple[SourceLocation, ...] = ()
    template_location: SourceLocation | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Procedure:
    """A checked procedure, immutable, identified by id, version and source sha256."""

    id: str
    version: str
    title: str
    description: str = ""
    rule_set: RuleSet
    roles: Mapping[str, Role]
    opened_by: tuple[str, ...] = ()
    opened_by_locations: tuple[SourceLocation, ...] = field(default=(), repr=False, compare=False)
    data_schema: Mapping[str, Any]
    initial: str
    states: Mapping[str, State]
    events: Mapping[str, Event]
    source: str = field(repr=False)
    sha256: str
    file: str
    # Whose wall clock CEL getters and working days speak; instants themselves are UTC.
    time_zone: str = "Asia/Shanghai"
    top_locations: Mapping[str, SourceLocation] = field(default_factory=lambda: _EMPTY)
    documents: tuple[DocumentSpec, ...] = ()
    counting: Mapping[str, CountingRule] = field(default_factory=lambda: _EMPTY)

    def where(self, key: str) -> SourceLocation:
        """Where a top-level key (``initial``, ``states``, …) is written."""
        found = self.top_locations.get(key)
        return found or SourceLocation(file=self.file, line=1, column=1, path=key)

    @property
    def key(self) -> tuple[str, str, str]:
        """(id, version, sha256): what an audit record names."""
        return (self.id, self.version, self.sha256)

    @property
    def opening_roles(self) -> tuple[str, ...]:
        """The roles that may open a case: ``opened_by``, or every declared role without it."""
        return self.opened_by or tuple(self.roles)

    def events_from(self, state: str) -> tuple[Event, ...]:
        """Events with at least one transition leaving ``state``, in file order."""
        return tuple(
            e for e in self.events.values() if any(state in t.sources for t in e.transitions)
        )
