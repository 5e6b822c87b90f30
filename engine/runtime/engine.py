"""The engine: open cases, fire events, explain, tick timers.

Every attempt goes through the same steps, in this order (DESIGN.md):

1. the event exists and is valid in the case's state, else refused (``not-allowed``);
2. the actor holds one of the event's roles, else refused (``not-authorised``);
3. the payload matches the event's schema, else refused with every violation and path;
4. candidate transitions are tried in file order, every guard's result recorded;
5. the first transition whose guards all hold runs its actions and changes the state;
6. one audit record is committed with the new snapshot; refusals are recorded too.

``attempt`` (steps 1–5 and the record) is a pure function of the procedure, the
snapshot and the recorded inputs, so replay calls the very same code and must get
the very same record. Time comes only from the attempt's ``at``.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog

from engine.audit.canonical import canonical_bytes
from engine.audit.chain import GENESIS, seal
from engine.definition.compile import CompiledProcedure
from engine.definition.loader import load_source
from engine.errors import CaseError, Conflict, EngineError, UnknownCase
from engine.guards.cel import Bindings, CelRuntimeError
from engine.runtime.clock import Clock, SystemClock, format_time, parse_time
from engine.runtime.deadlines import deadline_after
from engine.runtime.machine import AttemptTrace, Draft, build_machine, fire
from engine.runtime.payloads import SchemaCheck
from engine.runtime.types import (
    SYSTEM,
    Actor,
    CaseView,
    Explanation,
    Outcome,
    Reason,
    TransitionExplanation,
)
from engine.storage.base import CaseSnapshot, Store
from engine.storage.memory import MemoryStore

FORMAT_VERSION = 1


class InvalidData(CaseError):
    """A case's initial data does not match the procedure's data schema."""

    def __init__(self, violations: list[dict[str, str]]) -> None:
        self.violations = violations
        lines = "; ".join(f"{v['path']}: {v['message']}" for v in violations)
        super().__init__(f"the case data does not match the procedure's data schema: {lines}")


class IdempotencyMismatch(CaseError):
    """An idempotency key was reused for a different request."""


def _log(**bound: Any) -> Any:
    """A bound structlog logger, or None while the host has not configured structlog."""
    if not structlog.is_configured():
        return None
    return structlog.get_logger("yishi").bind(**bound)


@dataclass(slots=True)
class _ActionContext:
    data: dict[str, Any]
    payload: Mapping[str, Any]
    env: dict[str, Any]
    compiled: CompiledProcedure

    def evaluate(self, expression: str) -> Any:
        return self.compiled.expressions[expression].evaluate(self.env)


class _Runner:
    """Everything the engine keeps per procedure version: compiled form, machine, schemas."""

    def __init__(self, compiled: CompiledProcedure) -> None:
        self.compiled = compiled
        self.procedure = compiled.procedure
        self.machine = build_machine(compiled)
        self.payloads = {
            eid: SchemaCheck(e.payload_schema) for eid, e in self.procedure.events.items()
        }
        self.data = SchemaCheck(self.procedure.data_schema)
        self.identity = {
            "id": self.procedure.id,
            "version": self.procedure.version,
            "sha256": self.procedure.sha256,
        }
        # Built once: converting the frozen choices on every open cost more than the rest.
        self.rule_set = {
            "name": self.procedure.rule_set.name,
            "choices": _plain(self.procedure.rule_set.choices),
        }


def fingerprint(event: str, actor: Actor, payload: Mapping[str, Any]) -> str:
    """What makes two requests "the same" for idempotency: event, actor and payload."""
    body = {"event": event, "actor": actor.record(), "payload": dict(payload)}
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


class Engine:
    """Runs cases through procedures, with a store and a clock.

    Args:
        store: where cases live (in memory when omitted).
        clock: supplies ``at`` when an attempt omits it (the system clock when omitted).
    """

    def __init__(self, store: Store | None = None, clock: Clock | None = None) -> None:
        self.store: Store = store if store is not None else MemoryStore()
        self.clock: Clock = clock or SystemClock()
        self._runners: dict[str, _Runner] = {}

    # -- procedures -------------------------------------------------------------------------

    def register(self, compiled: CompiledProcedure) -> None:
        """Make a procedure version available and keep its source in the store."""
        procedure = compiled.procedure
        if procedure.sha256 not in self._runners:
            self._runners[procedure.sha256] = _Runner(compiled)
        self.store.save_procedure(
            id=procedure.id, version=procedure.version, sha256=procedure.sha256,
            source=procedure.source,
        )  # fmt: skip

    def _runner(self, sha256: str) -> _Runner:
        runner = self._runners.get(sha256)
        if runner is None:
            source = self.store.procedure_source(sha256)
            if source is None:
                raise EngineError(f"procedure version {sha256[:12]}… is not in the store")
            runner = self._runners[sha256] = _Runner(load_source(source, f"<store:{sha256[:12]}>"))
        return runner

    # -- cases ------------------------------------------------------------------------------

    def open_case(
        self,
        procedure: CompiledProcedure,
        case_id: str,
        data: Mapping[str, Any],
        *,
        actor: Actor | Mapping[str, Any],
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Open a case in the procedure's initial state with ``data``.

        Raises:
            InvalidData: when ``data`` does not match the procedure's data schema.
            CaseExists: when a case with this id is already open.
        """
        self.register(procedure)
        runner = self._runners[procedure.procedure.sha256]
        record, snapshot = open_record(
            runner,
            case_id,
            data,
            actor=Actor.of(actor),
            at=at or self.clock.now(),
            idempotency_key=idempotency_key,
        )
        self.store.commit(snapshot, record, expected_seq=0)
        log = _log(case=case_id, procedure=procedure.procedure.id)
        if log is not None:
            log.info("case.opened", state=snapshot.state)
        return outcome_of(record)

    def fire(
        self,
        case_id: str,
        event: str,
        *,
        actor: Actor | Mapping[str, Any],
        payload: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
        expected_seq: int | None = None,
    ) -> Outcome:
        """Attempt ``event`` on a case; the outcome says applied or refused, and why.

        Raises:
            UnknownCase: when there is no such case.
            Conflict: when ``expected_seq`` is given and the case has moved on, or a
                concurrent writer committed first.
            IdempotencyMismatch: when the key was used before for a different request.
        """
        snapshot = self._snapshot(case_id)
        who = Actor.of(actor)
        body = dict(payload or {})
        # A retry of a request that was applied gets its first outcome, even with the
        # expected seq it was first sent with: that is what makes a retry safe.
        if idempotency_key is not None:
            earlier = self._idempotent(case_id, idempotency_key, event, who, body)
            if earlier is not None:
                return earlier
        if expected_seq is not None and snapshot.seq != expected_seq:
            raise Conflict(
                f"case {case_id!r} is at seq {snapshot.seq}, not {expected_seq}: "
                "read it again and retry"
            )
        runner = self._runner(snapshot.procedure_sha256)
        when = at or self.clock.now()
        record, new = attempt(
            runner, snapshot, event, actor=who, payload=body, at=when,
            idempotency_key=idempotency_key,
        )  # fmt: skip
        self.store.commit(
            new,
            record,
            expected_seq=snapshot.seq,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint(event, who, body) if idempotency_key else None,
        )
        log = _log(case=case_id, procedure=snapshot.procedure_id, event=event)
        if log is not None:
            log.info(record["kind"], seq=record["seq"], to=record["to"])
        return outcome_of(record)

    def _idempotent(
        self, case_id: str, key: str, event: str, actor: Actor, payload: Mapping[str, Any]
    ) -> Outcome | None:
        entry = self.store.idempotency(case_id, key)
        if entry is None:
            return None
        if entry.fingerprint != fingerprint(event, actor, payload):
            raise IdempotencyMismatch(
                f"idempotency key {key!r} was first used on case {case_id!r} for a different "
                f"request (seq {entry.seq}); use a new key for a new request"
            )
        first = self.store.records(case_id, upto=entry.seq)[-1]
        return replace(outcome_of(first), replayed=True)

    def tick(self, now: datetime | None = None, *, limit: int | None = None) -> list[Outcome]:
        """Fire every timer due at ``now`` (at most ``limit``), each at its own due time.

        Timers are claimed from the store first, so several workers sharing a store
        take different timers; the expected seq still makes each fire at most once.
        """
        moment = now or self.clock.now()
        outcomes = []
        for snapshot in self.store.claim_due_timers(moment, limit=limit):
            runner = self._runner(snapshot.procedure_sha256)
            assert snapshot.deadline_event is not None and snapshot.deadline_at is not None
            record, new = attempt(
                runner, snapshot, snapshot.deadline_event, actor=SYSTEM, payload={},
                at=snapshot.deadline_at, timer=True,
            )  # fmt: skip
            try:
                self.store.commit(new, record, expected_seq=snapshot.seq)
            except Conflict:
                continue  # someone else fired it or moved the case: nothing to do
            outcomes.append(outcome_of(record))
        return outcomes

    def case(self, case_id: str, *, history: bool = True) -> CaseView:
        """The case as it stands, with its audit records when ``history``."""
        snapshot = self._snapshot(case_id)
        deadline = None
        if snapshot.deadline_at is not None and snapshot.deadline_event is not None:
            deadline = {"at": format_time(snapshot.deadline_at), "event": snapshot.deadline_event}
        return CaseView(
            id=snapshot.id,
            procedure={
                "id": snapshot.procedure_id,
                "version": snapshot.procedure_version,
                "sha256": snapshot.procedure_sha256,
            },
            state=snapshot.state,
            data=copy_json(dict(snapshot.data)),
            seq=snapshot.seq,
            head=snapshot.head,
            final=snapshot.final,
            deadline=deadline,
            history=tuple(self.store.records(case_id)) if history else (),
        )

    def records(self, case_id: str) -> list[dict[str, Any]]:
        """The case's audit records in seq order."""
        self._snapshot(case_id)
        return self.store.records(case_id)

    def explain(
        self,
        case_id: str,
        event: str,
        *,
        actor: Actor | Mapping[str, Any] | None = None,
        payload: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> Explanation:
        """What ``event`` would need now: every candidate transition's guards. Changes nothing."""
        snapshot = self._snapshot(case_id)
        runner = self._runner(snapshot.procedure_sha256)
        who = Actor.of(actor) if actor is not None else None
        body = dict(payload or {})
        reason = precheck(runner, snapshot, event, who, body if payload is not None else None)
        if reason is not None and reason.code == "not-allowed":
            return Explanation(
                case=case_id, event=event, state=snapshot.state, allowed=False, reason=reason
            )
        env = _env(snapshot.data, body, who or SYSTEM, at or self.clock.now())
        explained = []
        for compiled in runner.compiled.transitions[event]:
            t = compiled.transition
            if snapshot.state not in t.sources:
                continue
            results = tuple(g.evaluate(env).record() for g in compiled.guards)
            explained.append(
                TransitionExplanation(
                    index=t.index,
                    target=t.target,
                    label=t.label,
                    ready=all(r["result"] for r in results),
                    guards=results,
                )
            )
        return Explanation(
            case=case_id,
            event=event,
            state=snapshot.state,
            allowed=reason is None and any(t.ready for t in explained),
            reason=reason,
            transitions=tuple(explained),
        )

    def _snapshot(self, case_id: str) -> CaseSnapshot:
        snapshot = self.store.get_case(case_id)
        if snapshot is None:
            raise UnknownCase(f"no case {case_id!r}")
        return snapshot


# -- the pure part: what an attempt produces ----------------------------------------------------


def _env(data: Mapping[str, Any], payload: Mapping[str, Any], actor: Actor, at: datetime) -> Any:
    return Bindings(data=data, payload=payload, actor=actor.record(), now=at)


def _deadline(runner: _Runner, state: str, entered: datetime) -> tuple[datetime | None, str | None]:
    deadline = runner.procedure.states[state].deadline
    if deadline is None:
        return None, None
    return deadline_after(entered, deadline.period, deadline.days), deadline.event


def open_record(
    runner: _Runner,
    case_id: str,
    data: Mapping[str, Any],
    *,
    actor: Actor,
    at: datetime,
    idempotency_key: str | None = None,
) -> tuple[dict[str, Any], CaseSnapshot]:
    """The sealed ``case.opened`` record and the first snapshot.

    Raises:
        InvalidData: when ``data`` does not match the data schema.
    """
    procedure = runner.procedure
    initial_data = copy_json(dict(data))
    violations = runner.data.violations(initial_data)
    if violations:
        raise InvalidData(violations)
    at_text = format_time(at)
    record: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "case": case_id,
        "seq": 1,
        "at": at_text,
        "kind": "case.opened",
        "actor": actor.record(),
        "event": None,
        "payload": {},
        "from": None,
        "to": procedure.initial,
        "guards": [],
        "actions": [],
        "procedure": dict(runner.identity),
        "rule_set": copy_json(runner.rule_set),
        "data": initial_data,
    }
    if idempotency_key is not None:
        record["idempotency_key"] = idempotency_key
    sealed = seal(record, GENESIS)
    due, timer_event = _deadline(runner, procedure.initial, at)
    snapshot = CaseSnapshot(
        id=case_id,
        procedure_id=procedure.id,
        procedure_version=procedure.version,
        procedure_sha256=procedure.sha256,
        state=procedure.initial,
        data=copy_json(initial_data),
        seq=1,
        head=sealed["hash"],
        final=procedure.states[procedure.initial].final,
        state_entered_at=at_text,
        deadline_at=due,
        deadline_event=timer_event,
        updated_at=at_text,
    )
    return sealed, snapshot


_ATOMS = frozenset({str, int, bool, float, type(None)})


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped values (dicts, lists, scalars), several times faster than
    ``copy.deepcopy``; anything else is handed to ``copy.deepcopy``, so it is always deep.

    Unlike ``deepcopy`` it does not keep two references to one list as one list in the
    copy: case data is a tree (it comes from JSON), and the copies are equal either way.
    """
    kind = type(value)
    if kind is dict:
        return {key: copy_json(item) for key, item in value.items()}
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
    runner: _Runner,
    snapshot: CaseSnapshot,
    event: str,
    actor: Actor | None,
    payload: Mapping[str, Any] | None,
    *,
    timer: bool = False,
) -> Reason | None:
    """Steps 1–3: is the event allowed here, is the actor authorised, is the payload valid."""
    procedure = runner.procedure
    state = procedure.states[snapshot.state]
    spec = procedure.events.get(event)
    if spec is None:
        close = difflib.get_close_matches(event, list(procedure.events), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return Reason(code="not-allowed", message=f"unknown event {event!r}{hint}")
    if not any(snapshot.state in t.sources for t in spec.transitions):
        here = [e.id for e in procedure.events_from(snapshot.state)]
        allowed = ", ".join(here) if here else "nothing (the case is finished)"
        return Reason(
            code="not-allowed",
            message=f"{event} ({spec.label}) is not allowed in state {state.id} ({state.label}); "
            f"allowed here: {allowed}",
        )
    if actor is not None and not timer and not set(actor.roles) & set(spec.roles):
        who = ", ".join(f"{r} ({procedure.roles[r].label})" for r in spec.roles) or "no role"
        held = ", ".join(actor.roles) or "no roles"
        return Reason(
            code="not-authorised",
            message=f"{actor.id} holds {held}; {event} ({spec.label}) may be fired by: {who}",
        )
    if payload is not None:
        violations = runner.payloads[event].violations(payload)
        if violations:
            return Reason(
                code="invalid-payload",
                message=f"the payload of {event} does not match its schema: "
                + "; ".join(f"{v['path']}: {v['message']}" for v in violations),
                details=tuple(violations),
            )
    return None


def attempt(
    runner: _Runner,
    snapshot: CaseSnapshot,
    event: str,
    *,
    actor: Actor,
    payload: Mapping[str, Any],
    at: datetime,
    idempotency_key: str | None = None,
    timer: bool = False,
) -> tuple[dict[str, Any], CaseSnapshot]:
    """Steps 1–6 without the commit: the sealed record and the snapshot after it."""
    at_text = format_time(at)
    record: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "case": snapshot.id,
        "seq": snapshot.seq + 1,
        "at": at_text,
        "kind": "event.refused",
        "actor": actor.record(),
        "event": event,
        "payload": copy_json(dict(payload)),
        "from": snapshot.state,
        "to": snapshot.state,
        "guards": [],
        "actions": [],
        "procedure": dict(runner.identity),
    }
    if idempotency_key is not None:
        record["idempotency_key"] = idempotency_key
    state, data = snapshot.state, snapshot.data
    reason = precheck(runner, snapshot, event, actor, payload, timer=timer)
    if reason is None:
        env = _env(data, payload, actor, at)
        trace = AttemptTrace(env=env)
        fired = fire(runner.machine, event, Draft(state=snapshot.state), trace)
        record["guards"] = trace.guards
        if not fired or trace.chosen is None:
            failing = [g["explanation"] for g in trace.guards if not g["result"]]
            reason = Reason(
                code="guards-failed",
                message=f"no transition of {event} could run: " + "; ".join(failing),
                details=tuple(failing),
            )
        else:
            reason, new_data, outputs = _run_actions(runner, trace, data, payload, env)
            if reason is None:
                record["kind"] = "event.applied"
                record["to"] = state = trace.chosen.transition.target
                record["actions"] = outputs
                data = new_data
    if reason is not None:
        record["reason"] = reason.record()
    if timer:
        record["kind"] = "timer.fired"  # applied or not: the reason says which
    sealed = seal(record, snapshot.head)
    due, timer_event = snapshot.deadline_at, snapshot.deadline_event
    entered = snapshot.state_entered_at
    if state != snapshot.state or (timer and reason is None):
        # Entering a state arms its deadline; so does a timer's own self-loop, which is
        # how a procedure says "every period" (a quarterly disclosure, a weekly visit).
        due, timer_event = _deadline(runner, state, at)
        entered = at_text
    elif timer:
        due, timer_event = None, None  # a refused timer is recorded, not retried
    new = replace(
        snapshot,
        state=state,
        data=data,
        seq=snapshot.seq + 1,
        head=sealed["hash"],
        final=runner.procedure.states[state].final,
        state_entered_at=entered,
        deadline_at=due,
        deadline_event=timer_event,
        updated_at=at_text,
    )
    return sealed, new


def _run_actions(
    runner: _Runner,
    trace: AttemptTrace,
    data: Mapping[str, Any],
    payload: Mapping[str, Any],
    env: dict[str, Any],
) -> tuple[Reason | None, dict[str, Any], list[dict[str, Any]]]:
    assert trace.chosen is not None
    working = copy_json(dict(data))
    ctx = _ActionContext(data=working, payload=payload, env=env, compiled=runner.compiled)
    outputs = []
    registry = runner.compiled.registry
    for call in trace.chosen.transition.actions:
        try:
            output = registry[call.name].run(call.params, ctx)
        except (EngineError, CelRuntimeError) as exc:
            message = f"action {call.name} failed: {exc}"
            return Reason(code="action-failed", message=message), dict(data), []
        outputs.append({"name": call.name, "params": _plain(call.params), "output": output})
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


def outcome_of(record: Mapping[str, Any]) -> Outcome:
    """The outcome an audit record stands for."""
    reason = record.get("reason")
    return Outcome(
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
