"""An in-memory store (``memory://``): for tests, scenarios and embedding without disk."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.errors import CaseExists, Conflict
from engine.storage.base import CaseSnapshot, IdempotencyEntry


class MemoryStore:
    """Everything in dicts behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procedures: dict[str, str] = {}
        self._cases: dict[str, CaseSnapshot] = {}
        self._records: dict[str, list[dict[str, Any]]] = {}
        self._keys: dict[tuple[str, str], IdempotencyEntry] = {}

    def save_procedure(self, *, id: str, version: str, sha256: str, source: str) -> None:
        with self._lock:
            self._procedures.setdefault(sha256, source)

    def procedure_source(self, sha256: str) -> str | None:
        return self._procedures.get(sha256)

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
        with self._lock:
            current = self._cases.get(snapshot.id)
            if current is None and expected_seq != 0:
                raise Conflict(f"case {snapshot.id!r} does not exist (expected seq {expected_seq})")
            if current is not None and expected_seq == 0:
                raise CaseExists(f"case {snapshot.id!r} is already open")
            if current is not None and current.seq != expected_seq:
                raise Conflict(
                    f"case {snapshot.id!r} is at seq {current.seq}, not {expected_seq}: "
                    "another writer moved it; read it again and retry"
                )
            self._cases[snapshot.id] = snapshot
            self._records.setdefault(snapshot.id, []).append(dict(record))
            if idempotency_key is not None and fingerprint is not None:
                self._keys[(snapshot.id, idempotency_key)] = IdempotencyEntry(
                    fingerprint=fingerprint, seq=snapshot.seq
                )

    def records(self, case_id: str, *, upto: int | None = None) -> list[dict[str, Any]]:
        found = self._records.get(case_id, [])
        chosen = found if upto is None else found[:upto]
        return copy.deepcopy(chosen)

    def idempotency(self, case_id: str, key: str) -> IdempotencyEntry | None:
        return self._keys.get((case_id, key))

    def due_timers(self, now: datetime) -> list[CaseSnapshot]:
        due = [
            c
            for c in self._cases.values()
            if c.deadline_at is not None and not c.final and c.deadline_at <= now
        ]
        return sorted(due, key=lambda c: (c.deadline_at or now, c.id))

    def case_ids(self) -> list[str]:
        return sorted(self._cases)
