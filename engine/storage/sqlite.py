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
waiting item (its own included) and writes them, each under its own SAVEPOINT
so that one conflicting item fails alone; then it commits, and only after the
commit returns does any of those callers return. Threads that arrive meanwhile
wait and form the next batch. Several *processes* on one file take turns via
SQLite's write lock (``BEGIN IMMEDIATE`` with a busy timeout).

Reads use one connection per thread (WAL readers never wait for the writer).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from engine.errors import CaseExists, Conflict, EngineError, StoreError, VersionTaken
from engine.storage.base import (
    CaseFilter,
    CaseImport,
    CasePage,
    CaseSnapshot,
    IdempotencyEntry,
    ProcedureRef,
)
from engine.storage.migrations import CREATE_SCHEMA_TABLE, SCHEMA_TABLE, pending
from engine.storage.rows import (
    CASE_COLUMNS,
    REF_COLUMNS,
    case_filter,
    case_row,
    check_import,
    conflict_error,
    due_order,
    encode_cursor,
    micros,
    parse_line_text,
    procedure_ref,
    record_line,
    snapshot_of,
)

Sync = Literal["full", "normal"]

_COLUMNS = ", ".join(CASE_COLUMNS)
_INSERT_CASE = f"INSERT INTO cases ({_COLUMNS}) VALUES ({', '.join('?' * len(CASE_COLUMNS))})"
_UPDATE_CASE = (
    "UPDATE cases SET "
    + ", ".join(f"{c} = ?" for c in CASE_COLUMNS[1:])
    + ", lease_until = NULL WHERE id = ? AND seq = ? AND head = ?"
)
_SELECT_CASE = f"SELECT {_COLUMNS} FROM cases"
_REF_COLUMNS = ", ".join(REF_COLUMNS)


@dataclass(slots=True, eq=False)
class _Pending:
    """One commit waiting for its batch (mutable: the leader fills in the outcome)."""

    row: tuple[Any, ...]
    line: str
    expected_seq: int
    prev: str
    key: str | None
    fingerprint: str | None
    done: bool = False
    ok: bool = False
    error: EngineError | None = field(default=None)


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


class SqliteStore:
    """Cases in one SQLite file, with group commit.

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
        self,
        path: str | Path,
        *,
        sync: Sync = "full",
        timeout: float = 30.0,
        max_batch: int = 1000,
    ) -> None:
        self.path = str(path)
        self.sync: Sync = sync
        self._timeout = timeout
        self._max_batch = max_batch
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False
        self._closed = False
        self._known_procedures: set[str] = set()
        self._writer = self._open_writer()

    # -- connections --------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            read_only = read_only_reason(self.path)
            if read_only is not None:
                raise StoreError(f"{self.path}: cannot open the database: {read_only}") from exc
            raise StoreError(f"{self.path}: cannot open the database: {exc}") from exc

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
            found = self._schema_version(conn)
            steps = pending(found, where)
            if steps:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    # Another process may have migrated while we waited for the lock.
                    for version, statements in pending(self._schema_version(conn), where):
                        for statement in statements:
                            conn.execute(statement)
                        conn.execute(
                            f"INSERT INTO {SCHEMA_TABLE} (one, version) VALUES (1, ?) "
                            "ON CONFLICT (one) DO UPDATE SET version = excluded.version",
                            (version,),
                        )
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

    @staticmethod
    def _schema_version(conn: sqlite3.Connection) -> int:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (SCHEMA_TABLE,)
        ).fetchone()
        if exists is None:
            conn.execute(CREATE_SCHEMA_TABLE)
            return 0
        row = conn.execute(f"SELECT version FROM {SCHEMA_TABLE}").fetchone()
        return 0 if row is None else int(row[0])

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
    def _reading(self) -> Iterator[sqlite3.Connection]:
        conn = self._reader()
        try:
            yield conn
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read: {exc}") from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
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
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"{self.path}: cannot write: {exc}") from exc
                raise

    # -- procedures ---------------------------------------------------------------------------

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
        """Keep a procedure's exact source, addressed by its sha256 (idempotent)."""
        if sha256 in self._known_procedures:
            return
        if self.procedure_source(sha256) is None:
            with self._transaction() as conn:
                taken = conn.execute(
                    "SELECT sha256 FROM procedures WHERE id = ? AND version = ? AND sha256 <> ?",
                    (id, version, sha256),
                ).fetchone()
                if taken is not None:
                    raise VersionTaken(id=id, version=version, stored=taken[0], offered=sha256)
                conn.execute(
                    "INSERT INTO procedures "
                    "(sha256, id, version, source, registered_at, registered_by) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                    (sha256, id, version, source, registered_at, registered_by),
                )
        self._known_procedures.add(sha256)

    def procedure_source(self, sha256: str) -> str | None:
        """The source of a stored procedure version, or None."""
        with self._reading() as conn:
            row = conn.execute("SELECT source FROM procedures WHERE sha256 = ?", (sha256,))
            found = row.fetchone()
        return None if found is None else str(found[0])

    def procedures(self) -> list[ProcedureRef]:
        """Every stored procedure version, sorted by id, version and sha256."""
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_REF_COLUMNS} FROM procedures ORDER BY id, version, sha256"
            ).fetchall()
        return [procedure_ref(dict(zip(REF_COLUMNS, row, strict=True))) for row in rows]

    # -- cases --------------------------------------------------------------------------------

    def get_case(self, case_id: str) -> CaseSnapshot | None:
        """The case's snapshot, or None when there is no such case."""
        with self._reading() as conn:
            row = conn.execute(f"{_SELECT_CASE} WHERE id = ?", (case_id,)).fetchone()
        return None if row is None else snapshot_of(row)

    def commit(
        self,
        snapshot: CaseSnapshot,
        record: Mapping[str, Any],
        *,
        expected_seq: int,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        """Append ``record`` and replace the snapshot atomically, durably, batched.

        Raises:
            Conflict: when the stored seq is not ``expected_seq`` or the key was taken.
            CaseExists: when ``expected_seq`` is 0 and the case exists.
            StoreError: when the database cannot be written.
        """
        if snapshot.seq != expected_seq + 1 or record.get("seq") != snapshot.seq:
            raise StoreError(
                f"case {snapshot.id!r}: a commit after seq {expected_seq} must hold seq "
                f"{expected_seq + 1} (snapshot {snapshot.seq}, record {record.get('seq')})"
            )
        item = _Pending(
            row=case_row(snapshot),
            line=record_line(record),
            expected_seq=expected_seq,
            prev=str(record.get("prev")),
            key=idempotency_key if fingerprint is not None else None,
            fingerprint=fingerprint,
        )
        self._submit(item)
        if item.error is not None:
            raise item.error

    def _submit(self, item: _Pending) -> None:
        with self._cond:
            if self._closed:
                raise StoreError(f"{self.path}: the store is closed")
            self._queue.append(item)
        while True:
            with self._cond:
                while not item.done and self._leading:
                    self._cond.wait()
                if item.done:
                    return
                self._leading = True
                batch = self._queue[: self._max_batch]
                del self._queue[: len(batch)]
            try:
                self._write_batch(batch)
            finally:
                with self._cond:
                    for pending_item in batch:
                        if not pending_item.ok and pending_item.error is None:
                            pending_item.error = StoreError(
                                f"{self.path}: the commit was interrupted; nothing was written"
                            )
                        pending_item.done = True
                    self._leading = False
                    self._cond.notify_all()

    def _write_batch(self, batch: list[_Pending]) -> None:
        with self._write_lock:
            if self._closed:
                for item in batch:
                    item.error = StoreError(f"{self.path}: the store is closed")
                return
            conn = self._writer
            single = len(batch) == 1
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                for item in batch:
                    item.error = StoreError(f"{self.path}: cannot write: {exc}")
                return
            try:
                for item in batch:
                    if not single:
                        conn.execute("SAVEPOINT item")
                    try:
                        self._apply(conn, item)
                    except (EngineError, sqlite3.Error) as exc:
                        item.error = (
                            exc
                            if isinstance(exc, EngineError)
                            else StoreError(f"{self.path}: cannot write: {exc}")
                        )
                        if not single:
                            conn.execute("ROLLBACK TO item")
                    if not single:
                        conn.execute("RELEASE item")
                if single and batch[0].error is not None:
                    conn.execute("ROLLBACK")
                    return
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

    @staticmethod
    def _apply(conn: sqlite3.Connection, item: _Pending) -> None:
        row = item.row
        case_id, seq = row[0], row[6]
        if item.expected_seq == 0:
            try:
                conn.execute(_INSERT_CASE, row)
            except sqlite3.IntegrityError as exc:
                raise CaseExists(f"case {case_id!r} is already open") from exc
        else:
            cursor = conn.execute(_UPDATE_CASE, (*row[1:], case_id, item.expected_seq, item.prev))
            if cursor.rowcount != 1:
                found = conn.execute(
                    "SELECT seq, head FROM cases WHERE id = ?", (case_id,)
                ).fetchone()
                raise conflict_error(case_id, item.expected_seq, item.prev, found)
        conn.execute(
            "INSERT INTO events (case_id, seq, record) VALUES (?, ?, ?)", (case_id, seq, item.line)
        )
        if item.key is not None:
            try:
                conn.execute(
                    "INSERT INTO idempotency_keys (case_id, key, fingerprint, seq) "
                    "VALUES (?, ?, ?, ?)",
                    (case_id, item.key, item.fingerprint, seq),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict(
                    f"idempotency key {item.key!r} on case {case_id!r} was used by a concurrent "
                    "request; retry to get its outcome"
                ) from exc

    def records(self, case_id: str, *, upto: int | None = None) -> list[dict[str, Any]]:
        """The case's audit records in seq order (up to ``upto`` when given)."""
        limit = upto if upto is not None else (1 << 62)
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT record FROM events WHERE case_id = ? AND seq <= ? ORDER BY seq",
                (case_id, limit),
            ).fetchall()
        return [parse_line_text(row[0]) for row in rows]

    def export_lines(self, case_id: str) -> list[bytes]:
        """The case's audit-log lines in seq order, exactly as stored, with newlines."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT record FROM events WHERE case_id = ? ORDER BY seq", (case_id,)
            ).fetchall()
        return [row[0].encode("utf-8") + b"\n" for row in rows]

    def import_case(
        self,
        snapshot: CaseSnapshot,
        lines: Sequence[bytes],
        *,
        keys: Mapping[str, IdempotencyEntry] | None = None,
    ) -> None:
        """Store a verified case (see ``Store.import_case``).

        Raises:
            AuditError: when the lines do not verify or do not match the snapshot.
            CaseExists: when the case is already here.
            StoreError: when the database cannot be written.
        """
        self.import_cases([CaseImport(snapshot=snapshot, lines=lines, keys=keys or {})])

    def import_cases(self, cases: Sequence[CaseImport]) -> None:
        """Store several verified cases in one transaction (see ``Store.import_cases``).

        Raises:
            AuditError: when one case's lines do not verify or do not match its snapshot.
            CaseExists: when one of the cases is already here (nothing is stored).
            StoreError: when the database cannot be written (nothing is stored).
        """
        checked = [(case, check_import(case.snapshot, case.lines)) for case in cases]
        with self._transaction() as conn:
            for case, texts in checked:
                snapshot = case.snapshot
                try:
                    conn.execute(_INSERT_CASE, case_row(snapshot))
                except sqlite3.IntegrityError as exc:
                    raise CaseExists(f"case {snapshot.id!r} is already in {self.path}") from exc
                conn.executemany(
                    "INSERT INTO events (case_id, seq, record) VALUES (?, ?, ?)",
                    [(snapshot.id, seq, text) for seq, text in enumerate(texts, 1)],
                )
                conn.executemany(
                    "INSERT INTO idempotency_keys (case_id, key, fingerprint, seq) "
                    "VALUES (?, ?, ?, ?)",
                    [(snapshot.id, k, e.fingerprint, e.seq) for k, e in case.keys.items()],
                )

    def idempotency(self, case_id: str, key: str) -> IdempotencyEntry | None:
        """What ``key`` was first used for on this case, if anything."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT fingerprint, seq FROM idempotency_keys WHERE case_id = ? AND key = ?",
                (case_id, key),
            ).fetchone()
        return None if row is None else IdempotencyEntry(fingerprint=row[0], seq=int(row[1]))

    # -- timers -------------------------------------------------------------------------------

    def due_timers(self, now: datetime) -> list[CaseSnapshot]:
        """Open cases whose deadline is at or before ``now``, earliest first."""
        with self._reading() as conn:
            rows = conn.execute(
                f"{_SELECT_CASE} WHERE deadline_us IS NOT NULL AND deadline_us <= ? "
                "ORDER BY deadline_us, id",
                (micros(now),),
            ).fetchall()
        return [snapshot_of(row) for row in rows]

    def claim_due_timers(
        self, now: datetime, *, limit: int | None = None, lease_seconds: float = 60.0
    ) -> list[CaseSnapshot]:
        """Lease due timers to the caller (see ``Store.claim_due_timers``)."""
        wall = time.time()
        with self._transaction() as conn:
            rows = conn.execute(
                f"UPDATE cases SET lease_until = ? WHERE id IN (SELECT id FROM cases "
                "WHERE deadline_us IS NOT NULL AND deadline_us <= ? "
                "AND (lease_until IS NULL OR lease_until < ?) "
                f"ORDER BY deadline_us, id LIMIT ?) RETURNING {_COLUMNS}",
                (wall + lease_seconds, micros(now), wall, -1 if limit is None else limit),
            ).fetchall()
        return sorted((snapshot_of(row) for row in rows), key=due_order)

    # -- listing ------------------------------------------------------------------------------

    def case_ids(self) -> list[str]:
        """Every case id, sorted."""
        with self._reading() as conn:
            return [row[0] for row in conn.execute("SELECT id FROM cases ORDER BY id")]

    def cases_per_procedure(self) -> dict[str, int]:
        """How many cases pin each procedure version, by sha256."""
        query = "SELECT procedure_sha256, COUNT(*) FROM cases GROUP BY procedure_sha256"
        with self._reading() as conn:
            return {str(row[0]): int(row[1]) for row in conn.execute(query)}

    def list_cases(
        self, where: CaseFilter | None = None, *, after: str | None = None, limit: int = 50
    ) -> CasePage:
        """Cases matching ``where``, most recently updated first (keyset paging).

        Raises:
            StoreError: when ``after`` is not a cursor from this store.
        """
        clause, params = case_filter(where, after, "?")
        sql = f"{_SELECT_CASE}{clause} ORDER BY updated_us DESC, id DESC LIMIT ?"
        with self._reading() as conn:
            rows = conn.execute(sql, (*params, max(1, limit) + 1)).fetchall()
        page = rows[: max(1, limit)]
        cursor = encode_cursor(page[-1][14], page[-1][0]) if len(rows) > len(page) else None
        return CasePage(cases=tuple(snapshot_of(row) for row in page), next=cursor)

    # -- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection; later calls raise ``StoreError``."""
        with self._cond:
            self._closed = True
        with self._write_lock:
            self._writer.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
