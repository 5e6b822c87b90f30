"""The engine: open cases, fire events, explain, tick timers.

Every attempt goes through the same steps, in this order:

0. the door (``engine.runtime.door``): an actor who holds no role in the procedure
   is refused with ``Forbidden`` and nothing is recorded; opening a case needs one
   of the procedure's ``opened_by`` roles;
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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from engine.definition.compile import CompiledProcedure
from engine.definition.loader import check_source, load_source
from engine.errors import (
    Conflict,
    EngineError,
    Problem,
    ProcedureInvalid,
    StoreError,
    UnknownCase,
)
from engine.errors import IdempotencyMismatch as IdempotencyMismatch
from engine.errors import TimeWentBackwards as TimeWentBackwards
from engine.runtime.attempt import (
    InvalidData,
    Runner,
    attempt,
    copy_json,
    fingerprint,
    make_env,
    open_record,
    outcome_of,
    precheck,
    request_fingerprint,
    scoped_key,
    undeclared_fields,
)
from engine.runtime.case_turns import CaseTurns
from engine.runtime.clock import Clock, SystemClock, format_time, normalise, parse_time
from engine.runtime.door import check_member, check_opener
from engine.runtime.procedure_cache import DEFAULT_SIZE, ProcedureCache
from engine.runtime.reads import StoreReads
from engine.runtime.snapshot import CaseSnapshot
from engine.runtime.snapshot_cache import SnapshotCache
from engine.runtime.types import (
    SYSTEM,
    Actor,
    CaseView,
    Explanation,
    Outcome,
    TransitionExplanation,
)
from engine.storage.base import Store
from engine.storage.memory import MemoryStore

if TYPE_CHECKING:
    from engine.audit.signing import Signer


_RETRIES = 8
"""How often ``fire`` reads a case again after another writer moved it first.

Each retry follows another writer's success, so the case progresses; the bound
only keeps a caller from starving forever behind a stream of others.
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Registration:
    """What ``Engine.register_source`` did: the checked procedure, its warnings, whether new."""

    compiled: CompiledProcedure
    warnings: tuple[Problem, ...]
    registered: bool


def _log(**bound: Any) -> Any:
    """A bound structlog logger, or None while the host has not configured structlog."""
    if not structlog.is_configured():
        return None
    return structlog.get_logger("yishi").bind(**bound)


class Engine(StoreReads):
    """Runs cases through procedures, with a store and a clock.

    Args:
        store: where cases live (in memory when omitted).
        clock: supplies ``at`` when an attempt omits it (the system clock when omitted).
        signer: signs every record this engine writes (a key kept apart from the store,
            so that write access to the store alone cannot forge a trail).
        cache_size: how many compiled procedure versions to keep (least recently
            used dropped first; see ``engine.runtime.procedure_cache``).

    The CLI, the HTTP API and the workbench reach cases, procedures and records only
    through an ``Engine``'s methods (the read-only ones are in ``engine.runtime.reads``;
    ``engine.runtime.queries`` names the values they return); ``Engine.from_url`` is
    where a store is opened from a URL.
    """

    def __init__(
        self,
        store: Store | None = None,
        clock: Clock | None = None,
        *,
        signer: Signer | None = None,
        cache_size: int = DEFAULT_SIZE,
    ) -> None:
        self.store: Store = store if store is not None else MemoryStore()
        self.clock: Clock = clock or SystemClock()
        self.signer = signer
        self._runners = ProcedureCache(cache_size)
        self._saved: set[str] = set()  # versions this engine has saved (one save each)
        self._cases = SnapshotCache()  # what firing starts from (checked by the commit)
        self._turns = CaseTurns()  # retries of one case line up

    @classmethod
    def from_url(
        cls,
        url: str | None = None,
        *,
        clock: Clock | None = None,
        signer: Signer | None = None,
        cache_size: int = DEFAULT_SIZE,
    ) -> Engine:
        """An engine on the store a URL names (``$YISHI_DB``, else ``sqlite:///yishi.db``).

        Close it with ``close()`` (or use it as a context manager).

        Raises:
            StoreError: when the URL names no store or the store cannot be opened.
        """
        from engine.storage.url import open_store

        return cls(open_store(url), clock, signer=signer, cache_size=cache_size)

    def with_clock(self, clock: Clock) -> Engine:
        """An engine on the same store, signer and compiled procedures, reading ``clock``."""
        twin = Engine(self.store, clock, signer=self.signer)
        twin._runners = self._runners
        twin._saved = self._saved
        twin._cases = self._cases
        twin._turns = self._turns
        return twin

    def close(self) -> None:
        """Release the store's connections and files; the engine cannot be used afterwards."""
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- procedures -------------------------------------------------------------------------

    def register(
        self, compiled: CompiledProcedure, *, by: str | None = None, at: datetime | None = None
    ) -> None:
        """Make a procedure version available and keep its source in the store.

        The store keeps who registered a text and when from its first registration;
        registering the same text again changes neither.

        Args:
            by: who registers it (an actor id); None records it as unknown.
            at: when (the engine's clock when omitted).

        Raises:
            VersionTaken: another text is registered under the same id and version.
        """
        procedure = compiled.procedure
        if procedure.sha256 in self._saved:
            return  # this engine stored it already: the first registration stands
        self.store.save_procedure(
            id=procedure.id, version=procedure.version, sha256=procedure.sha256,
            source=procedure.source, registered_by=by,
            registered_at=format_time(normalise(at or self.clock.now())),
        )  # fmt: skip
        self._saved.add(procedure.sha256)
        if self._runners.get(procedure.sha256) is None:
            self._runners.put(Runner(compiled))

    def preload(self, compiled: CompiledProcedure) -> None:
        """Keep a compiled version ready in the cache without storing it (a warm start).

        ``procedure`` then returns it; opening a case of it stores its source.
        """
        if self._runners.get(compiled.procedure.sha256) is None:
            self._runners.put(Runner(compiled))

    def register_source(self, source: str, file: str, *, by: str | None = None) -> Registration:
        """Check a procedure text and, when it has no errors, register it (idempotent by sha256).

        The check is ``yishi validate``'s (``check_source``); warnings are returned.

        Args:
            by: who registers it (kept with a text stored for the first time).

        Raises:
            ProcedureInvalid: with every problem, located, when the text has errors.
            VersionTaken: another text is registered under the same id and version.
        """
        report = check_source(source, file)
        if report.compiled is None:
            raise ProcedureInvalid(list(report.problems))
        compiled = report.compiled
        known = self.store.procedure_source(compiled.procedure.sha256) is not None
        self.register(compiled, by=by)
        return Registration(compiled=compiled, warnings=report.warnings, registered=not known)

    def procedure(self, sha256: str) -> CompiledProcedure | None:
        """The compiled procedure version with this sha256 (from the cache, or compiled
        from the store's source once), or None when the store does not hold it.

        Raises:
            ProcedureInvalid: when a stored source no longer compiles (e.g. an action
                it names was removed from the registry).
        """
        runner = self._loaded(sha256)
        return runner.compiled if runner is not None else None

    def _runner(self, sha256: str) -> Runner:
        runner = self._loaded(sha256)
        if runner is None:
            raise EngineError(f"procedure version {sha256[:12]}… is not in the store")
        return runner

    def _loaded(self, sha256: str) -> Runner | None:
        runner = self._runners.get(sha256)
        if runner is None:
            source = self.store.procedure_source(sha256)
            if source is None:
                return None
            runner = self._runners.put(Runner(load_source(source, f"<store:{sha256[:12]}>")))
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
        unit: str = "",
    ) -> Outcome:
        """Open a case in the procedure's initial state with ``data``, in ``unit``.

        Args:
            unit: the organisational unit the case belongs to, as a path such as
                ``柳河县/城关镇/柳树村`` (``""``: none); it never changes.

        Raises:
            Forbidden: when the actor holds none of the procedure's ``opened_by`` roles
                (nothing is stored).
            InvalidData: when ``data`` does not match the procedure's data schema, or
                names a field the schema does not declare (see ``undeclared_fields``).
            InvalidUnit: when ``unit`` is not a unit path.
            CaseExists: when a case with this id is already open.
        """
        who = Actor.of(actor)
        check_opener(procedure.procedure, who)
        undeclared = undeclared_fields(procedure.procedure.data_schema, data)
        if undeclared:
            raise InvalidData(undeclared)
        self.register(procedure, by=who.id)  # a new version is registered by its first opener
        runner = self._runner(procedure.procedure.sha256)
        when = normalise(at or self.clock.now())
        record, snapshot = open_record(
            runner,
            case_id,
            data,
            actor=who,
            at=when,
            idempotency_key=idempotency_key,
            unit=unit,
            signer=self.signer,
        )
        self.store.commit(snapshot, record, expected_seq=0)
        self._cases.put(snapshot, when)
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
        door: Callable[[CaseSnapshot], None] | None = None,
    ) -> Outcome:
        """Attempt ``event`` on a case; the outcome says applied or refused, and why.

        Idempotency keys are the actor's own: the same key sent by two actors names
        two different requests.

        ``door``, when given, is asked first about the snapshot the attempt starts
        from, and what it raises is the answer (nothing is recorded): a host's own
        check of who may act on the case (the HTTP API's units and roles) then needs
        no read of its own. A snapshot the engine kept from its last commit may be
        stale, so a refusal on it is asked again on the case as stored now.

        Raises:
            UnknownCase: when there is no such case.
            Forbidden: when the actor holds no role in the case's procedure (nothing is
                recorded: see ``engine.runtime.door``).
            Conflict: when ``expected_seq`` is given and the case has moved on, or a
                concurrent writer committed first; without ``expected_seq`` the case is
                read again and the event tried again (up to ``_RETRIES`` times), as if
                it had arrived after that writer.
            IdempotencyMismatch: when the key was used before for a different request.
            TimeWentBackwards: when ``at`` is before the case's last record.
        """
        snapshot = self._cases.get(case_id)
        turn = False  # taken before a retry after a race (see engine.runtime.case_turns)
        try:
            for retry in range(_RETRIES, -1, -1):
                cached = snapshot is not None
                if snapshot is None:
                    snapshot = self._snapshot(case_id)
                if door is not None:
                    snapshot, cached = self._admitted(snapshot, cached, door)
                try:
                    outcome = self._fire(
                        snapshot, event, actor=actor, payload=payload, at=at,
                        idempotency_key=idempotency_key, expected_seq=expected_seq,
                    )  # fmt: skip
                    if not (outcome.replayed and cached and retry and self._moved(snapshot)):
                        return outcome
                    # A retry's first outcome is answered only once the door and the role
                    # check have judged the case as stored now, not a kept snapshot (on
                    # the last try, the one read for the try before).
                    snapshot = self._cases.get(case_id)
                    continue
                except EngineError as exc:
                    # A cached snapshot may be stale: every error it led to is checked on
                    # a fresh read. A fresh one was current when read: only a Conflict
                    # from the commit (another writer moved first) is retried, and only
                    # when the caller pinned no seq; with ``expected_seq`` the Conflict is
                    # the answer. A StoreError is never retried (a failed write may have
                    # landed), but the snapshot is forgotten: the next fire reads afresh.
                    self._cases.drop(case_id)
                    moved = isinstance(exc, Conflict) and expected_seq is None
                    failed = isinstance(exc, StoreError)
                    if failed or not (cached or moved) or retry == 0:
                        raise
                    if moved and not turn:
                        self._turns.take(case_id)
                        turn = True
                    # The thread whose turn came before may have left its commit here.
                    snapshot = self._cases.get(case_id)
            raise AssertionError("unreachable: the last try raises or returns")
        finally:
            if turn:
                self._turns.give(case_id)

    def _moved(self, kept: CaseSnapshot) -> bool:
        """Whether the stored case moved past ``kept``; if so, the stored one is kept instead."""
        stored = self._snapshot(kept.id)
        if stored.seq == kept.seq:
            return False
        self._cases.drop(kept.id)
        self._cases.put(stored)
        return True

    def _admitted(
        self, snapshot: CaseSnapshot, cached: bool, door: Callable[[CaseSnapshot], None]
    ) -> tuple[CaseSnapshot, bool]:
        """``snapshot`` once ``door`` lets it through; a kept one it refuses is read again."""
        try:
            door(snapshot)
        except Exception:
            if not cached:
                raise
            self._cases.drop(snapshot.id)
            fresh = self._snapshot(snapshot.id)
            door(fresh)
            return fresh, False
        return snapshot, cached

    def _fire(
        self,
        snapshot: CaseSnapshot,
        event: str,
        *,
        actor: Actor | Mapping[str, Any],
        payload: Mapping[str, Any] | None,
        at: datetime | None,
        idempotency_key: str | None,
        expected_seq: int | None,
    ) -> Outcome:
        """``fire`` on ``snapshot``: one try, which a stale snapshot makes a ``Conflict``."""
        case_id = snapshot.id
        who = Actor.of(actor)
        runner = self._runner(snapshot.procedure_sha256)
        check_member(runner.procedure, who)
        body = dict(payload or {})
        keyed = request_fingerprint(runner, event, who, body) if idempotency_key else None
        # A retry of a request that was applied gets its first outcome, even with the
        # expected seq it was first sent with: that is what makes a retry safe.
        if idempotency_key is not None and keyed is not None:
            earlier = self._idempotent(case_id, idempotency_key, event, who, body, keyed=keyed)
            if earlier is not None:
                return earlier
        if expected_seq is not None and snapshot.seq != expected_seq:
            raise Conflict(
                f"case {case_id!r} is at seq {snapshot.seq}, not {expected_seq}: "
                "read it again and retry"
            )
        when = normalise(at or self.clock.now())  # instants enter the engine as UTC, once
        if when < self._cases.updated(snapshot):
            raise TimeWentBackwards(
                f"case {case_id!r}: the event's time {format_time(when)} is before the case's "
                f"last record (seq {snapshot.seq} at {snapshot.updated_at}); "
                "time never runs backwards in a case"
            )
        record, new = attempt(
            runner, snapshot, event, actor=who, payload=body, at=when,
            idempotency_key=idempotency_key, signer=self.signer,
        )  # fmt: skip
        self.store.commit(
            new,
            record,
            expected_seq=snapshot.seq,
            idempotency_key=scoped_key(who, idempotency_key) if idempotency_key else None,
            fingerprint=keyed,
        )
        self._cases.put(new, when)  # new.updated_at is ``when``, written
        log = _log(case=case_id, procedure=snapshot.procedure_id, event=event)
        if log is not None:
            log.info(record["kind"], seq=record["seq"], to=record["to"])
        return outcome_of(record)

    def _idempotent(
        self,
        case_id: str,
        key: str,
        event: str,
        actor: Actor,
        payload: Mapping[str, Any],
        *,
        keyed: str,
    ) -> Outcome | None:
        def same(stored: str) -> bool:
            # ``keyed`` is read as the record keeps the payload; a key stored by an older
            # yishi holds the fingerprint of the payload as sent.
            return stored == keyed or stored == fingerprint(event, actor, payload)

        entry = self.store.idempotency(case_id, scoped_key(actor, key))
        if entry is None:
            # A key stored before keys were scoped per actor is stored as sent; it is this
            # actor's only if it was this very request (the fingerprint names the actor).
            legacy = self.store.idempotency(case_id, key)
            if legacy is None or not same(legacy.fingerprint):
                return None
            entry = legacy
        if not same(entry.fingerprint):
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
            # A record may have been written after the deadline passed and before this
            # tick (a refused attempt, say): the timer then fires at that record's time,
            # never before it, so time does not run backwards in the case.
            when = normalise(max(snapshot.deadline_at, parse_time(snapshot.updated_at)))
            record, new = attempt(
                runner, snapshot, snapshot.deadline_event, actor=SYSTEM, payload={},
                at=when, timer=True, signer=self.signer,
            )  # fmt: skip
            try:
                self.store.commit(new, record, expected_seq=snapshot.seq)
            except Conflict:
                continue  # someone else fired it or moved the case: nothing to do
            self._cases.put(new)
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
            unit=snapshot.unit,
        )

    def records(self, case_id: str, *, upto: int | None = None) -> list[dict[str, Any]]:
        """The case's audit records in seq order (up to seq ``upto`` when given).

        Raises:
            UnknownCase: when there is no such case.
        """
        self._snapshot(case_id)
        return self.store.records(case_id, upto=upto)

    def explain(
        self,
        case_id: str,
        event: str,
        *,
        actor: Actor | Mapping[str, Any] | None = None,
        payload: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> Explanation:
        """What ``event`` would need now: every candidate transition's guards. Changes nothing.

        The checks of an attempt come first, in the same order: when the event is not
        allowed here, the actor (if given) may not fire it, or the payload (if given)
        does not match its schema, the explanation gives that reason and evaluates no
        guard, so an explanation never costs more than the attempt it explains.

        Raises:
            UnknownCase: when there is no such case.
            Forbidden: when ``actor`` is given and holds no role in the case's procedure.
        """
        snapshot = self._snapshot(case_id)
        runner = self._runner(snapshot.procedure_sha256)
        who = Actor.of(actor) if actor is not None else None
        if who is not None:
            check_member(runner.procedure, who)
        body = dict(payload or {})
        reason = precheck(runner, snapshot, event, who, body if payload is not None else None)
        if reason is not None:
            return Explanation(
                case=case_id, event=event, state=snapshot.state, allowed=False, reason=reason
            )
        env = make_env(
            snapshot.data, body, who or SYSTEM, normalise(at or self.clock.now()),
            runner.procedure.time_zone,
        )  # fmt: skip
        selection = runner.selector.select(event, snapshot.state, env, every=True)
        explained = tuple(
            TransitionExplanation(
                index=judged.candidate.transition.index,
                target=judged.candidate.transition.target,
                label=judged.candidate.transition.label,
                ready=judged.ready,
                guards=tuple(g.record() for g in judged.guards),
            )
            for judged in selection.judged
        )
        return Explanation(
            case=case_id,
            event=event,
            state=snapshot.state,
            allowed=selection.chosen is not None,
            reason=None,
            transitions=explained,
        )

    def _snapshot(self, case_id: str) -> CaseSnapshot:
        """The case as stored now (and, as the freshest known, what firing starts from)."""
        snapshot = self.store.get_case(case_id)
        if snapshot is None:
            raise UnknownCase(f"no case {case_id!r}")
        self._cases.put(snapshot)
        return snapshot
