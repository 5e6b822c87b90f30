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

A yishi-only query parameter ``schema=NAME`` keeps the tables in that schema
(created if missing): the tests give each test its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from engine.errors import CaseExists, Conflict, StoreError, VersionTaken
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

_COLUMNS = ", ".join(CASE_COLUMNS)
_INSERT_CASE = (
    f"INSERT INTO cases ({_COLUMNS}) VALUES ({', '.join(['%s'] * len(CASE_COLUMNS))}) "
    "ON CONFLICT (id) DO NOTHING"
)
_UPDATE_CASE = (
    "UPDATE cases SET "
    + ", ".join(f"{c} = %s" for c in CASE_COLUMNS[1:])
    + ", lease_until = NULL WHERE id = %s AND seq = %s AND head = %s"
)
_SELECT_CASE = f"SELECT {_COLUMNS} FROM cases"
_REF_COLUMNS = ", ".join(REF_COLUMNS)
_MIGRATION_LOCK = 0x796973686900  # pg_advisory_xact_lock key: "yishi\0"


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


class PostgresStore:
    """Cases in PostgreSQL, one connection per thread.

    Args:
        url: a libpq URL (``postgresql://user@host:port/db``), optionally with ``schema=``.
        connect_timeout: seconds to wait for the server.

    Raises:
        StoreError: when the server cannot be reached, the URL is refused, or the
            database has a newer schema than this yishi knows.
    """

    def __init__(self, url: str, *, connect_timeout: int = 5) -> None:
        self.url = redact(url)
        self._conninfo, self._schema = split_url(url)
        self._connect_timeout = connect_timeout
        self._local = threading.local()
        self._conns: list[psycopg.Connection[Any]] = []
        self._conns_lock = threading.Lock()
        self._closed = False
        self._known_procedures: set[str] = set()
        try:
            with self._connection() as conn:
                self._migrate(conn)
        except BaseException:
            self.close()
            raise

    # -- connections --------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(
                self._conninfo, autocommit=True, connect_timeout=self._connect_timeout
            )
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"cannot connect to PostgreSQL at {self.url}: {reason}") from exc
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
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"{self.url}: {reason}") from exc

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(CREATE_SCHEMA_TABLE)
            row = conn.execute(f"SELECT version FROM {SCHEMA_TABLE}").fetchone()
            found = 0 if row is None else int(row[0])
            for version, statements in pending(found, self.url, "postgresql"):
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    f"INSERT INTO {SCHEMA_TABLE} (one, version) VALUES (1, %s) "
                    "ON CONFLICT (one) DO UPDATE SET version = excluded.version",
                    (version,),
                )

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
        with self._connection() as conn, conn.transaction():
            # Serialise registrations of one id+version so two texts cannot both get in.
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"procedure:{id}:{version}",)
            )
            taken = conn.execute(
                "SELECT sha256 FROM procedures WHERE id = %s AND version = %s AND sha256 <> %s",
                (id, version, sha256),
            ).fetchone()
            if taken is not None:
                raise VersionTaken(id=id, version=version, stored=taken[0], offered=sha256)
            conn.execute(
                "INSERT INTO procedures "
                "(sha256, id, version, source, registered_at, registered_by) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING",
                (sha256, id, version, source, registered_at, registered_by),
            )
        self._known_procedures.add(sha256)

    def procedure_source(self, sha256: str) -> str | None:
        """The source of a stored procedure version, or None."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT source FROM procedures WHERE sha256 = %s", (sha256,)
            ).fetchone()
        return None if row is None else str(row[0])

    def procedures(self) -> list[ProcedureRef]:
        """Every stored procedure version, sorted by id, version and sha256."""
        with self._connection() as conn:
            rows = conn.execute(f"SELECT {_REF_COLUMNS} FROM procedures").fetchall()
        # Sorted here, not by the database's collation, so every backend orders alike.
        refs = [procedure_ref(dict(zip(REF_COLUMNS, row, strict=True))) for row in rows]
        return sorted(refs, key=lambda r: (r.id, r.version, r.sha256))

    # -- cases --------------------------------------------------------------------------------

    def get_case(self, case_id: str) -> CaseSnapshot | None:
        """The case's snapshot, or None when there is no such case."""
        with self._connection() as conn:
            row = conn.execute(f"{_SELECT_CASE} WHERE id = %s", (case_id,)).fetchone()
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
        """Append ``record`` and replace the snapshot in one transaction.

        Raises:
            Conflict: when the stored seq is not ``expected_seq`` or the key was taken.
            CaseExists: when ``expected_seq`` is 0 and the case exists.
            StoreError: when PostgreSQL cannot be reached or written.
        """
        if snapshot.seq != expected_seq + 1 or record.get("seq") != snapshot.seq:
            raise StoreError(
                f"case {snapshot.id!r}: a commit after seq {expected_seq} must hold seq "
                f"{expected_seq + 1} (snapshot {snapshot.seq}, record {record.get('seq')})"
            )
        row = case_row(snapshot)
        line = record_line(record)
        case_id = snapshot.id
        with self._connection() as conn, conn.transaction():
            if expected_seq == 0:
                if conn.execute(_INSERT_CASE, row).rowcount != 1:
                    raise CaseExists(f"case {case_id!r} is already open")
            else:
                prev = str(record.get("prev"))
                cursor = conn.execute(_UPDATE_CASE, (*row[1:], case_id, expected_seq, prev))
                if cursor.rowcount != 1:
                    found = conn.execute(
                        "SELECT seq, head FROM cases WHERE id = %s", (case_id,)
                    ).fetchone()
                    raise conflict_error(case_id, expected_seq, prev, found)
            conn.execute(
                "INSERT INTO events (case_id, seq, record) VALUES (%s, %s, %s)",
                (case_id, snapshot.seq, line),
            )
            if idempotency_key is not None and fingerprint is not None:
                inserted = conn.execute(
                    "INSERT INTO idempotency_keys (case_id, key, fingerprint, seq) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (case_id, idempotency_key, fingerprint, snapshot.seq),
                ).rowcount
                if inserted != 1:
                    raise Conflict(
                        f"idempotency key {idempotency_key!r} on case {case_id!r} was used by "
                        "a concurrent request; retry to get its outcome"
                    )

    def records(self, case_id: str, *, upto: int | None = None) -> list[dict[str, Any]]:
        """The case's audit records in seq order (up to ``upto`` when given)."""
        limit = upto if upto is not None else (1 << 62)
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT record FROM events WHERE case_id = %s AND seq <= %s ORDER BY seq",
                (case_id, limit),
            ).fetchall()
        return [parse_line_text(row[0]) for row in rows]

    def export_lines(self, case_id: str) -> list[bytes]:
        """The case's audit-log lines in seq order, exactly as stored, with newlines."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT record FROM events WHERE case_id = %s ORDER BY seq", (case_id,)
            ).fetchall()
        return [str(row[0]).encode("utf-8") + b"\n" for row in rows]

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
            StoreError: when PostgreSQL cannot be reached or written.
        """
        self.import_cases([CaseImport(snapshot=snapshot, lines=lines, keys=keys or {})])

    def import_cases(self, cases: Sequence[CaseImport]) -> None:
        """Store several verified cases in one transaction (see ``Store.import_cases``).

        Raises:
            AuditError: when one case's lines do not verify or do not match its snapshot.
            CaseExists: when one of the cases is already here (nothing is stored).
            StoreError: when PostgreSQL cannot be reached or written (nothing is stored).
        """
        checked = [(case, check_import(case.snapshot, case.lines)) for case in cases]
        with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            for case, texts in checked:
                snapshot = case.snapshot
                if cursor.execute(_INSERT_CASE, case_row(snapshot)).rowcount != 1:
                    raise CaseExists(f"case {snapshot.id!r} is already in {self.url}")
                cursor.executemany(
                    "INSERT INTO events (case_id, seq, record) VALUES (%s, %s, %s)",
                    [(snapshot.id, seq, text) for seq, text in enumerate(texts, 1)],
                )
                cursor.executemany(
                    "INSERT INTO idempotency_keys (case_id, key, fingerprint, seq) "
                    "VALUES (%s, %s, %s, %s)",
                    [(snapshot.id, k, e.fingerprint, e.seq) for k, e in case.keys.items()],
                )

    def idempotency(self, case_id: str, key: str) -> IdempotencyEntry | None:
        """What ``key`` was first used for on this case, if anything."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT fingerprint, seq FROM idempotency_keys WHERE case_id = %s AND key = %s",
                (case_id, key),
            ).fetchone()
        return None if row is None else IdempotencyEntry(fingerprint=row[0], seq=int(row[1]))

    # -- timers -------------------------------------------------------------------------------

    def due_timers(self, now: datetime) -> list[CaseSnapshot]:
        """Open cases whose deadline is at or before ``now``, earliest first."""
        with self._connection() as conn:
            rows = conn.execute(
                f"{_SELECT_CASE} WHERE deadline_us IS NOT NULL AND deadline_us <= %s "
                "ORDER BY deadline_us, id",
                (micros(now),),
            ).fetchall()
        return [snapshot_of(row) for row in rows]

    def claim_due_timers(
        self, now: datetime, *, limit: int | None = None, lease_seconds: float = 60.0
    ) -> list[CaseSnapshot]:
        """Lease due timers to the caller with ``FOR UPDATE SKIP LOCKED``."""
        wall = time.time()
        with self._connection() as conn, conn.transaction():
            rows = conn.execute(
                "UPDATE cases SET lease_until = %s WHERE id IN (SELECT id FROM cases "
                "WHERE deadline_us IS NOT NULL AND deadline_us <= %s "
                "AND (lease_until IS NULL OR lease_until < %s) "
                "ORDER BY deadline_us, id LIMIT %s FOR UPDATE SKIP LOCKED) "
                f"RETURNING {_COLUMNS}",
                (wall + lease_seconds, micros(now), wall, limit),
            ).fetchall()
        return sorted((snapshot_of(row) for row in rows), key=due_order)

    # -- listing ------------------------------------------------------------------------------

    def case_ids(self) -> list[str]:
        """Every case id, sorted."""
        with self._connection() as conn:
            return [row[0] for row in conn.execute("SELECT id FROM cases ORDER BY id")]

    def cases_per_procedure(self) -> dict[str, int]:
        """How many cases pin each procedure version, by sha256."""
        query = "SELECT procedure_sha256, COUNT(*) FROM cases GROUP BY procedure_sha256"
        with self._connection() as conn:
            return {str(row[0]): int(row[1]) for row in conn.execute(query)}

    def list_cases(
        self, where: CaseFilter | None = None, *, after: str | None = None, limit: int = 50
    ) -> CasePage:
        """Cases matching ``where``, most recently updated first (keyset paging).

        Raises:
            StoreError: when ``after`` is not a cursor from this store.
        """
        clause, params = case_filter(where, after, "%s")
        size = max(1, limit)
        with self._connection() as conn:
            rows = conn.execute(
                f"{_SELECT_CASE}{clause} ORDER BY updated_us DESC, id DESC LIMIT %s",
                (*params, size + 1),
            ).fetchall()
        page = rows[:size]
        cursor = encode_cursor(page[-1][14], page[-1][0]) if len(rows) > size else None
        return CasePage(cases=tuple(snapshot_of(row) for row in page), next=cursor)

    # -- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection; later calls raise ``StoreError``."""
        self._closed = True
        with self._conns_lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
