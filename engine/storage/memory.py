"""An in-memory store (``memory://``): for tests, scenarios and embedding without disk.

It keeps the same commit rules as the SQL store (``engine.storage.invariants``),
checked under one lock, and refuses with the same messages.

Records are kept as their audit-log lines (bytes), as the SQL stores keep them, and
parsed when read. A record kept as nested dicts and lists is a dozen objects the
garbage collector walks on every full collection; a long-running engine holds
hundreds of thousands of records, and that walk cost more per event (measured with
bench/peers.py) than sealing the record. Bytes are not tracked by the collector.
A record read back has its keys in the order the engine sealed them, as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from engine.audit.entry import in_wire_order
from engine.audit.jsonl import line_of
from engine.errors import AuditError, StoreError, VersionTaken
from engine.runtime.snapshot import CaseSnapshot
from engine.storage.base import CaseFilter, CaseImport, CasePage, IdempotencyEntry, ProcedureRef
from engine.storage.invariants import already_stored, check_head, check_shape, key_taken
from engine.storage.rows import (
    check_import,
    decode_cursor,
    due_order,
    encode_cursor,
    filter_bounds,
    text_micros,
)
from engine.units import covered


class MemoryStore:
    """Everything in dicts behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procedures: dict[str, str] = {}
        self._procedure_refs: dict[str, ProcedureRef] = {}
        self._cases: dict[str, CaseSnapshot] = {}
        self._lines: dict[str, list[bytes]] = {}  # each record's line, newline included
        self._keys: dict[tuple[str, str], IdempotencyEntry] = {}
        self._leases: dict[str, float] = {}

    def save_procedure(
        self,
        *,
        id: str,
        version: str,
        sha256: str,
        source: str,
        registered_at: str | None = None,
        registered_by: str | None = None,
    ) -> None:
        with self._lock:
            if sha256 not in self._procedures:
                for ref in self._procedure_refs.values():
                    if ref.id == id and ref.version == version:
                        raise VersionTaken(
                            id=id, version=version, stored=ref.sha256, offered=sha256
                        )
            self._procedures.setdefault(sha256, source)
            self._procedure_refs.setdefault(
                sha256,
                ProcedureRef(
                    id=id,
                    version=version,
                    sha256=sha256,
                    registered_at=registered_at,
                    registered_by=registered_by,
                ),
            )

    def procedure_source(self, sha256: str) -> str | None:
        return self._procedures.get(sha256)

    def procedures(self) -> list[ProcedureRef]:
        with self._lock:
            refs = list(self._procedure_refs.values())
        return sorted(refs, key=lambda r: (r.id, r.version, r.sha256))

    def get_case(self, case_id: str) -> CaseSnapshot | None:
        return self._cases.get(case_id)

    def commit(
        self,
        snapshot: CaseSnapshot,
        record: Mapping[str, Any],
        *,
        expected_seq: int,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        check_shape(snapshot, record, expected_seq)
        line = _line(record)  # refuses a record that is not sealed, as the SQL store does
        with self._lock:
            current = self._cases.get(snapshot.id)
            found = None if current is None else (current.seq, current.head)
            check_head(snapshot.id, expected_seq, str(record.get("prev")), found)
            keyed = idempotency_key is not None and fingerprint is not None
            if keyed and (snapshot.id, str(idempotency_key)) in self._keys:
                raise key_taken(snapshot.id, str(idempotency_key))
            self._cases[snapshot.id] = snapshot
            self._leases.pop(snapshot.id, None)
            self._lines.setdefault(snapshot.id, []).append(line)
            if idempotency_key is not None and fingerprint is not None:
                self._keys[(snapshot.id, idempotency_key)] = IdempotencyEntry(
                    fingerprint=fingerprint, seq=snapshot.seq
                )

    def records(self, case_id: str, *, upto: int | None = None) -> list[dict[str, Any]]:
        found = self._lines.get(case_id, [])
        chosen = found if upto is None else found[:upto]
        loads = orjson.loads
        return [in_wire_order(loads(line)) for line in chosen]

    def export_lines(self, case_id: str) -> list[bytes]:
        return list(self._lines.get(case_id, []))

    def import_case(
        self,
        snapshot: CaseSnapshot,
        lines: Sequence[bytes],
        *,
        keys: Mapping[str, IdempotencyEntry] | None = None,
    ) -> None:
        self.import_cases([CaseImport(snapshot=snapshot, lines=lines, keys=keys or {})])

    def import_cases(self, cases: Sequence[CaseImport]) -> None:
        checked = [(case, check_import(case.snapshot, case.lines)) for case in cases]
        with self._lock:
            # Refuse before writing anything, so a refusal leaves the store as it was.
            seen: set[str] = set()
            for case, _ in checked:
                if case.snapshot.id in self._cases or case.snapshot.id in seen:
                    raise already_stored(case.snapshot.id)
                seen.add(case.snapshot.id)
            for case, texts in checked:
                snapshot = case.snapshot
                self._cases[snapshot.id] = snapshot
                self._lines[snapshot.id] = [text.encode("utf-8") + b"\n" for text in texts]
                for key, entry in case.keys.items():
                    self._keys[(snapshot.id, key)] = entry

    def idempotency(self, case_id: str, key: str) -> IdempotencyEntry | None:
        return self._keys.get((case_id, key))

    def due_timers(self, now: datetime) -> list[CaseSnapshot]:
        due = [
            c
            for c in self._cases.values()
            if c.deadline_at is not None and not c.final and c.deadline_at <= now
        ]
        return sorted(due, key=due_order)

    def claim_due_timers(
        self, now: datetime, *, limit: int | None = None, lease_seconds: float = 60.0
    ) -> list[CaseSnapshot]:
        wall = time.time()
        with self._lock:
            free = [c for c in self.due_timers(now) if self._leases.get(c.id, 0.0) < wall]
            chosen = free if limit is None else free[:limit]
            for case in chosen:
                self._leases[case.id] = wall + lease_seconds
        return chosen

    def case_ids(self) -> list[str]:
        return sorted(self._cases)

    def cases_per_procedure(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for snapshot in list(self._cases.values()):
            counts[snapshot.procedure_sha256] = counts.get(snapshot.procedure_sha256, 0) + 1
        return counts

    def list_cases(
        self, where: CaseFilter | None = None, *, after: str | None = None, limit: int = 50
    ) -> CasePage:
        since, before = filter_bounds(where)
        position = decode_cursor(after) if after is not None else None
        keyed = sorted(
            ((text_micros(c.updated_at), c.id, c) for c in list(self._cases.values())),
            reverse=True,
            key=lambda item: (item[0], item[1]),
        )
        chosen = []
        for updated, case_id, case in keyed:
            if where is not None and where.procedure not in (None, case.procedure_id):
                continue
            if where is not None and where.state not in (None, case.state):
                continue
            if where is not None and not covered(where.units, case.unit):
                continue
            if (since is not None and updated < since) or (
                before is not None and updated >= before
            ):
                continue
            if position is not None and (updated, case_id) >= position:
                continue
            chosen.append((updated, case_id, case))
        size = max(1, limit)
        page = chosen[:size]
        cursor = encode_cursor(page[-1][0], page[-1][1]) if len(chosen) > size else None
        return CasePage(cases=tuple(c for _, _, c in page), next=cursor)

    def close(self) -> None:
        """Nothing to release; the contents stay readable."""


def _line(record: Mapping[str, Any]) -> bytes:
    """The audit-log line of a sealed record, newline included (``rows.record_line``'s rule).

    Raises:
        StoreError: when the record is not sealed, or was changed after sealing.
    """
    try:
        return line_of(record)
    except AuditError as exc:
        raise StoreError(f"refusing to store case {record.get('case')!r}: {exc}") from exc
