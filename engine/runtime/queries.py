"""What the Engine's read methods take and return, and the paging cursor kept behind it.

The HTTP API, the workbench and the CLI list cases, page through them and read
snapshots only through the ``Engine``; they import the value types from here,
never from ``engine.storage``. A page cursor is the store's text: callers pass it
back unread, and ``check_cursor`` refuses one no store made before the store is
asked (a bad cursor is the caller's mistake, not a store failure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.errors import InvalidCursor, StoreError
from engine.runtime.snapshot import CaseSnapshot
from engine.storage.base import CaseFilter, CasePage, ProcedureRef, Store
from engine.storage.rows import decode_cursor, encode_cursor, text_micros

__all__ = [
    "CaseFilter",
    "CasePage",
    "CaseSearch",
    "CaseSnapshot",
    "ProcedureRef",
    "check_cursor",
    "search_cases",
]

_NOT_A_CURSOR = "after: not a cursor from a previous page"
_INT64 = 2**63


def check_cursor(after: str) -> None:
    """Refuse a cursor no store made, or one no store could use.

    Raises:
        InvalidCursor: when ``after`` is not a page cursor (or names a time or case
            id outside what a store can hold: a 64-bit time, an id without NUL or
            lone surrogates).
    """
    try:
        updated_us, case_id = decode_cursor(after)
    except StoreError as exc:
        raise InvalidCursor(_NOT_A_CURSOR) from exc
    if not -_INT64 <= updated_us < _INT64 or not case_id or "\x00" in case_id:
        raise InvalidCursor(_NOT_A_CURSOR)
    try:
        case_id.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate (\ud800) no store can encode
        raise InvalidCursor(_NOT_A_CURSOR) from exc


def cursor_at(case: CaseSnapshot) -> str:
    """The cursor of the page that continues just after ``case``."""
    return encode_cursor(text_micros(case.updated_at), case.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseSearch:
    """One page of ``search_cases``: the cases kept, where to continue, how many were read."""

    cases: tuple[CaseSnapshot, ...]
    next: str | None
    scanned: int


def search_cases(
    store: Store,
    where: CaseFilter | None,
    keep: Callable[[CaseSnapshot], bool],
    *,
    after: str | None = None,
    limit: int = 25,
    scan: int = 5_000,
) -> CaseSearch:
    """Up to ``limit`` cases matching ``where`` that ``keep`` accepts, newest update first.

    At most about ``scan`` cases are read per page (in batches of 200), so a search
    that matches little still answers in bounded time; ``next`` continues from the
    last case read or kept.

    Raises:
        InvalidCursor: when ``after`` is not a cursor from a previous page.
    """
    if after is not None:
        check_cursor(after)
    picked: list[CaseSnapshot] = []
    scanned = 0
    cursor = after
    while scanned < scan:
        batch = store.list_cases(where, after=cursor, limit=200)
        for case in batch.cases:
            scanned += 1
            if keep(case):
                picked.append(case)
                if len(picked) == limit:
                    return CaseSearch(cases=tuple(picked), next=cursor_at(case), scanned=scanned)
        if batch.next is None:
            return CaseSearch(cases=tuple(picked), next=None, scanned=scanned)
        cursor = batch.next
    return CaseSearch(cases=tuple(picked), next=cursor, scanned=scanned)
