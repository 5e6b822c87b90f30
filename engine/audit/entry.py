"""The audit record the engine writes, typed from the attempt until the wire.

The runtime builds one ``AuditRecord`` per attempt (or opened case) and ``seal_record``
(``engine.audit.chain``) turns it into the sealed dict that stores and files keep.
``to_wire`` gives the very dict the engine wrote as a literal before this type
existed: the same keys, in the same order, so the canonical bytes and the hashes
of every record stay as they were (the replay property tests and the stored logs
under ``tests/`` hold them to it).

Being typed is what lets sealing skip the walk that a record read from outside
needs (``record_problem`` and the float-refusing check of ``canonical_bytes``):

* the scalars (case, seq, time, kind, states, event) and the actor, procedure and
  engine fields have their types by construction; the few a caller supplies (the
  case id, the actor, the idempotency key) get a cheap type test in ``wire_problem``;
* the values that come from outside are checked once, where they enter: the
  payload before any guard reads it, the case data when a case opens, and the data
  and outputs that actions leave (``engine.runtime.attempt``);
* the rest the engine makes itself from those checked values: guard inputs hold
  the integers, strings and booleans a guard read, explanations are text, times
  are formatted by the clock, the rule set was checked when its procedure loaded.

Anything that slips through anyway and has no JSON form — an integer beyond
±(2**53 - 1), a lone surrogate, a key that is not a string, a datetime — still
stops the seal: the strict encoding refuses it and the full check names its path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.audit.record import FORMAT_VERSION, Kind
from engine.frozen import builder


@dataclass(frozen=True, slots=True, kw_only=True)
class Reason:
    """Why an attempt was refused.

    ``code`` is one of: ``not-allowed`` (event unknown or not valid in this state),
    ``not-authorised`` (the actor holds none of the event's roles), ``invalid-payload``
    (``details`` lists each violation with its path), ``guards-failed`` (no candidate
    transition's guards all held; ``details`` has each failing guard's explanation),
    ``action-failed``, ``secret-ballot`` (a secret ballot holds more than marks;
    ``details`` has the ballots' paths). When a refused payload is withheld (see
    ``engine.runtime.refusal``) ``details`` holds the violation paths only.
    """

    code: str
    message: str
    details: tuple[Any, ...] = ()

    def record(self) -> dict[str, Any]:
        """The record's ``reason`` field: ``{"code", "message", "details": [...]}``."""
        return {"code": self.code, "message": self.message, "details": list(self.details)}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureStamp:
    """The procedure version a record was written under (its ``procedure`` field)."""

    id: str
    version: str
    sha256: str

    def record(self) -> dict[str, str]:
        """``{"id", "version", "sha256"}``, a fresh dict for each record."""
        return {"id": self.id, "version": self.version, "sha256": self.sha256}


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """One audit record before it is sealed (format version ``FORMAT_VERSION``).

    Field names follow the wire except ``from_state``/``to_state`` (``from``/``to``)
    and ``actor_id``/``roles`` (``actor``). ``guards`` and ``actions`` hold each guard
    result's and each action's JSON-ready form; ``payload``, ``rule_set`` and
    ``data`` are values already checked (see the module docstring) and owned by this
    record: nothing else may change them.
    """

    case: str
    seq: int
    at: str
    kind: Kind
    actor_id: str
    roles: tuple[str, ...]
    event: str | None
    payload: Mapping[str, Any]
    from_state: str | None
    to_state: str
    guards: tuple[Mapping[str, Any], ...] = ()
    actions: tuple[Mapping[str, Any], ...] = ()
    procedure: ProcedureStamp
    rule_set: Mapping[str, Any] | None = None
    """``case.opened`` only: the procedure's rule set and choices."""
    data: Mapping[str, Any] | None = None
    """``case.opened`` only: the case's initial data."""
    engine: Mapping[str, str] | None = None
    """Which yishi and which registry wrote the record (``engine.runtime.provenance``)."""
    idempotency_key: str | None = None
    unit: str = ""
    """``case.opened`` only: the organisational unit ("" for none: no ``unit`` key)."""
    reason: Reason | None = None

    def to_wire(self, prev: str) -> dict[str, Any]:
        """The record as a dict, with ``prev`` set and no ``signature`` or ``hash`` yet.

        The keys come in the order the engine has always written them; the values
        are shared with this record, except the small dicts made here.
        """
        wire: dict[str, Any] = {
            "v": FORMAT_VERSION,
            "case": self.case,
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind,
            "actor": {"id": self.actor_id, "roles": list(self.roles)},
            "event": self.event,
            "payload": self.payload,
            "from": self.from_state,
            "to": self.to_state,
            "guards": list(self.guards),
            "actions": list(self.actions),
            "procedure": self.procedure.record(),
        }
        if self.rule_set is not None:
            wire["rule_set"] = self.rule_set
        if self.data is not None:
            wire["data"] = self.data
        if self.engine is not None:
            wire["engine"] = dict(self.engine)
        if self.idempotency_key is not None:
            wire["idempotency_key"] = self.idempotency_key
        if self.unit:
            wire["unit"] = self.unit
        if self.reason is not None:
            wire["reason"] = self.reason.record()
        wire["prev"] = prev
        return wire

    def supplied_ok(self) -> bool:
        """Whether the fields a caller supplies have their types (when not,
        ``record_problem`` on the wire form names the one that does not); the
        engine gives the others their types itself."""
        roles = self.roles
        return bool(
            type(self.case) is str
            and self.case
            and type(self.seq) is int
            and self.seq >= 1
            and (self.kind == "case.opened") == (self.seq == 1)
            and type(self.actor_id) is str
            and isinstance(roles, tuple | list)
            and _all_str(roles)
            and (self.event is None or type(self.event) is str)
            and (self.idempotency_key is None or type(self.idempotency_key) is str)
            and type(self.unit) is str
        )


new_record = builder(AuditRecord)
"""``AuditRecord(...)`` at a fraction of the cost (``engine.frozen``): a record per attempt."""


WIRE_ORDER = (
    "v", "case", "seq", "at", "kind", "actor", "event", "payload", "from", "to", "guards",
    "actions", "procedure", "rule_set", "data", "engine", "idempotency_key", "unit", "reason",
    "prev", "signature", "hash",
)  # fmt: skip
"""The keys of a sealed record in the order ``to_wire`` and sealing give them (optional
ones where they fall when present). A stored line keeps them sorted, the hash first."""


def in_wire_order(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` (parsed from its line) with its keys in the order the engine sealed them.

    Keys this format does not know keep their parsed order after the known ones.
    """
    ordered = {key: record[key] for key in WIRE_ORDER if key in record}
    if len(ordered) != len(record):
        ordered.update(record)
    return ordered


def _all_str(values: tuple[str, ...] | list[str]) -> bool:
    """Whether every value is a ``str`` (``join`` checks in C)."""
    try:
        "".join(values)
    except TypeError:
        return False
    return True


__all__ = [
    "WIRE_ORDER",
    "AuditRecord",
    "ProcedureStamp",
    "Reason",
    "in_wire_order",
    "new_record",
]
