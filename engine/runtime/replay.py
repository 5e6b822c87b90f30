"""Replay: prove that every recorded outcome follows from the rules and the recorded inputs.

Each case's records are re-executed, in seq order, against the procedure version
the ``case.opened`` record names (and, after a ``case.migrated`` record, the version
that record entered) (found by sha256 among the given procedure
files or in a store). The engine's own pure ``attempt`` produces each record
again; any field that differs is a divergence, reported with a diff. Replay
can also stop at a seq or a time and show the case as it stood then.

Replay lives beside the runtime (not in ``engine.audit``) because it runs the
runtime: the audit package stays a leaf that knows records, hashes and files.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from engine.audit.canonical import record_hash
from engine.audit.errors import NotCanonicalizable
from engine.audit.record import record_problem
from engine.definition.compile import CompiledProcedure
from engine.errors import EngineError
from engine.errors import ProcedureMissing as ProcedureMissing
from engine.runtime.attempt import Runner, attempt, open_record
from engine.runtime.clock import parse_time
from engine.runtime.migration import KIND as MIGRATED
from engine.runtime.migration import migrate_record, migrated_inputs
from engine.runtime.provenance import IGNORED_IN_COMPARISON, engine_note, same_outcome
from engine.runtime.snapshot import CaseSnapshot
from engine.runtime.types import Actor


@dataclass(frozen=True, slots=True, kw_only=True)
class Divergence:
    """The first record that replay could not reproduce."""

    case: str
    seq: int
    fields: tuple[str, ...]
    diff: str
    engine: str | None = None
    """Why the engine may be the cause (another yishi or registry wrote the record)."""

    def __str__(self) -> str:
        note = f"\n{self.engine}" if self.engine else ""
        fields = ", ".join(self.fields)
        return f"case {self.case} seq {self.seq}: {fields} differ{note}\n{self.diff}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseAt:
    """A case as replay rebuilt it at some point."""

    case: str
    seq: int
    at: str
    state: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayReport:
    """What replay found."""

    cases: int
    records: int
    divergence: Divergence | None = None
    snapshots: tuple[CaseAt, ...] = field(default_factory=tuple)
    procedures: tuple[tuple[str, str, str], ...] = ()
    """(id, version, sha256) of every procedure version the replay ran, sorted."""

    @property
    def ok(self) -> bool:
        return self.divergence is None


def _group(records: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    cases: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        cases.setdefault(str(record.get("case")), []).append(record)
    for items in cases.values():
        # A malformed seq sorts first; the record check then reports it.
        items.sort(key=lambda r: r["seq"] if type(r.get("seq")) is int else 0)
    return cases


def _diff(recorded: Mapping[str, Any], replayed: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    keys = sorted((set(recorded) | set(replayed)) - IGNORED_IN_COMPARISON)
    differing = tuple(k for k in keys if recorded.get(k) != replayed.get(k))
    shown_a = {k: recorded.get(k) for k in differing}
    shown_b = {k: replayed.get(k) for k in differing}
    text = "\n".join(
        difflib.unified_diff(
            json.dumps(shown_a, ensure_ascii=False, indent=2, sort_keys=True).splitlines(),
            json.dumps(shown_b, ensure_ascii=False, indent=2, sort_keys=True).splitlines(),
            "recorded",
            "replayed",
            lineterm="",
        )
    )
    return differing, text


def _stop_here(record: Mapping[str, Any], as_of: int | datetime | None) -> bool:
    if as_of is None:
        return False
    if isinstance(as_of, int):
        return int(record["seq"]) > as_of
    return parse_time(str(record["at"])) > as_of


def parse_as_of(text: str) -> int | datetime:
    """``--as-of``: a seq number or an RFC 3339 time.

    Raises:
        ValueError: when it is neither.
    """
    if text.isdigit():
        return int(text)
    try:
        return parse_time(text)
    except ValueError as exc:
        raise ValueError(
            f"--as-of {text!r} is neither a seq number nor an RFC 3339 time with offset"
        ) from exc


def _problem(record: Mapping[str, Any]) -> tuple[str, str] | None:
    try:
        return record_problem(record)
    except TypeError as exc:  # e.g. an unhashable "kind": the record check itself tripped
        return "bad-field-type", f"the record cannot be checked: {exc}"


def _edited_diff(record: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    return ("hash",), (
        f"the recorded hash {record.get('hash')} is not the hash of the record's content: "
        "the record was changed after it was sealed"
    )


def _edited_after_sealing(record: Mapping[str, Any]) -> bool:
    """Whether the record's ``hash`` is not the hash of its own content.

    Outcomes are compared without ``hash`` (another writer's key or engine gives
    another one), so a record edited after sealing is caught here when its outcome
    replays unchanged: an input the outcome ignores, such as a refused payload.
    """
    try:
        return bool(record_hash(record) != record["hash"])
    except NotCanonicalizable:
        return True


def _runner_for(
    first: Mapping[str, Any],
    runners: dict[str, Runner],
    procedures: Callable[[str], CompiledProcedure | None],
) -> Runner:
    named = first["procedure"]
    sha = str(named["sha256"])
    if sha not in runners:
        compiled = procedures(sha)
        if compiled is None:
            raise ProcedureMissing(
                f"case {first['case']} ran under {named['id']} {named['version']} "
                f"(sha256 {sha}); that exact source was not given: pass the file with "
                "--procedure (a changed file has another sha256)"
            )
        runners[sha] = Runner(compiled)
    return runners[sha]


def _replay_one(
    runner: Runner, snapshot: CaseSnapshot | None, record: Mapping[str, Any]
) -> tuple[Mapping[str, Any], CaseSnapshot | None]:
    """The record the runtime produces from ``record``'s inputs, and the snapshot after it."""
    key = record.get("idempotency_key")
    try:
        actor = Actor.of(record["actor"])
        at = parse_time(str(record["at"]))
        if snapshot is None:
            return open_record(
                runner, str(record["case"]), record.get("data", {}), actor=actor, at=at,
                idempotency_key=key, unit=str(record.get("unit", "")),
            )  # fmt: skip
        if record["kind"] == MIGRATED:
            return migrate_record(runner, snapshot, **migrated_inputs(record))
        return attempt(
            runner, snapshot, str(record["event"]), actor=actor,
            payload=record.get("payload", {}), at=at, idempotency_key=key,
            timer=record["kind"] == "timer.fired",
        )  # fmt: skip
    except (EngineError, KeyError, ValueError, TypeError) as exc:
        return {**record, "replay_error": str(exc)}, snapshot


def replay_records(
    records: Iterable[Mapping[str, Any]],
    procedures: Callable[[str], CompiledProcedure | None],
    *,
    as_of: int | datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    """Re-execute every case in ``records``.

    Args:
        records: audit records (several cases may be interleaved).
        procedures: finds a compiled procedure by sha256 (None when unknown).
        as_of: stop each case after this seq, or before the first record after this time.
        progress: called with the number of records done so far.

    Raises:
        ProcedureMissing: when a case's procedure version is not available.
    """
    runners: dict[str, Runner] = {}
    done = 0
    snapshots = []
    cases = _group(records)
    for case_id, items in cases.items():
        snapshot: CaseSnapshot | None = None
        for record in items:
            # A malformed record (a forged or foreign one that verify would also reject)
            # is a divergence to report, never a crash inside the runtime.
            problem = _problem(record)
            if problem is None and _stop_here(record, as_of):
                break
            if problem is not None:
                replayed: Mapping[str, Any] = {**record, "replay_error": problem[1]}
            else:
                if snapshot is None or record["kind"] == MIGRATED:
                    # a migration enters another version: the rest replays under it
                    runner = _runner_for(record, runners, procedures)
                replayed, snapshot = _replay_one(runner, snapshot, record)
            same = same_outcome(record, replayed)
            edited = same and problem is None and _edited_after_sealing(record)
            if edited or not same:
                fields, diff = _diff(record, replayed) if not same else _edited_diff(record)
                done += 1
                seq = record.get("seq")
                return ReplayReport(
                    cases=len(cases),
                    records=done,
                    divergence=Divergence(
                        case=case_id,
                        seq=seq if type(seq) is int else 0,
                        fields=fields,
                        diff=diff,
                        engine=engine_note(record) if problem is None else None,
                    ),
                    procedures=_used(runners),
                )
            if snapshot is not None and snapshot.head != record["hash"]:
                # The same outcome under another writer's key or engine: the chain
                # continues from the recorded hash, as the log's next record does.
                snapshot = replace(snapshot, head=record["hash"])
            done += 1
            if progress is not None:
                progress(done)
        if snapshot is not None:
            snapshots.append(
                CaseAt(
                    case=case_id,
                    seq=snapshot.seq,
                    at=snapshot.updated_at,
                    state=snapshot.state,
                    data=snapshot.data,
                )
            )
    return ReplayReport(
        cases=len(cases), records=done, snapshots=tuple(snapshots), procedures=_used(runners)
    )


def _used(runners: Mapping[str, Runner]) -> tuple[tuple[str, str, str], ...]:
    return tuple(sorted((r.procedure.id, r.procedure.version, sha) for sha, r in runners.items()))
