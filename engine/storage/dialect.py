"""What the SQL store needs from a database driver: sessions, transactions, its few words.

SQLite and PostgreSQL run the same statements (``engine.storage.sql``); each
``Dialect`` supplies only what really differs between them: how a connection is
opened and shared between threads, how a write transaction is taken and made
durable (SQLite: one writer with group commit; PostgreSQL: a transaction per
commit on each thread's connection), how two registrations of one version are
serialised, how due timers are claimed without two workers taking the same one,
and its placeholders. Statements are written with ``?``; a ``Session`` turns them
into the driver's own. Rows come back readable by column name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol


class Row(Protocol):
    """One result row, read by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


class Session(Protocol):
    """One connection (in or out of a transaction) as the SQL store uses it."""

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row of a query, or None."""
        ...

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of a query."""
        ...

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute a statement; return how many rows it changed."""
        ...

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Execute a statement once per parameter row."""
        ...


@dataclass(slots=True, kw_only=True)
class CaseWrite:
    """One commit on its way to the database: the snapshot row, the record line, the key."""

    case_id: str
    seq: int
    row: tuple[Any, ...]
    line: str | bytes
    """The record's line as the dialect binds it (``Dialect.line_bytes``)."""
    expected_seq: int
    prev: str
    key: str | None
    fingerprint: str | None


Apply = Callable[[Session, CaseWrite], None]
"""Writes one commit in an open transaction, raising ``EngineError`` when it is refused."""


class Dialect(Protocol):
    """A database as the SQL store sees it.

    Attributes:
        where: how messages name the database (a path, or a URL without password).
        claim_lock: what follows the claim query's inner SELECT (row locks to skip).
        no_limit: the LIMIT value that means "all rows".
        line_bytes: whether a record's line is bound as its UTF-8 bytes, which
            ``CAST(? AS TEXT)`` stores as the text they encode (SQLite, whose text is
            UTF-8: no decoding to ``str`` and encoding back per commit), rather than as
            ``str`` (PostgreSQL, where the cast of bytes would be their hex).
    """

    where: str
    claim_lock: str
    no_limit: int | None
    line_bytes: bool

    def reading(self) -> AbstractContextManager[Session]:
        """A session for reads (no transaction of its own).

        Raises:
            StoreError: when the store is closed, or the driver fails.
        """
        ...

    def writing(self) -> AbstractContextManager[Session]:
        """A session in one write transaction: committed on exit, rolled back on error.

        Raises:
            StoreError: when the store is closed, or the driver fails.
        """
        ...

    def commit(self, write: CaseWrite, apply: Apply) -> None:
        """Run ``apply`` for ``write`` in a transaction and return once it is durable.

        Raises:
            EngineError: what ``apply`` raised (nothing of the commit is written).
            StoreError: when the database cannot be written.
        """
        ...

    def lock_version(self, session: Session, id: str, version: str) -> None:
        """Serialise registrations of one procedure id and version (in a write session)."""
        ...

    def close(self) -> None:
        """Release every connection; later calls raise ``StoreError``."""
        ...
