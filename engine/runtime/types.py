"""The values the engine's API takes and returns.

``Reason`` is the audit record's own type (``engine.audit.entry``), named here too
because every refusal the API returns carries one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.audit.entry import Reason
from engine.frozen import builder

Status = Literal["applied", "refused"]

SYSTEM_ACTOR_ID = "system"


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who fires an event: an id and the roles they hold."""

    id: str
    roles: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        """The JSON-ready form recorded in the audit."""
        return {"id": self.id, "roles": list(self.roles)}

    @classmethod
    def of(cls, value: Actor | Mapping[str, Any]) -> Actor:
        """Accept an ``Actor`` or a mapping ``{"id": …, "roles": […]}``."""
        if isinstance(value, Actor):
            return value
        return cls(id=str(value["id"]), roles=tuple(str(r) for r in value.get("roles", ())))


SYSTEM = Actor(id=SYSTEM_ACTOR_ID, roles=())


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What became of one attempt."""

    case: str
    seq: int
    status: Status
    event: str | None
    from_state: str | None
    to_state: str
    reason: Reason | None = None
    guards: tuple[Mapping[str, Any], ...] = ()
    record: Mapping[str, Any] = field(default_factory=dict)
    replayed: bool = False

    @property
    def applied(self) -> bool:
        return self.status == "applied"

    def to_json(self) -> dict[str, Any]:
        """The one JSON form of an outcome: ``yishi case … --json``, the HTTP API and embedders.

        Keys: ``case``, ``seq``, ``status`` (``applied``/``refused``), ``event`` (None
        when a case was opened), ``from`` (None when opened), ``to``, ``reason``
        (None, or ``code``/``message``/``details``), ``guards`` (each evaluated
        guard's inputs, result and explanation), ``replayed`` (an idempotent retry
        got the first outcome) and ``hash`` (the audit record's). Every value is
        plain JSON (str, int, bool, None, lists, objects).
        """
        return {
            "case": self.case,
            "seq": self.seq,
            "status": self.status,
            "event": self.event,
            "from": self.from_state,
            "to": self.to_state,
            "reason": self.reason.record() if self.reason is not None else None,
            "guards": [dict(g) for g in self.guards],
            "replayed": self.replayed,
            "hash": str(self.record.get("hash", "")),
        }


new_outcome = builder(Outcome)
"""``Outcome(...)`` at a fraction of the cost (``engine.frozen``): an outcome per attempt."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseView:
    """A case as it stands: state, data, seq, and its audit history."""

    id: str
    procedure: Mapping[str, str]
    state: str
    data: Mapping[str, Any]
    seq: int
    head: str
    final: bool
    deadline: Mapping[str, str] | None = None
    history: tuple[Mapping[str, Any], ...] = ()
    unit: str = ""
    """The organisational unit the case belongs to ("" for none)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransitionExplanation:
    """What one candidate transition still lacks."""

    index: int
    target: str
    label: str
    ready: bool
    guards: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """``engine.explain``: whether an event could fire now, and what each transition lacks."""

    case: str
    event: str
    state: str
    allowed: bool
    reason: Reason | None
    transitions: tuple[TransitionExplanation, ...] = ()


__all__ = [
    "SYSTEM",
    "SYSTEM_ACTOR_ID",
    "Actor",
    "CaseView",
    "Explanation",
    "Outcome",
    "Reason",
    "Status",
    "TransitionExplanation",
]
