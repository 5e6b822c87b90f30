"""Moving cases between stores as audit logs: export a case's lines, import a log.

Import trusts nothing: the lines must verify (layout, hashes, unbroken chains),
and every record is re-executed against the procedure version it names, so the
snapshot stored beside the records is the one the rules produce, not one read
from the file. Idempotency keys are restored with the fingerprints of the
requests that first used them, read from what their records keep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from engine.audit.jsonl import parse_line
from engine.audit.verify import verify_lines
from engine.definition.compile import CompiledProcedure
from engine.errors import AuditError, EngineError
from engine.runtime.attempt import Runner, attempt, open_record, request_fingerprint, scoped_key
from engine.runtime.clock import parse_time
from engine.runtime.engine import Engine
from engine.runtime.migration import KIND as MIGRATED
from engine.runtime.migration import migrate_record, migrated_inputs
from engine.runtime.provenance import differing, engine_note, same_outcome
from engine.runtime.snapshot import CaseSnapshot
from engine.runtime.types import Actor
from engine.storage.base import CaseImport, IdempotencyEntry

if TYPE_CHECKING:
    from engine.audit.signing import Verifier

ProcedureLookup = Callable[[str], CompiledProcedure | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Imported:
    """One case an import stored."""

    case: str
    seq: int
    state: str


def export_case(engine: Engine, case_id: str) -> list[bytes]:
    """The case's audit-log lines, exactly as stored and hashed.

    Raises:
        UnknownCase: when there is no such case.
    """
    engine.case(case_id, history=False)
    return engine.store.export_lines(case_id)


def import_log(
    engine: Engine,
    lines: Sequence[bytes],
    procedures: ProcedureLookup | None = None,
    *,
    verifier: Verifier | None = None,
    by: str | None = None,
) -> list[Imported]:
    """Verify, replay and store every case in an audit log.

    Args:
        engine: its store receives the cases (and their procedure sources).
        lines: the log's lines (with newlines), several cases possibly interleaved.
        procedures: finds a compiled procedure by sha256 when the store lacks it.
        verifier: when given, every case must be signed by its key (as ``verify``
            with ``--public-key`` requires).
        by: who imports the log: recorded as having registered each procedure version
            the store lacked. When None, the actor of the record that first ran under
            the version (the case's opener, or the actor of a migration) is recorded, as
            the store that wrote the log would have recorded them.

    Returns:
        The cases stored, in order of first appearance.

    Raises:
        AuditError: when the log does not verify or a record does not replay; nothing
            of the log is stored.
        CaseExists: when the store already holds one of the cases (none is stored).
        EngineError: when a case's procedure version is neither in the store nor given.
    """
    report = verify_lines(lines, verifier=verifier)
    if not report.ok:
        assert report.failure is not None
        raise AuditError(f"refusing to import: {report.failure}")
    grouped: dict[str, list[bytes]] = {}
    for number, raw in enumerate(lines, 1):
        case = str(parse_line(raw, number)["case"])
        grouped.setdefault(case, []).append(raw)
    rebuilt = [
        (case, *_rebuild(engine, case, raw, procedures, by)) for case, raw in grouped.items()
    ]
    # One transaction for every case: a log is imported whole or not at all.
    engine.store.import_cases(
        [
            CaseImport(snapshot=snapshot, lines=grouped[case], keys=keys)
            for case, snapshot, keys in rebuilt
        ]
    )
    return [
        Imported(case=case, seq=snapshot.seq, state=snapshot.state) for case, snapshot, _ in rebuilt
    ]


def _rebuild(
    engine: Engine,
    case: str,
    raw: Iterable[bytes],
    procedures: ProcedureLookup | None,
    by: str | None,
) -> tuple[CaseSnapshot, dict[str, IdempotencyEntry]]:
    records = [parse_line(line, number) for number, line in enumerate(raw, 1)]
    named = records[0]["procedure"]
    opener = by or Actor.of(records[0]["actor"]).id
    runner = _runner(engine, str(named["sha256"]), procedures, case, named, by=opener)
    snapshot: CaseSnapshot | None = None
    keys: dict[str, IdempotencyEntry] = {}
    for record in records:
        actor = Actor.of(record["actor"])
        at = parse_time(str(record["at"]))
        key = record.get("idempotency_key")
        try:
            if snapshot is None:
                replayed, snapshot = open_record(
                    runner, case, record.get("data", {}), actor=actor, at=at,
                    idempotency_key=key, unit=str(record.get("unit", "")),
                )  # fmt: skip
            elif record["kind"] == MIGRATED:
                named = record["procedure"]
                migrator = by or actor.id
                runner = _runner(engine, str(named["sha256"]), procedures, case, named, by=migrator)
                replayed, snapshot = migrate_record(runner, snapshot, **migrated_inputs(record))
            else:
                replayed, snapshot = attempt(
                    runner, snapshot, str(record["event"]), actor=actor,
                    payload=record.get("payload", {}), at=at, idempotency_key=key,
                    timer=record["kind"] == "timer.fired",
                )  # fmt: skip
        except (EngineError, KeyError, ValueError) as exc:
            raise AuditError(
                f"refusing to import: case {case} seq {record['seq']} does not replay: {exc}"
            ) from exc
        if not same_outcome(record, replayed):
            note = engine_note(record)
            raise AuditError(
                f"refusing to import: case {case} seq {record['seq']} does not follow from "
                f"the rules and its inputs ({', '.join(differing(record, replayed))} differ"
                f"{'; ' + note if note else ''}); run yishi replay"
            )
        if snapshot.head != record["hash"]:
            snapshot = replace(snapshot, head=str(record["hash"]))
        if key is not None and record["kind"] != "case.opened":
            scoped = scoped_key(actor, str(key))
            if scoped in keys:
                continue
            body = record.get("payload", {})
            keys[scoped] = IdempotencyEntry(
                fingerprint=request_fingerprint(runner, str(record["event"]), actor, body),
                seq=int(record["seq"]),
            )
    assert snapshot is not None
    return snapshot, keys


def _runner(
    engine: Engine,
    sha256: str,
    procedures: ProcedureLookup | None,
    case: str,
    named: dict[str, str],
    *,
    by: str,
) -> Runner:
    compiled = procedures(sha256) if procedures is not None else None
    if compiled is not None:
        engine.register(compiled, by=by)
    try:
        return engine._runner(sha256)
    except EngineError as exc:
        raise EngineError(
            f"case {case} ran under {named.get('id')} {named.get('version')} "
            f"(sha256 {sha256[:12]}…), which is not in the store: pass that exact "
            "procedure file with --procedure"
        ) from exc
