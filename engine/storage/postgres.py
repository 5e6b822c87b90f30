"""The PostgreSQL store (``postgresql://…``): for several processes or machines.

Each commit is one transaction: the snapshot row is updated only where its seq
(and head) are still what the writer read — a concurrent writer blocks on the
row lock, then finds the seq moved and gets ``Conflict`` — and the record is
inserted beside it. A commit returns after PostgreSQL's own commit, which is
durable with the server's default ``synchronous_commit = on``; the server
already batches the WAL flushes of concurrent commits.

Timers are claimed with ``FOR UPDATE SKIP LOCKED`` plus a lease, so workers on
many machines share due timers without waiting for each other or taking the
same one; the expected seq of the commit that fires a timer still guarantees
it fires at most once.

This module is the PostgreSQL ``Dialect``; the statements are ``engine.storage.sql``'s.

A yishi-only query parameter ``schema=NAME`` keeps the tables in that schema
(created if missing): the tests give each test its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from engine.errors import StoreError
from engine.storage.dialect import Apply, CaseWrite, Row, Session
from engine.storage.migrations import migrate
from engine.storage.sql import SqlStore

_MIGRATION_LOCK = 0x796973686900  # pg_advisory_xact_lock key: "yishi\0"


class _Session:
    """A psycopg connection as a ``Session``: ``?`` becomes ``%s``, rows are dicts."""

    __slots__ = ("conn",)

    _translated: dict[str, str] = {}  # noqa: RUF012 - a shared cache of statement texts

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    @classmethod
    def _sql(cls, text: str) -> Any:
        found = cls._translated.get(text)
        if found is None:
            # No statement of the SQL store has a literal ? or %: a plain swap is exact.
            found = cls._translated[text] = text.replace("?", "%s")
        return found

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self.conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(self._sql(sql), params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.conn.cursor(row_factory=dict_row) as cursor:
            return list(cursor.execute(self._sql(sql), params).fetchall())

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.conn.cursor() as cursor:
            return cursor.execute(self._sql(sql), params).rowcount

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(self._sql(sql), rows)


def split_url(url: str) -> tuple[str, str | None]:
    """The libpq URL without yishi's own ``schema`` parameter, and that schema.

    Raises:
        StoreError: when the schema name is empty.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = None
    kept = []
    for name, value in query:
        if name == "schema":
            if not value:
                raise StoreError(f"{redact(url)}: schema= needs a name")
            schema = value
        else:
            kept.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), schema


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresDialect:
    """A PostgreSQL database, one connection per thread.

    Args:
        url: a libpq URL (``postgresql://user@host:port/db``), optionally with ``schema=``.
        connect_timeout: seconds to wait for the server.

    Raises:
        StoreError: when the server cannot be reached, the URL is refused, or the
            database has a newer schema than this yishi knows.
    """

    claim_lock = " FOR UPDATE SKIP LOCKED"
    no_limit: int | None = None
    line_bytes = False  # bytes would be bytea, cast to its hex text

    def __init__(self, url: str, *, connect_timeout: int = 5) -> None:
        self.where = self.url = redact(url)
        self._conninfo, self._schema = split_url(url)
        self._connect_timeout = connect_timeout
        self._local = threading.local()
        self._conns: list[psycopg.Connection[Any]] = []
        self._conns_lock = threading.Lock()
        self._closed = False
        try:
            with self.writing() as session:
                session.one("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
                migrate(session, self.url, "postgresql")
        except BaseException:
            self.close()
            raise

    # -- connections ----------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(
                self._conninfo, autocommit=True, connect_timeout=self._connect_timeout
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {self.url}: {_reason(exc)}") from exc
        try:
            if self._schema is not None:
                name = sql.Identifier(self._schema)
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
                conn.execute(sql.SQL("SET search_path TO {}").format(name))
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"{self.url}: cannot use schema {self._schema!r}: {exc}") from exc
        return conn

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        if self._closed:
            raise StoreError(f"{self.url}: the store is closed")
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = self._connect()
            with self._conns_lock:
                self._conns.append(conn)
            self._local.conn = conn
        try:
            yield conn
        except psycopg.Error as exc:
            raise StoreError(f"{self.url}: {_reason(exc)}") from exc

    @contextmanager
    def reading(self) -> Iterator[_Session]:
        """A session on this thread's connection (autocommit: each read on its own)."""
        with self._connection() as conn:
            yield _Session(conn)

    @contextmanager
    def writing(self) -> Iterator[_Session]:
        """One transaction on this thread's connection."""
        with self._connection() as conn, conn.transaction():
            yield _Session(conn)

    def commit(self, write: CaseWrite, apply: Apply) -> None:
        """One transaction per commit; the server batches the WAL flushes of concurrent ones.

        Raises:
            EngineError: what ``apply`` raised (the transaction is rolled back).
            StoreError: when PostgreSQL cannot be reached or written.
        """
        with self.writing() as session:
            apply(session, write)

    def lock_version(self, session: Session, id: str, version: str) -> None:
        """Serialise registrations of one id and version so two texts cannot both get in."""
        session.one("SELECT pg_advisory_xact_lock(hashtext(?))", (f"procedure:{id}:{version}",))

    def close(self) -> None:
        """Close every connection; later calls raise ``StoreError``."""
        self._closed = True
        with self._conns_lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()


def _reason(exc: psycopg.Error) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PostgresStore(SqlStore):
    """Cases in PostgreSQL (the SQL store on ``PostgresDialect``).

    Args:
        url: a libpq URL (``postgresql://user@host:port/db``), optionally with ``schema=``.
        connect_timeout: seconds to wait for the server.

    Raises:
        StoreError: when the server cannot be reached, the URL is refused, or the
            database has a newer schema than this yishi knows.
    """

    def __init__(self, url: str, *, connect_timeout: int = 5) -> None:
        self.postgres = PostgresDialect(url, connect_timeout=connect_timeout)
        super().__init__(self.postgres)
        self.url = self.postgres.url

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
