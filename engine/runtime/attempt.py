"""What one attempt produces: a pure function of the procedure, the snapshot and the inputs.

The steps of every attempt (admission, payload, guards, actions, record) and its sealed record live
here, apart from the ``Engine`` that commits them, because replay must run the
very same code and get the very same record: ``attempt`` reads nothing but its
arguments (time only from ``at``) and changes nothing.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import hashlib
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from engine.actions.context import ActionContext
from engine.audit.canonical import canonical_bytes, check_exact, exact_copy
from engine.audit.chain import GENESIS, Sealed, seal_record
from engine.audit.entry import ProcedureStamp, new_record
from engine.audit.errors import NotCanonicalizable
from engine.audit.record import Kind
from engine.definition.compile import CompiledProcedure, CompiledTransition
from engine.errors import EngineError
from engine.errors import InvalidData as InvalidData
from engine.governance.secrecy import canonical_ballots, secrecy_violations
from engine.guards.cel import Bindings, CelRuntimeError
from engine.runtime.clock import (
    DEFAULT_TIME_ZONE,
    format_time,
    local_time,
    parse_time,
    shown_on_wall_clock,
)
from engine.runtime.constant_tree import ConstantTree
from engine.runtime.deadlines import deadline_after
from engine.runtime.payloads import schema_check
from engine.runtime.provenance import provenance
from engine.runtime.refusal import (
    WITHHELD,
    kept_payload,
    payload_sha256,
    read_withheld,
    withheld_form,
    withheld_reason,
)
from engine.runtime.selector import Selector
from engine.runtime.snapshot import CaseSnapshot, new_snapshot
from engine.runtime.types import (
    Actor,
    Outcome,
    Reason,
    new_outcome,
)
from engine.units import check_unit

if TYPE_CHECKING:
    from engine.audit.signing import Signer


class Runner:
    """What attempts need per procedure version: compiled form, selector, schemas."""

    def __init__(self, compiled: CompiledProcedure) -> None:
        self.compiled = compiled
        self.procedure = compiled.procedure
        self.selector = Selector(compiled)
        self.payloads = {
            eid: schema_check(e.payload_schema) for eid, e in self.procedure.events.items()
        }
        self.data = schema_check(self.procedure.data_schema)
        # The states each event may leave (admission asks on every attempt).
        self.sources = {
            eid: frozenset(s for t in e.transitions for s in t.sources)
            for eid, e in self.procedure.events.items()
        }
        self.identity = {
            "id": self.procedure.id,
            "version": self.procedure.version,
            "sha256": self.procedure.sha256,
        }
        self.stamp = ProcedureStamp(
            id=self.procedure.id, version=self.procedure.version, sha256=self.procedure.sha256
        )
        # Built once: converting the frozen choices on every open cost more than the rest.
        self.rule_set = {
            "name": self.procedure.rule_set.name,
            "choices": _plain(self.procedure.rule_set.choices),
        }
        # Checked once; each case.opened record gets its own copy of the containers.
        try:
            self._rule_set: ConstantTree | None = ConstantTree(exact_copy(self.rule_set))
        except (NotCanonicalizable, RecursionError):
            self._rule_set = None
        # The JSON form of each action call's params, built once and copied per record.
        self.params: dict[int, ConstantTree] = {}
        for transitions in compiled.transitions.values():
            for item in transitions:
                for call in item.transition.actions:
                    # Params that are not plain JSON are copied as they are, per record.
                    with contextlib.suppress(TypeError):
                        self.params[id(call)] = ConstantTree(_plain(call.params))

    def rule_set_copy(self) -> dict[str, Any]:
        """A fresh copy of the rule set for a ``case.opened`` record.

        Raises:
            NotCanonicalizable: the procedure's choices hold a value no record can hold.
        """
        if self._rule_set is None:
            return dict(_checked(self.rule_set, "rule_set"))
        copied: dict[str, Any] = self._rule_set.copy()
        return copied


def scoped_key(actor: Actor, key: str) -> str:
    """The name a store keeps an idempotency key under: the key within its actor's keys.

    Keys are scoped per actor, so one actor can never take (or learn the outcome
    behind) another actor's key; the record keeps the key as the client sent it.
    """
    return f"{hashlib.sha256(actor.id.encode('utf-8', 'surrogatepass')).hexdigest()}:{key}"


_UNDECLARED_SHOWN = 20
"""How many undeclared fields a refusal to open names (the rest are counted)."""


def undeclared_fields(schema: Mapping[str, Any], data: Mapping[str, Any]) -> list[dict[str, str]]:
    """Top-level fields of ``data`` that a data schema with ``properties`` does not declare.

    Opening a case is where data comes from outside, so there a schema that lists
    its ``properties`` is read as closed, unless it says otherwise itself
    (``additionalProperties`` or ``patternProperties``): nobody can park unchecked
    data in a new case. Actions may still add fields later, as the schema allows.
    """
    declared = schema.get("properties")
    if not isinstance(declared, Mapping) or not isinstance(data, Mapping):
        return []
    if "additionalProperties" in schema or "patternProperties" in schema:
        return []
    extra = [key for key in data if key not in declared]
    found = [
        {"path": str(key)[:64], "message": "not a field of the procedure's data schema"}
        for key in extra[:_UNDECLARED_SHOWN]
    ]
    if len(extra) > _UNDECLARED_SHOWN:
        more = len(extra) - _UNDECLARED_SHOWN
        found.append({"path": "(root)", "message": f"and {more} more undeclared fields"})
    return found


def request_fingerprint(
    runner: Runner, event: str, actor: Actor, payload: Mapping[str, Any]
) -> str:
    """What makes two requests "the same" for idempotency, read as their record keeps it.

    A record keeps a secret ballot's ballots in canonical order and a withheld payload
    only as its sha256, so the fingerprint is the event, the actor and the sha256 of the
    payload as the record keeps it (a withheld form stands for the payload it digests).
    The request and its record give the same fingerprint, so keys rebuilt from a trail
    (``case import``) still find the first outcome; two requests differ in it exactly
    when their records would keep different payloads.
    """
    screened, _ = _screen_payload(runner, event, payload)
    form = read_withheld(screened)
    digest = str(form["sha256"]) if form is not None else payload_sha256(screened)
    body = {"event": event, "actor": actor.record(), "payload_sha256": digest}
    try:
        return hashlib.sha256(canonical_bytes(body)).hexdigest()
    except NotCanonicalizable:
        return hashlib.sha256(repr(body).encode("utf-8", "backslashreplace")).hexdigest()


def fingerprint(event: str, actor: Actor, payload: Mapping[str, Any]) -> str:
    """The fingerprint yishi stored for a key before ``request_fingerprint``: of the
    payload as sent. Still accepted for keys a store holds from then."""
    body = {"event": event, "actor": actor.record(), "payload": dict(payload)}
    try:
        return hashlib.sha256(canonical_bytes(body)).hexdigest()
    except NotCanonicalizable:
        # A payload no record can hold is refused, and a retry must still match it.
        return hashlib.sha256(repr(body).encode("utf-8", "backslashreplace")).hexdigest()


def make_env(
    data: Mapping[str, Any],
    payload: Mapping[str, Any],
    actor: Actor,
    at: datetime,
    time_zone: str = DEFAULT_TIME_ZONE,
) -> Any:
    """What guards and action expressions may read: data, payload, actor and now.

    ``now`` is the instant ``at`` on the procedure's wall clock, so ``now.getHours()``
    says the same hour whatever offset the client wrote ``at`` with. It is worked out
    when an expression first reads it (most never do).
    """
    env = Bindings.fresh(data=data, payload=payload, actor=actor.record())
    return env.defer("now", partial(local_time, at, time_zone))


def _deadline(runner: Runner, state: str, entered: datetime) -> tuple[datetime | None, str | None]:
    deadline = runner.procedure.states[state].deadline
    if deadline is None:
        return None, None
    due = deadline_after(entered, deadline.period, deadline.days, runner.procedure.time_zone)
    return due, deadline.event


def open_record(
    runner: Runner,
    case_id: str,
    data: Mapping[str, Any],
    *,
    actor: Actor,
    at: datetime,
    idempotency_key: str | None = None,
    unit: str = "",
    signer: Signer | None = None,
) -> tuple[dict[str, Any], CaseSnapshot]:
    """The sealed ``case.opened`` record and the first snapshot (signed when ``signer``).

    A case opened in an organisational unit says so in its first record (``unit``),
    so the unit travels with the trail; a case without one has no ``unit`` key, as
    records made before units existed.

    Raises:
        InvalidData: when ``data`` does not match the data schema.
        InvalidUnit: when ``unit`` is not a unit path.
        TimeOutOfRange: when the procedure's wall clock cannot show ``at``.
    """
    procedure = runner.procedure
    shown_on_wall_clock(at, procedure.time_zone)
    check_unit(unit)
    initial_data = copy_json(data if type(data) is dict else dict(data))  # a dict: one copy
    violations = runner.data.violations(initial_data)
    if violations:
        raise InvalidData(violations)
    at_text = format_time(at)
    record = new_record(
        case=case_id,
        seq=1,
        at=at_text,
        kind="case.opened",
        actor_id=actor.id,
        roles=actor.roles,
        event=None,
        payload={},
        from_state=None,
        to_state=procedure.initial,
        procedure=runner.stamp,
        rule_set=runner.rule_set_copy(),
        data=_checked(initial_data, "data"),
        engine=provenance(),
        idempotency_key=idempotency_key,
        unit=unit,
    )
    sealed = seal_record(record, GENESIS, signer)
    due, timer_event = _deadline(runner, procedure.initial, at)
    snapshot = new_snapshot(
        id=case_id,
        procedure_id=procedure.id,
        procedure_version=procedure.version,
        procedure_sha256=procedure.sha256,
        state=procedure.initial,
        data=initial_data,
        seq=1,
        head=sealed["hash"],
        final=procedure.states[procedure.initial].final,
        state_entered_at=at_text,
        deadline_at=due,
        deadline_event=timer_event,
        updated_at=at_text,
        unit=unit,
    )
    return sealed, snapshot


def _checked(value: Any, field: str) -> Any:
    """``exact_copy(value)``, its error's path placed under the record's ``field``."""
    try:
        return exact_copy(value)
    except NotCanonicalizable as exc:
        message = str(exc).removeprefix(f"{exc.path}: ")
        raise NotCanonicalizable(f"$.{field}{exc.path[1:]}", message) from exc


_ATOMS = frozenset({str, int, bool, float, type(None)})


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped values (dicts, lists, scalars), several times faster than
    ``copy.deepcopy``; anything else is handed to ``copy.deepcopy``, so it is always deep.

    Unlike ``deepcopy`` it does not keep two references to one list as one list in the
    copy: case data is a tree (it comes from JSON), and the copies are equal either way.
    """
    kind = type(value)
    if kind is dict:
        # Scalars are kept without a call: case data is mostly counts and names.
        atoms = _ATOMS
        return {
            key: item if type(item) in atoms else copy_json(item) for key, item in value.items()
        }
    if kind is list:
        return [copy_json(item) for item in value]
    if kind in _ATOMS:
        return value
    return copy.deepcopy(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def precheck(
    runner: Runner,
    snapshot: CaseSnapshot,
    event: str,
    actor: Actor | None,
    payload: Mapping[str, Any] | None,
    *,
    timer: bool = False,
) -> Reason | None:
    """Steps 1–3: is the event allowed here, is the actor authorised, is the payload valid."""
    reason = admission(runner, snapshot, event, actor, timer=timer)
    if reason is None and payload is not None:
        reason = _inexact(event, payload) or payload_reason(runner, event, payload)
    return reason


def admission(
    runner: Runner,
    snapshot: CaseSnapshot,
    event: str,
    actor: Actor | None,
    *,
    timer: bool = False,
) -> Reason | None:
    """Steps 1–2: is the event allowed in the case's state, and may the actor fire it."""
    procedure = runner.procedure
    state = procedure.states[snapshot.state]
    spec = procedure.events.get(event)
    if spec is None:
        close = difflib.get_close_matches(event, list(procedure.events), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return Reason(code="not-allowed", message=f"unknown event {event!r}{hint}")
    if snapshot.state not in runner.sources[event]:
        here = [e.id for e in procedure.events_from(snapshot.state)]
        allowed = ", ".join(here) if here else "nothing (the case is finished)"
        return Reason(
            code="not-allowed",
            message=f"{event} ({spec.label}) is not allowed in state {state.id} ({state.label}); "
            f"allowed here: {allowed}",
        )
    if actor is not None and not timer and set(actor.roles).isdisjoint(spec.roles):
        who = ", ".join(f"{r} ({procedure.roles[r].label})" for r in spec.roles) or "no role"
        held = ", ".join(actor.roles) or "no roles"
        return Reason(
            code="not-authorised",
            message=f"{actor.id} holds {held}; {event} ({spec.label}) may be fired by: {who}",
        )
    return None


def payload_reason(runner: Runner, event: str, payload: Mapping[str, Any]) -> Reason | None:
    """Step 3 after the exactness check: the payload against the event's schema."""
    violations = runner.payloads[event].violations(payload)
    if violations:
        return Reason(
            code="invalid-payload",
            message=f"the payload of {event} does not match its schema: "
            + "; ".join(f"{v['path']}: {v['message']}" for v in violations),
            details=tuple(violations),
        )
    return None


def _inexact(event: str, payload: Mapping[str, Any]) -> Reason | None:
    """An ``invalid-payload`` reason when the payload holds what no record can hold.

    The JSON reader accepts ``2.0``, ``NaN``, integers beyond 2**53 - 1 and lone
    surrogates; the schema check would let ``2.0`` pass as an integer and a guard
    could not bind a lone surrogate. Refused here, before any guard, the attempt
    is recorded with the payload withheld (``engine.runtime.refusal``).
    """
    try:
        canonical_bytes(dict(payload))
    except (NotCanonicalizable, RecursionError) as exc:
        return _inexact_reason(event, exc)
    return None


def _inexact_reason(event: str, exc: NotCanonicalizable | RecursionError) -> Reason:
    """The ``invalid-payload`` reason for a payload that failed the exactness check."""
    if isinstance(exc, RecursionError):
        message = "nested too deeply for a record"
        return Reason(
            code="invalid-payload",
            message=f"the payload of {event} is {message}",
            details=({"path": "(root)", "message": message},),
        )
    path = exc.path.removeprefix("$").lstrip(".") or "(root)"
    message = str(exc).removeprefix(f"{exc.path}: ")
    return Reason(
        code="invalid-payload",
        message=f"the payload of {event} holds a value no record can hold: {path}: {message}",
        details=({"path": path, "message": message},),
    )


def attempt(
    runner: Runner,
    snapshot: CaseSnapshot,
    event: str,
    *,
    actor: Actor,
    payload: Mapping[str, Any],
    at: datetime,
    idempotency_key: str | None = None,
    timer: bool = False,
    signer: Signer | None = None,
) -> tuple[dict[str, Any], CaseSnapshot]:
    """Steps 1–6 without the commit: the sealed (and, with ``signer``, signed) record
    and the snapshot after it.

    Raises:
        TimeOutOfRange: when the procedure's wall clock cannot show ``at``.
    """
    shown_on_wall_clock(at, runner.procedure.time_zone)
    at_text = format_time(at)
    payload, reason = _screen_payload(runner, event, payload)
    kept, inexact = _exact_payload(event, payload)
    state, data = snapshot.state, snapshot.data
    guards: tuple[Mapping[str, Any], ...] = ()
    outputs: tuple[Mapping[str, Any], ...] = ()
    if reason is None:
        reason = admission(runner, snapshot, event, actor, timer=timer)
    if reason is None:
        reason = inexact or payload_reason(runner, event, payload)
    if reason is None:
        env = make_env(data, payload, actor, at, runner.procedure.time_zone)
        selection = runner.selector.select(event, snapshot.state, env)
        guards = tuple(selection.guard_records())
        chosen = selection.chosen
        if chosen is None:
            failing = selection.failing()
            reason = Reason(
                code="guards-failed",
                message=f"no transition of {event} could run: " + "; ".join(failing),
                details=tuple(failing),
            )
        else:
            reason, new_data, done = _run_actions(
                runner, chosen, data, payload, env, actor=actor, at=at
            )
            if reason is None:
                state = chosen.transition.target
                outputs = tuple(done)
                data = new_data
    if reason is not None:
        kept, reason = kept_payload(event, kept, reason)
        if read_withheld(kept) is not None:
            # Guard inputs quote the payload; replay rebuilds this refusal without them.
            guards = ()
    if timer:
        kind: Kind = "timer.fired"  # applied or not: the reason says which
    else:
        kind = "event.refused" if reason is not None else "event.applied"
    record = new_record(
        case=snapshot.id,
        seq=snapshot.seq + 1,
        at=at_text,
        kind=kind,
        actor_id=actor.id,
        roles=actor.roles,
        event=event,
        payload=kept,
        from_state=snapshot.state,
        to_state=state,
        guards=guards,
        actions=outputs,
        procedure=runner.stamp,
        engine=provenance(),
        idempotency_key=idempotency_key,
        reason=reason,
    )
    sealed = seal_record(record, snapshot.head, signer)
    due, timer_event = snapshot.deadline_at, snapshot.deadline_event
    entered = snapshot.state_entered_at
    if state != snapshot.state or (timer and reason is None):
        # Entering a state arms its deadline; so does a timer's own self-loop, which is
        # how a procedure says "every period" (a quarterly disclosure, a weekly visit).
        due, timer_event = _deadline(runner, state, at)
        entered = at_text
    elif timer:
        due, timer_event = None, None  # a refused timer is recorded, not retried
    # Every field named (``replace`` costs several times more); a test holds this
    # list to CaseSnapshot's fields.
    new = new_snapshot(
        id=snapshot.id,
        procedure_id=snapshot.procedure_id,
        procedure_version=snapshot.procedure_version,
        procedure_sha256=snapshot.procedure_sha256,
        state=state,
        data=data,
        seq=snapshot.seq + 1,
        head=sealed["hash"],
        final=runner.procedure.states[state].final,
        state_entered_at=entered,
        deadline_at=due,
        deadline_event=timer_event,
        updated_at=at_text,
        unit=snapshot.unit,
    )
    return sealed, new


def _exact_payload(event: str, payload: Mapping[str, Any]) -> tuple[dict[str, Any], Reason | None]:
    """The record's own copy of ``payload`` and, when no record can hold it, the reason.

    Copying and checking are one walk (``exact_copy``); a payload that fails the
    check is still copied for the record, which then keeps only its withheld form.
    """
    try:
        # A dict is copied as it is (``dict(payload)`` first would copy it twice).
        return exact_copy(payload if type(payload) is dict else dict(payload)), None
    except (NotCanonicalizable, RecursionError) as exc:
        return copy_json(dict(payload)), _inexact_reason(event, exc)


def _screen_payload(
    runner: Runner, event: str, payload: Mapping[str, Any]
) -> tuple[Mapping[str, Any], Reason | None]:
    """The payload as the attempt will use and record it, or the refusal it earns first.

    A withheld form (see ``engine.runtime.refusal``) stands for a refusal already
    decided, which replay must reach again. A secret-ballot event's ballots must hold
    marks only (else the payload is refused and withheld, before anything of it is
    recorded) and are put in canonical order, whatever order they were entered in.
    """
    form = read_withheld(payload)
    if form is not None:
        return payload, withheld_reason(event, form)
    spec = runner.procedure.events.get(event)
    if spec is None or not spec.secret_ballot:
        return payload, None
    violations = secrecy_violations(payload)
    if violations:
        paths = [v["path"] for v in violations]
        withheld = withheld_form(payload, why="secret-ballot", code="secret-ballot", paths=paths)
        return withheld, withheld_reason(event, withheld[WITHHELD])
    return canonical_ballots(payload), None


def _run_actions(
    runner: Runner,
    chosen: CompiledTransition,
    data: Mapping[str, Any],
    payload: Mapping[str, Any],
    env: dict[str, Any],
    *,
    actor: Actor,
    at: datetime,
) -> tuple[Reason | None, Mapping[str, Any], list[dict[str, Any]]]:
    if not chosen.transition.actions:
        # Nothing can change the data, and it was checked (schema and exactness) when
        # it was written under this very procedure version: the snapshots share it.
        return None, data, []
    # A dict is copied as it is (``dict(data)`` first would copy it twice).
    working = copy_json(data if type(data) is dict else dict(data))
    ctx = ActionContext(
        data=working,
        payload=payload,
        now=at,
        actor=actor,
        expressions=runner.compiled.expressions,
        counting=runner.procedure.counting,
        env=env,
    )
    outputs = []
    registry = runner.compiled.registry
    for call in chosen.transition.actions:
        try:
            output = registry[call.name].run(call.params, ctx)
        except (EngineError, CelRuntimeError) as exc:
            message = f"action {call.name} failed: {exc}"
            return Reason(code="action-failed", message=message), dict(data), []
        params = runner.params.get(id(call))
        plain = params.copy() if params is not None else copy_json(_plain(call.params))
        outputs.append({"name": call.name, "params": plain, "output": output})
        ctx.stale = True
    unsealable = _unsealable(outputs, working, data)
    if unsealable is not None:
        return unsealable, dict(data), []
    violations = runner.data.violations(working)
    if violations:
        message = "the actions would leave the case data invalid: " + "; ".join(
            f"{v['path']}: {v['message']}" for v in violations
        )
        return (
            Reason(code="action-failed", message=message, details=tuple(violations)),
            dict(data),
            [],
        )
    return None, working, outputs


def _unsealable(
    outputs: list[dict[str, Any]], working: dict[str, Any], before: Mapping[str, Any]
) -> Reason | None:
    """An ``action-failed`` reason when the actions produced what a record cannot hold.

    An action may compute a value that no audit record can hold exactly (an
    integer beyond ±(2**53 - 1), say, from a count times a large factor). Sealing
    the record would then fail after the guards had passed; checked here, the
    attempt is a recorded refusal instead and the case data stays as it was.
    This is the one check of what actions leave: sealing does not walk it again.

    Only what the actions may have changed is walked: a top-level value of the
    data that is still the very object it was ``before`` was checked when the data
    was written (``copy_json`` gives every list and dict a new object, so those are
    always walked; only scalars and immutable values can be the same object).
    """
    changed = {
        key: value
        for key, value in working.items()
        if key not in before or value is not before[key]
    }
    try:
        check_exact((changed, outputs))  # one walk for both; apart only to name the place
        return None
    except (NotCanonicalizable, RecursionError):
        pass
    for where, value in (("data", working), ("actions", outputs)):
        try:
            canonical_bytes(value)
        except NotCanonicalizable as exc:
            path = where + exc.path.removeprefix("$")
            message = f"the actions produced a value no record can hold: {exc}".replace(
                exc.path, path, 1
            )
            return Reason(
                code="action-failed",
                message=message,
                details=({"path": path, "message": str(exc).removeprefix(f"{exc.path}: ")},),
            )
        except RecursionError:
            message = f"the actions produced {where} nested too deeply for a record"
            return Reason(
                code="action-failed",
                message=message,
                details=({"path": where, "message": "nested too deeply"},),
            )
    return None


def outcome_of(record: Mapping[str, Any]) -> Outcome:
    """The outcome an audit record stands for.

    A record this process just sealed is read from its typed form (its ``Reason``
    as the attempt made it); one read back from a store or a file, from its fields.
    """
    entry = record.entry if isinstance(record, Sealed) else None
    if entry is not None:
        return new_outcome(
            case=entry.case,
            seq=entry.seq,
            status="refused" if entry.reason is not None else "applied",
            event=entry.event,
            from_state=entry.from_state,
            to_state=entry.to_state,
            reason=entry.reason,
            guards=entry.guards,
            record=record,
        )
    reason = record.get("reason")
    return new_outcome(
        case=record["case"],
        seq=record["seq"],
        status="refused" if "reason" in record else "applied",
        event=record.get("event"),
        from_state=record.get("from"),
        to_state=record["to"],
        reason=Reason(
            code=reason["code"], message=reason["message"], details=tuple(reason["details"])
        )
        if reason
        else None,
        guards=tuple(record.get("guards", ())),
        record=record,
    )


def recorded_time(record: Mapping[str, Any]) -> datetime:
    """The ``at`` of a record as a datetime."""
    return parse_time(str(record["at"]))
