"""The embedded SQLite store (``sqlite:///path.db``), the default.

Durability: the database runs in WAL mode with ``synchronous=FULL``, so a commit
returns only after the WAL is fsync'd and an acknowledged event survives a
crash of the process or of the machine. ``?sync=normal`` skips that fsync
(the WAL is synced at checkpoints only): still safe against a killed process,
but the last events acknowledged before a power cut or kernel panic may be
lost. Use it only where the caller can redo them.

Group commit: an fsync costs far more than writing one row, so when several
threads commit at once their records share one transaction and one fsync. The
first thread to find no commit in progress becomes the leader, takes every
waiting item (its own included) and writes them so that one refused item fails
alone (see ``_apply_batch``); then it commits, and only after the commit returns
does any of those callers return. Threads that arrive meanwhile wait and form
the next batch, whose leader is woken alone: each waiting thread sleeps on its
own lock, so a batch of 32 wakes its 32 callers once each rather than every
waiting thread at every batch. Several *processes* on one file take turns via
SQLite's write lock (``BEGIN IMMEDIATE`` with a busy timeout).

This module is the SQLite ``Dialect``; the statements are ``engine.storage.sql``'s.

Reads use one connection per thread (WAL readers never wait for the writer).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from engine.errors import EngineError, StoreError
from engine.storage.dialect import Apply, CaseWrite, Row, Session
from engine.storage.migrations import SCHEMA_TABLE, migrate, pending
from engine.storage.sql import SqlStore

Sync = Literal["full", "normal"]


class _Session:
    """A sqlite3 connection as a ``Session``: ``?`` placeholders already, rows by name."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.conn.execute(sql, params).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)


@dataclass(slots=True, eq=False)
class _Pending:
    """One commit waiting for its batch (mutable: the leader fills in the outcome).

    ``wake`` is held while the caller sleeps; releasing it wakes that caller alone,
    either because its commit is done or because it is to lead the next batch.
    """

    write: CaseWrite
    apply: Apply
    wake: threading.Lock | None = None
    lead: bool = False  # woken to lead the next batch
    done: bool = False
    ok: bool = False
    error: EngineError | None = None


def read_only_reason(path: str) -> str | None:
    """Why yishi cannot write the database at ``path`` when that is the cause, else None.

    SQLite reports a read-only file or directory as "unable to open database file" or
    "attempt to write a readonly database", which reads like damage; this says which.
    """
    file = Path(path)
    directory = file.parent
    try:
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return f"{directory} is on a read-only file system; yishi must write the database"
    except OSError:
        return None
    if file.exists() and not os.access(file, os.W_OK):
        return "the file is read-only; yishi must write the database (check its permissions)"
    if not os.access(directory, os.W_OK):
        return (
            f"the directory {directory} is read-only; SQLite must create "
            f"{file.name}-wal and {file.name}-shm beside the database"
        )
    return None


class SqliteDialect:
    """One SQLite file: a writer connection with group commit, a reader per thread.

    Args:
        path: the database file (created, with its directory's permission, if missing).
        sync: ``"full"`` (default: fsync per commit) or ``"normal"`` (see the module doc).
        timeout: seconds to wait for another process's write lock.
        max_batch: the most commits one transaction carries.

    Raises:
        StoreError: when the file is not a SQLite database, is corrupt, cannot be
            opened, or has a newer schema than this yishi knows.
    """

    claim_lock = ""
    no_limit: int | None = -1
    line_bytes = True  # unless the file's text is not UTF-8 (see ``_prepare``)

    def __init__(
        self, path: str | Path, *, sync: Sync = "full", timeout: float = 30.0, max_batch: int = 1000
    ) -> None:
        self.where = self.path = str(path)
        self.sync: Sync = sync
        self._timeout = timeout
        self._max_batch = max_batch
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._mutex = threading.Lock()  # guards the queue and who leads
        self._queue: list[_Pending] = []
        self._leading = False
        self._closed = False
        self._writer = self._open_writer()

    # -- connections ----------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            read_only = read_only_reason(self.path)
            if read_only is not None:
                raise StoreError(f"{self.path}: cannot open the database: {read_only}") from exc
            raise StoreError(f"{self.path}: cannot open the database: {exc}") from exc
        conn.row_factory = sqlite3.Row
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        where = self.path
        try:
            # Reading the schema first means a corrupt or foreign file is refused
            # before anything (even the WAL switch) is written to it.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute(f"PRAGMA synchronous = {self.sync.upper()}")
            conn.execute("PRAGMA cache_size = -65536")
            # CAST(? AS TEXT) reads bound bytes in the file's encoding: UTF-8 unless
            # someone made the file otherwise, and then lines are bound as str.
            encoding = conn.execute("PRAGMA encoding").fetchone()
            self.line_bytes = encoding is not None and str(encoding[0]) == "UTF-8"
            if self._schema_is_current(conn):
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have migrated while we waited for the lock.
                migrate(_Session(conn), where, "sqlite")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            # A read-only file or mount fails the WAL switch; that is no corruption.
            read_only = read_only_reason(where)
            if read_only is not None:
                raise StoreError(f"{where}: cannot use the database: {read_only}") from exc
            raise StoreError(
                f"{where}: not a usable yishi SQLite database ({exc}); "
                "check the path, or restore the file from a backup"
            ) from exc

    def _schema_is_current(self, conn: sqlite3.Connection) -> bool:
        """True when nothing is to migrate (read without a write lock; refuses a newer one)."""
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (SCHEMA_TABLE,)
        ).fetchone()
        if exists is None:
            return False
        row = conn.execute(f"SELECT version FROM {SCHEMA_TABLE}").fetchone()
        return not pending(0 if row is None else int(row["version"]), self.path)

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"{self.path}: the store is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            with self._readers_lock:
                self._readers.append(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def reading(self) -> Iterator[_Session]:
        """A session on this thread's reader connection."""
        conn = self._reader()
        try:
            yield _Session(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read: {exc}") from exc

    @contextmanager
    def writing(self) -> Iterator[_Session]:
        """One write transaction on the writer connection (outside group commit)."""
        with self._write_lock:
            if self._closed:
                raise StoreError(f"{self.path}: the store is closed")
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot write: {exc}") from exc
            try:
                yield _Session(conn)
                conn.execute("COMMIT")
            except BaseException as exc:
                conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"{self.path}: cannot write: {exc}") from exc
                raise

    def lock_version(self, session: Session, id: str, version: str) -> None:
        """Nothing more: ``BEGIN IMMEDIATE`` already serialises every writer of the file."""

    # -- group commit ---------------------------------------------------------------------------

    def commit(self, write: CaseWrite, apply: Apply) -> None:
        """Write one commit with whatever others wait beside it, under one fsync.

        Raises:
            EngineError: what ``apply`` raised for this commit (nothing of it is written).
            StoreError: when the database cannot be written.
        """
        item = _Pending(write=write, apply=apply)
        self._submit(item)
        if item.error is not None:
            raise item.error

    def _submit(self, item: _Pending) -> None:
        with self._mutex:
            if self._closed:
                raise StoreError(f"{self.path}: the store is closed")
            self._queue.append(item)
            wait = self._leading
            if wait:
                item.wake = threading.Lock()
                item.wake.acquire()
            self._leading = True
        if item.wake is not None:
            # Released by a leader: either this item is done, or this thread is to
            # lead the next batch (its item is then first in the queue).
            try:
                item.wake.acquire()
            except BaseException:
                self._abandon(item)  # Ctrl-C in a waiting main thread, say
                raise
            if item.done:
                return
        with self._mutex:
            batch = self._queue[: self._max_batch]
            del self._queue[: len(batch)]
        try:
            self._write_batch(batch)
        finally:
            self._finish(batch)

    def _abandon(self, item: _Pending) -> None:
        """Take back a waiting item whose thread was interrupted, passing on any lead.

        A leader hands the lead to the oldest waiter and leaves; if that waiter is
        gone, the others would wait for ever. An item already in a batch cannot be
        taken back (it may still land), as before.
        """
        with self._mutex:
            if item.done or item not in self._queue:
                return
            self._queue.remove(item)
            if item.lead:  # the lead was handed to it: pass it on
                self._hand_on()

    def _finish(self, batch: list[_Pending]) -> None:
        """Tell each caller of ``batch`` its outcome, and wake the next leader if any waits."""
        with self._mutex:
            for pending_item in batch:
                if not pending_item.ok and pending_item.error is None:
                    pending_item.error = StoreError(
                        f"{self.path}: the commit was interrupted; nothing was written"
                    )
                pending_item.done = True
                if pending_item.wake is not None:
                    pending_item.wake.release()
            self._hand_on()

    def _hand_on(self) -> None:
        """Pass the lead to the oldest waiter, which takes the queue as its batch (under
        ``_mutex``); with nobody waiting, the next thread to commit leads."""
        if self._queue:
            nxt = self._queue[0]
            assert nxt.wake is not None
            nxt.lead = True
            nxt.wake.release()
        else:
            self._leading = False

    def _write_batch(self, batch: list[_Pending]) -> None:
        with self._write_lock:
            if self._closed:
                for item in batch:
                    item.error = StoreError(f"{self.path}: the store is closed")
                return
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                for item in batch:
                    item.error = StoreError(f"{self.path}: cannot write: {exc}")
                return
            try:
                if not self._apply_batch(conn, batch, savepoints=False):
                    # An item was refused after it had written: start again, each item
                    # under a SAVEPOINT so that the refused one is undone alone.
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    if len(batch) == 1:
                        return  # its error says why; nothing of it is written
                    for item in batch:
                        item.error = None
                    conn.execute("BEGIN IMMEDIATE")
                    self._apply_batch(conn, batch, savepoints=True)
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                for item in batch:
                    item.error = StoreError(f"{self.path}: cannot commit: {exc}")
                if not isinstance(exc, sqlite3.Error):
                    raise
                return
            for item in batch:
                item.ok = item.error is None

    def _apply_batch(
        self, conn: sqlite3.Connection, batch: list[_Pending], *, savepoints: bool
    ) -> bool:
        """Apply every item in the open transaction; False when that must be undone.

        Without savepoints (the usual case) an item refused before it wrote a row —
        a stale seq, an opened id — leaves the transaction as it was, so it fails
        alone for free; SQLite counts written rows (``total_changes``), which tells
        such an item from one refused after writing (a taken idempotency key) or
        failed in the driver. Then False: the caller rolls back and applies the
        batch again with ``savepoints``, where every item has its own and a refused
        one is rolled back to it. Two statements per item saved, on every commit.
        """
        session = _Session(conn)
        for item in batch:
            if savepoints:
                conn.execute("SAVEPOINT item")
            written = conn.total_changes
            try:
                item.apply(session, item.write)
            except (EngineError, sqlite3.Error) as exc:
                item.error = (
                    exc
                    if isinstance(exc, EngineError)
                    else StoreError(f"{self.path}: cannot write: {exc}")
                )
                if savepoints:
                    conn.execute("ROLLBACK TO item")
                elif conn.total_changes != written or isinstance(exc, sqlite3.Error):
                    return False
            if savepoints:
                conn.execute("RELEASE item")
        return True

    # -- closing --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection; later calls raise ``StoreError``."""
        with self._mutex:
            self._closed = True
        with self._write_lock:
            self._writer.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()


class SqliteStore(SqlStore):
    """Cases in one SQLite file, with group commit (the SQL store on ``SqliteDialect``).

    Args:
        path: the database file (created, with its directory's permission, if missing).
        sync: ``"full"`` (default: fsync per commit) or ``"normal"`` (see the module doc).
        timeout: seconds to wait for another process's write lock.
        max_batch: the most commits one transaction carries.

    Raises:
        StoreError: when the file is not a SQLite database, is corrupt, cannot be
            opened, or has a newer schema than this yishi knows.
    """

    def __init__(
        self, path: str | Path, *, sync: Sync = "full", timeout: float = 30.0, max_batch: int = 1000
    ) -> None:
        self.sqlite = SqliteDialect(path, sync=sync, timeout=timeout, max_batch=max_batch)
        super().__init__(self.sqlite)
        self.path = self.sqlite.path
        self.sync: Sync = sync

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
