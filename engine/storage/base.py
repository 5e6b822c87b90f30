"""The store protocol every backend implements.

A commit appends one audit record and replaces the case snapshot in one atomic
step, and only if the case's seq is still the one the writer read: a
concurrent writer gets ``Conflict`` and the chain never forks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseSnapshot:
    """A case's current state as stored beside its audit records."""

    id: str
    procedure_id: str
    procedure_version: str
    procedure_sha256: str
    state: str
    data: Mapping[str, Any]
    seq: int
    head: str
    final: bool
    state_entered_at: str
    deadline_at: datetime | None = None
    deadline_event: str | None = None
    updated_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IdempotencyEntry:
    """What an idempotency key was first used for."""

    fingerprint: str
    seq: int


class Store(Protocol):
    """Durable (or in-memory) home of procedures, cases, records, keys and timers."""

    def save_procedure(self, *, id: str, version: str, sha256: str, source: str) -> None:
        """Keep a procedure's exact source, addressed by its sha256 (idempotent)."""
        ...

    def procedure_source(self, sha256: str) -> str | None:
        """The source of a stored procedure version, or None."""
        ...

    def get_case(self, case_id: str) -> CaseSnapshot | None:
        """The case's snapshot, or None when there is no such case."""
        ...

    def commit(
        self,
        snapshot: CaseSnapshot,
        record: Mapping[str, Any],
        *,
        expected_seq: int,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        """Append ``record`` and replace the snapshot atomically.

        Raises:
            Conflict: when the stored seq is not ``expected_seq`` (or the case already
                exists when ``expected_seq`` is 0).
        """
        ...

    def records(self, case_id: str, *, upto: int | None = None) -> list[dict[str, Any]]:
        """The case's audit records in seq order (up to ``upto`` when given)."""
        ...

    def idempotency(self, case_id: str, key: str) -> IdempotencyEntry | None:
        """What ``key`` was first used for on this case, if anything."""
        ...

    def due_timers(self, now: datetime) -> list[CaseSnapshot]:
        """Open cases whose deadline is at or before ``now``, earliest first."""
        ...

    def case_ids(self) -> list[str]:
        """Every case id, sorted."""
        ...
