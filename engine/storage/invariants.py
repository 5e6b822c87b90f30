"""The rules of a commit, written once for every backend, with one set of messages.

A commit after seq n holds seq n + 1 (``check_shape``); it lands only on the head
its writer read (``check_head``): a case that moved on is a ``Conflict`` (read it
again and retry), a record whose ``prev`` is not the stored head at the expected
seq would fork the chain and is refused outright. An idempotency key lands once
(``key_taken``). The memory store checks these in Python under its lock; the SQL
store lets the database decide (a conditional UPDATE, ``ON CONFLICT DO NOTHING``)
and asks ``check_head`` only for the reason, so both refuse with the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import CaseExists, Conflict, EngineError, StoreError
from engine.runtime.snapshot import CaseSnapshot


def check_shape(snapshot: CaseSnapshot, record: Mapping[str, Any], expected_seq: int) -> None:
    """Refuse a commit whose snapshot and record do not both hold seq ``expected_seq + 1``.

    Raises:
        StoreError: when they do not (a caller's bug, not a race).
    """
    if snapshot.seq != expected_seq + 1 or record.get("seq") != snapshot.seq:
        raise StoreError(
            f"case {snapshot.id!r}: a commit after seq {expected_seq} must hold seq "
            f"{expected_seq + 1} (snapshot {snapshot.seq}, record {record.get('seq')})"
        )


def head_error(
    case_id: str, expected_seq: int, prev: str, found: tuple[int, str] | None
) -> EngineError | None:
    """Why a commit may not land on the stored head ``found``, or None when it may.

    Args:
        case_id: the case.
        expected_seq: the seq the writer read (0: the writer opens the case).
        prev: the head the writer's record links to.
        found: the stored ``(seq, head)``, or None when the case does not exist.

    Returns:
        ``CaseExists`` when opening a case that exists; ``Conflict`` when the case is
        missing or moved on; ``StoreError`` when the seq matches but the head does not
        (the record would fork the chain); None when the commit continues the chain.
    """
    if expected_seq == 0:
        return None if found is None else case_exists(case_id)
    if found is None:
        return Conflict(f"case {case_id!r} does not exist (expected seq {expected_seq})")
    seq, head = found
    if seq != expected_seq:
        return Conflict(
            f"case {case_id!r} is at seq {seq}, not {expected_seq}: "
            "another writer moved it; read it again and retry"
        )
    if head != prev:
        return StoreError(
            f"case {case_id!r}: the record does not continue the stored chain at seq {seq} "
            f"(prev {prev[:12]}…, head {head[:12]}…); refusing to fork it"
        )
    return None


def check_head(case_id: str, expected_seq: int, prev: str, found: tuple[int, str] | None) -> None:
    """Raise ``head_error``'s error, if any.

    Raises:
        CaseExists, Conflict, StoreError: see ``head_error``.
    """
    error = head_error(case_id, expected_seq, prev, found)
    if error is not None:
        raise error


def refused_head(
    case_id: str, expected_seq: int, prev: str, found: tuple[int, str] | None
) -> EngineError:
    """Why a conditional write that matched no row was refused (for the SQL store).

    The database already refused; when the head read afterwards admits the commit
    after all, another writer changed the case in between: a ``Conflict``.
    """
    error = head_error(case_id, expected_seq, prev, found)
    if error is not None:
        return error
    return Conflict(
        f"case {case_id!r} changed while this commit was written; read it again and retry"
    )


def case_exists(case_id: str) -> CaseExists:
    """The error for opening a case whose id is taken."""
    return CaseExists(f"case {case_id!r} is already open")


def key_taken(case_id: str, key: str) -> Conflict:
    """The error for an idempotency key another writer recorded meanwhile."""
    return Conflict(
        f"idempotency key {key!r} on case {case_id!r} was used by a concurrent request; "
        "retry to get its outcome"
    )


def already_stored(case_id: str) -> CaseExists:
    """The error for importing a case id the store already holds (or that comes twice)."""
    return CaseExists(f"case {case_id!r} is already in the store")
