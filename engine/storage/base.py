"""The store protocol every backend implements.

A store is a recorder: it keeps what the runtime computed and reads it back.
A commit appends one audit record and replaces the case snapshot in one atomic
step, and only if the case's seq is still the one the writer read: a
concurrent writer gets ``Conflict`` and the chain never forks. Those rules are
written once, in ``engine.storage.invariants``, for every backend.

Records are kept as their exact audit-log line (``engine.audit.jsonl``: the hash
first, then the canonical bytes that were hashed), so exporting a case gives the
very bytes that were hashed and ``yishi verify`` accepts them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

# The snapshot is the runtime's; it is named here too so that code written
# against ``engine.storage.base.CaseSnapshot`` keeps working.
from engine.runtime.snapshot import CaseSnapshot as CaseSnapshot


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureRef:
    """A stored procedure version: its id, version, the sha256 of its source, its registration.

    ``registered_at`` (RFC 3339) and ``registered_by`` (an actor id) are those of the
    first registration of this text; None when it was stored before yishi recorded
    them, or registered without naming who.
    """

    id: str
    version: str
    sha256: str
    registered_at: str | None = None
    registered_by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IdempotencyEntry:
    """What an idempotency key was first used for."""

    fingerprint: str
    seq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CasePage:
    """One page of ``list_cases``: newest update first; ``next`` continues after it."""

    cases: tuple[CaseSnapshot, ...]
    next: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseFilter:
    """Which cases ``list_cases`` returns (every given condition must hold).

    ``updated_since`` is inclusive and ``updated_before`` exclusive. ``units``, when
    given, keeps only cases whose unit is one of them or lies under one of them
    (``县/镇`` keeps ``县/镇`` and ``县/镇/村``); an empty tuple keeps nothing.
    """

    procedure: str | None = None
    state: str | None = None
    updated_since: datetime | None = None
    updated_before: datetime | None = None
    units: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseImport:
    """One case for ``Store.import_cases``: its audit-log lines, where they lead, its keys."""

    snapshot: CaseSnapshot
    lines: Sequence[bytes]
    keys: Mapping[str, IdempotencyEntry] = field(default_factory=dict)


class Store(Protocol):
    """Durable (or in-memory) home of procedures, cases, records, keys and timers."""

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
        """Keep a procedure's exact source, addressed by its sha256 (idempotent).

        Saving a stored text again changes nothing: its first registration's time
        and actor stay.

        Args:
            registered_at: when it is registered (RFC 3339), or None when unknown.
            registered_by: who registers it (an actor id), or None when unknown.

        Raises:
            VersionTaken: another text is stored under the same id and version.
        """
        ...

    def procedure_source(self, sha256: str) -> str | None:
        """The source of a stored procedure version, or None."""
        ...

    def procedures(self) -> list[ProcedureRef]:
        """Every stored procedure version, sorted by id, version and sha256."""
        ...

    def cases_per_procedure(self) -> dict[str, int]:
        """How many cases pin each procedure version, by sha256 (versions with none left out)."""
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

        Returns only once the record is durable (for a durable backend).

        Raises:
            Conflict: when the stored seq is not ``expected_seq``, or the idempotency
                key was recorded meanwhile by another writer.
            CaseExists: when ``expected_seq`` is 0 and the case already exists.
            StoreError: when the backend cannot write.
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

    def claim_due_timers(
        self, now: datetime, *, limit: int | None = None, lease_seconds: float = 60.0
    ) -> list[CaseSnapshot]:
        """Like ``due_timers``, but each returned timer is leased to the caller.

        Another caller does not get the same timer until the lease (wall-clock
        seconds) runs out or the case is committed (any commit ends the lease). With
        PostgreSQL, workers claim with ``FOR UPDATE SKIP LOCKED`` so they never wait
        for each other or take the same timer; the expected seq of the commit that
        fires a timer still guarantees it is fired at most once.

        Args:
            now: the time timers are due at (deadline ≤ now).
            limit: at most this many (all when None), earliest deadline first.
            lease_seconds: how long the claim keeps other workers away.
        """
        ...

    def case_ids(self) -> list[str]:
        """Every case id, sorted."""
        ...

    def list_cases(
        self, where: CaseFilter | None = None, *, after: str | None = None, limit: int = 50
    ) -> CasePage:
        """Cases matching ``where``, most recently updated first, one page at a time.

        Paging is by key (the last case's update time and id), so a page costs the
        same however deep it is, and cases updated meanwhile do not shift later pages.

        Args:
            where: the conditions (all cases when None).
            after: the ``next`` of the previous page.
            limit: the page size (1 or more).

        Raises:
            StoreError: when ``after`` is not a cursor this store produced.
        """
        ...

    def export_lines(self, case_id: str) -> list[bytes]:
        """The case's audit-log lines in seq order, each exactly as hashed, with its newline.

        Empty when there is no such case.
        """
        ...

    def import_case(
        self,
        snapshot: CaseSnapshot,
        lines: Sequence[bytes],
        *,
        keys: Mapping[str, IdempotencyEntry] | None = None,
    ) -> None:
        """Store a case from its audit-log lines, the snapshot they lead to, and its keys.

        The lines are verified first (layout, hashes, one unbroken chain from seq 1
        of ``snapshot.id`` ending at ``snapshot.seq``/``snapshot.head``); a broken
        chain stores nothing.

        Raises:
            AuditError: when the lines do not verify or do not match the snapshot.
            CaseExists: when the store already holds a case with this id.
        """
        ...

    def import_cases(self, cases: Sequence[CaseImport]) -> None:
        """Store several cases as ``import_case`` does, all or none of them.

        Every case is checked, then all are written in one transaction: when one
        is refused (a broken chain, an id the store already holds) none is stored.

        Raises:
            AuditError: when one case's lines do not verify or do not match its snapshot.
            CaseExists: when the store already holds one of the ids (or one comes twice).
        """
        ...

    def close(self) -> None:
        """Release connections and files; the store cannot be used afterwards."""
        ...
