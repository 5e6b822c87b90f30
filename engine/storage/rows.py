"""How values become rows and back: snapshot rows, record lines, cursors, import checks.

Rows are read by column name (``CASE_COLUMNS``, ``REF_COLUMNS``), never by position.
The memory store shares the cursors and import checks, so paging and importing
behave alike in every backend.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from engine.audit.jsonl import line_of
from engine.audit.verify import verify_lines
from engine.errors import AuditError, StoreError
from engine.runtime.snapshot import CaseSnapshot
from engine.storage.base import CaseFilter, ProcedureRef
from engine.storage.dialect import Row

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

CASE_COLUMNS = (
    "id",
    "procedure_id",
    "procedure_version",
    "procedure_sha256",
    "state",
    "data",
    "seq",
    "head",
    "final",
    "state_entered_at",
    "deadline_at",
    "deadline_us",
    "deadline_event",
    "updated_at",
    "updated_us",
    "unit",
)
"""The columns of ``cases`` that a snapshot fills, in this order (the lease is extra)."""


REF_COLUMNS = ("id", "version", "sha256", "registered_at", "registered_by")
"""The columns of ``procedures`` that a ``ProcedureRef`` holds (the source is read alone)."""


def procedure_ref(row: Row) -> ProcedureRef:
    """The ``ProcedureRef`` a ``procedures`` row holds, read by column name."""
    at, by = row["registered_at"], row["registered_by"]
    return ProcedureRef(
        id=str(row["id"]), version=str(row["version"]), sha256=str(row["sha256"]),
        registered_at=None if at is None else str(at),
        registered_by=None if by is None else str(by),
    )  # fmt: skip


def micros(at: datetime) -> int:
    """Microseconds since the Unix epoch, exactly (for ordering by instant).

    Raises:
        ValueError: when ``at`` has no time zone.
    """
    if at.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return (at - EPOCH) // _MICROSECOND


def text_micros(text: str) -> int:
    """``micros`` of an RFC 3339 text (``Z`` or an offset)."""
    return micros(datetime.fromisoformat(text.replace("Z", "+00:00")))


_DATA_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
"""Refuse what ``json`` would refuse too (a datetime, a dataclass), rather than write it."""


def dump_data(data: Mapping[str, Any]) -> str:
    """Case data as compact JSON text, non-ASCII kept.

    orjson writes it in a microsecond, where ``json`` took ~5 (and several times that
    between the database's work and the engine's, caches cold): this runs on every
    commit, under the GIL. What orjson declines (an integer beyond 64 bits, a key that
    is no string) goes to ``json``, as before; the column is read back with
    ``json.loads``, so either text gives back the same data. Case data holds no floats
    (records carry it, and canonical JSON refuses them).
    """
    try:
        return orjson.dumps(data, option=_DATA_OPTIONS).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def case_row(snapshot: CaseSnapshot) -> tuple[Any, ...]:
    """The ``CASE_COLUMNS`` values of a snapshot.

    A final case keeps no deadline instant, so the due-timer index never lists it.
    """
    due = snapshot.deadline_at
    due_us = micros(due) if due is not None and not snapshot.final else None
    return (
        snapshot.id,
        snapshot.procedure_id,
        snapshot.procedure_version,
        snapshot.procedure_sha256,
        snapshot.state,
        dump_data(snapshot.data),
        snapshot.seq,
        snapshot.head,
        bool(snapshot.final),
        snapshot.state_entered_at,
        due.isoformat() if due is not None else None,
        due_us,
        snapshot.deadline_event,
        snapshot.updated_at,
        text_micros(snapshot.updated_at),
        snapshot.unit,
    )


def snapshot_of(row: Row) -> CaseSnapshot:
    """The snapshot a ``CASE_COLUMNS`` row holds (the deadline keeps its own offset)."""
    due = row["deadline_at"]
    return CaseSnapshot(
        id=str(row["id"]),
        procedure_id=str(row["procedure_id"]),
        procedure_version=str(row["procedure_version"]),
        procedure_sha256=str(row["procedure_sha256"]),
        state=str(row["state"]),
        data=json.loads(row["data"]),
        seq=int(row["seq"]),
        head=str(row["head"]),
        final=bool(row["final"]),
        state_entered_at=str(row["state_entered_at"]),
        deadline_at=datetime.fromisoformat(due) if due is not None else None,
        deadline_event=row["deadline_event"],
        updated_at=str(row["updated_at"]),
        unit=str(row["unit"]),
    )


def due_order(snapshot: CaseSnapshot) -> tuple[int, str]:
    """Sort key of due timers: deadline instant, then case id."""
    assert snapshot.deadline_at is not None
    return micros(snapshot.deadline_at), snapshot.id


def record_line(record: Mapping[str, Any]) -> str:
    """The audit-log line of a sealed record, without its newline, as stored.

    A record straight from ``seal`` brings its line along; any other record is
    encoded again and its hash re-checked.

    Raises:
        StoreError: when the record is not sealed, or (for a record not straight from
            ``seal``) was changed after sealing.
    """
    return record_bytes(record).decode("utf-8")


def record_bytes(record: Mapping[str, Any]) -> bytes:
    """``record_line`` as its UTF-8 bytes (as sealed: nothing decoded).

    Raises:
        StoreError: as ``record_line``.
    """
    try:
        return line_of(record)[:-1]
    except AuditError as exc:
        raise StoreError(f"refusing to store case {record.get('case')!r}: {exc}") from exc


def parse_line_text(text: str) -> dict[str, Any]:
    """A stored line back as a record."""
    value: dict[str, Any] = json.loads(text)
    return value


def encode_cursor(updated_us: int, case_id: str) -> str:
    """The opaque ``next`` of a page: where the last case sorted."""
    return json.dumps([updated_us, case_id], ensure_ascii=False, separators=(",", ":"))


_MAX_CURSOR = 65536
"""Far longer than any cursor ``encode_cursor`` makes (a time and a case id)."""


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The position an ``encode_cursor`` text names.

    Raises:
        StoreError: when ``cursor`` is not one.
    """
    if len(cursor) > _MAX_CURSOR:
        raise StoreError(f"{cursor[:40]!r}… is not a page cursor from this store")
    try:
        value = json.loads(cursor)
        updated_us, case_id = value
        # Within SQLite's and PostgreSQL's 64-bit integers: a larger one is no cursor
        # of ours, and binding it would fail in the driver rather than here.
        in_range = isinstance(updated_us, int) and -(2**63) <= updated_us < 2**63
        if in_range and isinstance(case_id, str):
            return updated_us, case_id
    except (ValueError, TypeError, RecursionError) as exc:
        raise StoreError(f"{cursor[:40]!r} is not a page cursor from this store") from exc
    raise StoreError(f"{cursor[:40]!r} is not a page cursor from this store")


def filter_bounds(where: CaseFilter | None) -> tuple[int | None, int | None]:
    """``updated_since``/``updated_before`` as microseconds."""
    if where is None:
        return None, None
    since = micros(where.updated_since) if where.updated_since is not None else None
    before = micros(where.updated_before) if where.updated_before is not None else None
    return since, before


def case_filter(
    where: CaseFilter | None, after: str | None, placeholder: str
) -> tuple[str, list[Any]]:
    """The WHERE clause and parameters of ``list_cases``, in the backend's placeholder style.

    Raises:
        StoreError: when ``after`` is not a cursor from this store.
    """
    p = placeholder
    conditions: list[str] = []
    params: list[Any] = []
    if where is not None and where.procedure is not None:
        conditions.append(f"procedure_id = {p}")
        params.append(where.procedure)
    if where is not None and where.state is not None:
        conditions.append(f"state = {p}")
        params.append(where.state)
    since, before = filter_bounds(where)
    if since is not None:
        conditions.append(f"updated_us >= {p}")
        params.append(since)
    if before is not None:
        conditions.append(f"updated_us < {p}")
        params.append(before)
    if where is not None and where.units is not None:
        # By whole path parts, without LIKE (whose wildcards a unit name could hold).
        scoped = [f"unit = {p} OR substr(unit, 1, {p}) = {p}" for _ in where.units]
        conditions.append("(" + " OR ".join(f"({c})" for c in scoped) + ")" if scoped else "1 = 0")
        for unit in where.units:
            params.extend((unit, len(unit) + 1, unit + "/"))
    if after is not None:
        conditions.append(f"(updated_us, id) < ({p}, {p})")
        params.extend(decode_cursor(after))
    clause = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return clause, params


def check_import(snapshot: CaseSnapshot, lines: Sequence[bytes]) -> list[str]:
    """Verify lines for ``import_case``; return them as stored text (no newline).

    Raises:
        AuditError: when the lines do not verify, hold another case, or do not end
            at the snapshot's seq and head.
    """
    if not lines:
        raise AuditError(f"case {snapshot.id}: nothing to import (no records)")
    normalised = [line if line.endswith(b"\n") else line + b"\n" for line in lines]
    report = verify_lines(normalised)
    if not report.ok:
        assert report.failure is not None
        raise AuditError(f"refusing to import: {report.failure}")
    if [h.case for h in report.heads] != [snapshot.id]:
        found = ", ".join(h.case for h in report.heads)
        raise AuditError(
            f"refusing to import: expected the records of case {snapshot.id}, found {found}"
        )
    head = report.heads[0]
    if head.seq != snapshot.seq or head.hash != snapshot.head or head.seq != len(lines):
        raise AuditError(
            f"refusing to import case {snapshot.id}: the records end at seq {head.seq} "
            f"(hash {head.hash[:12]}…), the snapshot at seq {snapshot.seq} "
            f"(head {snapshot.head[:12]}…)"
        )
    return [line[:-1].decode("utf-8") for line in normalised]
