"""Migration of an open case to another procedure version, recorded in its own chain.

Rules change while cases are open. Moving a case is itself an audited step: a
``case.migrated`` record names the version left and the version entered, the
state map, any declared data mapping (as ``set`` actions with their values),
the deadline before and after, who and why. Like ``attempt``, ``migrate_record``
is a pure function of the snapshot and its inputs, so replay re-executes a
migration and then the rest of the case under the version it entered.

Everything is checked before anything changes: the case is open, its state maps
to a state of the new version, the mapped data is valid under the new data
schema. A refusal is not recorded: a migration is an administrative act that
either happens whole or not at all, reported with every problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.actions.registry import split_path
from engine.audit.canonical import canonical_bytes
from engine.audit.chain import seal
from engine.audit.errors import NotCanonicalizable, RecordInvalid
from engine.audit.record import FORMAT_VERSION
from engine.definition.compile import CompiledProcedure
from engine.errors import Conflict
from engine.errors import MigrationRefused as MigrationRefused
from engine.guards.cel import CelCheckError, CelRuntimeError, compile_cel
from engine.runtime.attempt import Runner, copy_json, make_env
from engine.runtime.clock import format_time, normalise, parse_time
from engine.runtime.deadlines import deadline_after
from engine.runtime.engine import Engine
from engine.runtime.provenance import record_provenance
from engine.runtime.snapshot import CaseSnapshot
from engine.runtime.types import Actor

if TYPE_CHECKING:
    from engine.audit.signing import Signer

KIND = "case.migrated"
EVENT = "case.migrated"
"""The record's ``event``: not an event id any procedure can declare (ids have no dot)."""
DEADLINE_ACTION = "rearm_deadline"


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationCheck:
    """What migrating one case would do (a dry run's line), or why it cannot."""

    case: str
    from_procedure: Mapping[str, str]
    to_procedure: Mapping[str, str]
    from_state: str
    to_state: str | None
    deadline_before: Mapping[str, str] | None
    deadline_after: Mapping[str, str] | None
    data_changes: tuple[Mapping[str, Any], ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """The check as plain JSON."""
        return {
            "case": self.case, "ok": self.ok, "from_procedure": dict(self.from_procedure),
            "to_procedure": dict(self.to_procedure), "from_state": self.from_state,
            "to_state": self.to_state, "deadline_before": self.deadline_before,
            "deadline_after": self.deadline_after,
            "data_changes": [dict(c) for c in self.data_changes],
            "problems": list(self.problems),
        }  # fmt: skip


def _deadline_json(at: datetime | None, event: str | None) -> dict[str, str] | None:
    if at is None or event is None:
        return None
    return {"at": format_time(at), "event": event}


def _apply_data_map(
    data: dict[str, Any],
    data_map: Mapping[str, str],
    *,
    actor: Actor,
    at: datetime,
    runner: Runner,
    problems: list[str],
) -> list[dict[str, Any]]:
    """Set each mapped path to its expression's value over the data as it was before."""
    env = make_env(copy_json(data), {}, actor, at, runner.procedure.time_zone)
    actions = []
    for path, expression in data_map.items():
        keys = split_path(path) if path.startswith("data.") else []
        if not keys or not all(k.isidentifier() for k in keys):
            problems.append(f"--data-map {path}: a path is data.field(.field…)")
            continue
        try:
            value = compile_cel(expression).evaluate(env)
            canonical_bytes(value)  # a value no record can hold (a float, a time) is refused
        except (CelCheckError, CelRuntimeError, NotCanonicalizable, RecursionError) as exc:
            problems.append(f"--data-map {path}={expression}: {exc}")
            continue
        node = data
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                problems.append(f"--data-map {path}: {key!r} holds {type(child).__name__}")
                break
            node = child
        else:
            node[keys[-1]] = value
            actions.append(
                {
                    "name": "set",
                    "params": {"path": path, "expr": expression},
                    "output": {"path": path, "value": copy_json(value)},
                }
            )
    return actions


def plan_migration(
    runner: Runner,
    snapshot: CaseSnapshot,
    *,
    state_map: Mapping[str, str],
    data_map: Mapping[str, str],
    actor: Actor,
    at: datetime,
) -> tuple[MigrationCheck, dict[str, Any], list[dict[str, Any]]]:
    """Check a migration of ``snapshot`` to ``runner``'s version; changes nothing.

    Returns:
        The check, the case data after the mapping, and the record's actions.
    """
    procedure = runner.procedure
    problems: list[str] = []
    before = {"id": snapshot.procedure_id, "version": snapshot.procedure_version,
              "sha256": snapshot.procedure_sha256}  # fmt: skip
    if snapshot.procedure_sha256 == procedure.sha256:
        problems.append(f"it already runs under {procedure.id} {procedure.version}")
    if at < parse_time(snapshot.updated_at):
        problems.append(
            f"{format_time(at)} is before its last record ({snapshot.updated_at}): "
            "time never runs backwards within a case"
        )
    if snapshot.final:
        problems.append(f"it is finished (state {snapshot.state}); only open cases migrate")
    for old, new in state_map.items():
        if new not in procedure.states:
            problems.append(f"--map {old}={new}: {procedure.version} has no state {new!r}")
    target = state_map.get(snapshot.state, snapshot.state)
    if target not in procedure.states:
        problems.append(
            f"its state {snapshot.state!r} is not mapped (--map {snapshot.state}=NEW) and "
            f"{procedure.id} {procedure.version} has no state of that name"
        )
    data = copy_json(dict(snapshot.data))
    actions = _apply_data_map(data, data_map, actor=actor, at=at, runner=runner, problems=problems)
    for violation in runner.data.violations(data):
        problems.append(
            f"its data is not valid under {procedure.version}: "
            f"{violation['path']}: {violation['message']}"
        )
    due: datetime | None = None
    event: str | None = None
    deadline = procedure.states[target].deadline if target in procedure.states else None
    if deadline is not None:
        # The period counts from when the case entered the state, not from the migration:
        # amended rules do not give a case a fresh period it never had.
        entered = parse_time(snapshot.state_entered_at)
        due = deadline_after(entered, deadline.period, deadline.days, procedure.time_zone)
        event = deadline.event
    after = _deadline_json(due, event)
    old_deadline = _deadline_json(snapshot.deadline_at, snapshot.deadline_event)
    actions.append(
        {
            "name": DEADLINE_ACTION,
            "params": {"state": target},
            "output": {"before": old_deadline, "after": after},
        }
    )
    check = MigrationCheck(
        case=snapshot.id, from_procedure=before, to_procedure=dict(runner.identity),
        from_state=snapshot.state, to_state=target if target in procedure.states else None,
        deadline_before=old_deadline, deadline_after=after,
        data_changes=tuple(a["output"] for a in actions if a["name"] == "set"),
        problems=tuple(problems),
    )  # fmt: skip
    return check, data, actions


def migrate_record(
    runner: Runner,
    snapshot: CaseSnapshot,
    *,
    state_map: Mapping[str, str],
    data_map: Mapping[str, str],
    reason: str,
    actor: Actor,
    at: datetime,
    signer: Signer | None = None,
) -> tuple[dict[str, Any], CaseSnapshot]:
    """The sealed ``case.migrated`` record and the snapshot under the new version (signed
    when ``signer``, like every record the engine writes, and naming the engine).

    Raises:
        MigrationRefused: with every problem, when the case cannot be migrated.
    """
    check, data, actions = plan_migration(
        runner, snapshot, state_map=state_map, data_map=data_map, actor=actor, at=at
    )
    if not reason.strip():
        problems = ["a migration needs a reason (--reason)", *check.problems]
        raise MigrationRefused(snapshot.id, problems)
    if not check.ok:
        raise MigrationRefused(snapshot.id, list(check.problems))
    assert check.to_state is not None
    at_text = format_time(at)
    record: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "case": snapshot.id,
        "seq": snapshot.seq + 1,
        "at": at_text,
        "kind": KIND,
        "actor": actor.record(),
        "event": EVENT,
        "payload": {
            "from_procedure": dict(check.from_procedure),
            "state_map": dict(state_map),
            "data_map": dict(data_map),
            "reason": reason,
        },
        "from": snapshot.state,
        "to": check.to_state,
        "guards": [],
        "actions": actions,
        "procedure": dict(runner.identity),
        "engine": record_provenance(),
    }
    try:
        sealed = seal(record, snapshot.head, signer)
    except (NotCanonicalizable, RecordInvalid) as exc:
        raise MigrationRefused(snapshot.id, [f"the record cannot hold it: {exc}"]) from exc
    deadline = check.deadline_after
    new = replace(
        snapshot,
        procedure_id=runner.procedure.id,
        procedure_version=runner.procedure.version,
        procedure_sha256=runner.procedure.sha256,
        state=check.to_state,
        data=data,
        seq=sealed["seq"],
        head=sealed["hash"],
        final=runner.procedure.states[check.to_state].final,
        deadline_at=parse_time(deadline["at"]) if deadline else None,
        deadline_event=deadline["event"] if deadline else None,
        updated_at=at_text,
    )
    return sealed, new


def migrated_inputs(record: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs of a recorded migration, as ``migrate_record`` takes them (for replay).

    Raises:
        KeyError, TypeError: when the record does not hold them.
    """
    payload = record["payload"]
    return {
        "state_map": dict(payload["state_map"]),
        "data_map": dict(payload["data_map"]),
        "reason": str(payload["reason"]),
        "actor": Actor.of(record["actor"]),
        "at": parse_time(str(record["at"])),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class Migrated:
    """One case of a bulk migration: its check and, when applied, the record's seq."""

    check: MigrationCheck
    seq: int | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The result as plain JSON."""
        return {**self.check.as_json(), "applied_seq": self.seq, "error": self.error}


def migrate_cases(
    engine: Engine,
    case_ids: list[str],
    compiled: CompiledProcedure,
    *,
    state_map: Mapping[str, str],
    data_map: Mapping[str, str],
    reason: str,
    actor: Actor,
    at: datetime,
    dry_run: bool = False,
) -> list[Migrated]:
    """Check every case, then (unless ``dry_run``) migrate each that passes, one commit each.

    Each case is atomic on its own: one that fails its checks, or that moved on while
    the others were committed, is reported and left exactly as it was.

    Raises:
        UnknownCase: when a case id names no case (before anything changes).
    """
    at = normalise(at)  # instants enter the engine as UTC, once
    snapshots = [engine._snapshot(case_id) for case_id in case_ids]
    runner = Runner(compiled)
    registered = False
    results = []
    for snapshot in snapshots:
        check, _, _ = plan_migration(
            runner, snapshot, state_map=state_map, data_map=data_map, actor=actor, at=at
        )
        if dry_run or not check.ok:
            results.append(Migrated(check=check))
            continue
        if not registered:
            # stored only once a case is to enter it: a refused migration leaves no trace
            engine.register(compiled, by=actor.id)
            registered = True
        try:
            record, new = migrate_record(
                runner, snapshot, state_map=state_map, data_map=data_map, reason=reason,
                actor=actor, at=at, signer=engine.signer,
            )  # fmt: skip
            engine.store.commit(new, record, expected_seq=snapshot.seq)
        except (MigrationRefused, Conflict) as exc:
            results.append(Migrated(check=check, error=str(exc)))
            continue
        # The engine fires the next event on the migrated case, not on the snapshot it kept
        # from before: its door then asks about the new version's roles at once.
        engine._cases.put(new)
        results.append(Migrated(check=check, seq=int(record["seq"])))
    return results
