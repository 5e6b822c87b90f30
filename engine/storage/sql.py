"""The SQL store: every statement of the SQLite and PostgreSQL backends, written once.

It is a recorder: it stores what the runtime computed and reads it back, rows by
column name. The commit rules are ``engine.storage.invariants``'; the database
enforces them atomically (a snapshot UPDATE conditional on the seq and head the
writer read, inserts with ``ON CONFLICT DO NOTHING``) and ``invariants`` names the
reason when one matched no row. What differs between the two databases —
connections, transactions, durability, locking, placeholders — is the
``Dialect`` (``engine.storage.sqlite``, ``engine.storage.postgres``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from engine.errors import VersionTaken
from engine.runtime.snapshot import CaseSnapshot
from engine.storage.base import CaseFilter, CaseImport, CasePage, IdempotencyEntry, ProcedureRef
from engine.storage.dialect import CaseWrite, Dialect, Row, Session
from engine.storage.invariants import already_stored, check_shape, key_taken, refused_head
from engine.storage.rows import (
    CASE_COLUMNS,
    REF_COLUMNS,
    case_filter,
    case_row,
    check_import,
    due_order,
    encode_cursor,
    micros,
    parse_line_text,
    procedure_ref,
    record_bytes,
    record_line,
    snapshot_of,
)

_COLUMNS = ", ".join(CASE_COLUMNS)
_INSERT_CASE = (
    f"INSERT INTO cases ({_COLUMNS}) VALUES ({', '.join('?' * len(CASE_COLUMNS))}) "
    "ON CONFLICT (id) DO NOTHING"
)
_UPDATE_CASE = (
    "UPDATE cases SET "
    + ", ".join(f"{c} = ?" for c in CASE_COLUMNS[1:])
    + ", lease_until = NULL WHERE id = ? AND seq = ? AND head = ?"
)
_SELECT_CASE = f"SELECT {_COLUMNS} FROM cases"
_INSERT_EVENT = "INSERT INTO events (case_id, seq, record) VALUES (?, ?, CAST(? AS TEXT))"
"""The line is bound as text, or as UTF-8 bytes stored as the text they are (``line_bytes``)."""
_INSERT_KEY = (
    "INSERT INTO idempotency_keys (case_id, key, fingerprint, seq) VALUES (?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)
_INSERT_PROCEDURE = (
    "INSERT INTO procedures (sha256, id, version, source, registered_at, registered_by) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING"
)
_UNBOUNDED = 1 << 62
"""Above any seq: ``records`` without ``upto`` reads them all."""


def apply_commit(session: Session, write: CaseWrite) -> None:
    """Write one commit in an open transaction: snapshot, record, key — or refuse it.

    Raises:
        CaseExists, Conflict, StoreError: the ``invariants`` reason the commit was refused.
    """
    if write.expected_seq == 0:
        landed = session.run(_INSERT_CASE, write.row)
    else:
        landed = session.run(
            _UPDATE_CASE, (*write.row[1:], write.case_id, write.expected_seq, write.prev)
        )
    if landed != 1:
        found = session.one("SELECT seq, head FROM cases WHERE id = ?", (write.case_id,))
        head = None if found is None else (int(found["seq"]), str(found["head"]))
        raise refused_head(write.case_id, write.expected_seq, write.prev, head)
    session.run(_INSERT_EVENT, (write.case_id, write.seq, write.line))
    if write.key is not None:
        row = (write.case_id, write.key, write.fingerprint, write.seq)
        if session.run(_INSERT_KEY, row) != 1:
            raise key_taken(write.case_id, write.key)


class SqlStore:
    """Cases in a SQL database, through a ``Dialect``.

    Args:
        dialect: the database's connections and differences.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._known_procedures: set[str] = set()

    # -- procedures -----------------------------------------------------------------------------

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

        Raises:
            VersionTaken: another text is stored under the same id and version.
            StoreError: when the database cannot be written.
        """
        if sha256 in self._known_procedures:
            return
        if self.procedure_source(sha256) is None:
            with self.dialect.writing() as session:
                self.dialect.lock_version(session, id, version)
                taken = session.one(
                    "SELECT sha256 FROM procedures WHERE id = ? AND version = ? AND sha256 <> ?",
                    (id, version, sha256),
                )
                if taken is not None:
                    raise VersionTaken(
                        id=id, version=version, stored=str(taken["sha256"]), offered=sha256
                    )
                session.run(
                    _INSERT_PROCEDURE, (sha256, id, version, source, registered_at, registered_by)
                )
        self._known_procedures.add(sha256)

    def procedure_source(self, sha256: str) -> str | None:
        """The source of a stored procedure version, or None."""
        with self.dialect.reading() as session:
            row = session.one("SELECT source FROM procedures WHERE sha256 = ?", (sha256,))
        return None if row is None else str(row["source"])

    def procedures(self) -> list[ProcedureRef]:
        """Every stored procedure version, sorted by id, version and sha256."""
        with self.dialect.reading() as session:
            rows = session.all(f"SELECT {', '.join(REF_COLUMNS)} FROM procedures")
        # Sorted here, not by a database collation, so every backend orders alike.
        return sorted(
            (procedure_ref(row) for row in rows), key=lambda r: (r.id, r.version, r.sha256)
        )

    def cases_per_procedure(self) -> dict[str, int]:
        """How many cases pin each procedure version, by sha256."""
        query = "SELECT procedure_sha256, COUNT(*) AS cases FROM cases GROUP BY procedure_sha256"
        with self.dialect.reading() as session:
            return {str(row["procedure_sha256"]): int(row["cases"]) for row in session.all(query)}

    # -- cases ----------------------------------------------------------------------------------

    def get_case(self, case_id: str) -> CaseSnapshot | None:
        """The case's snapshot, or None when there is no such case."""
        with self.dialect.reading() as session:
            row = session.one(f"{_SELECT_CASE} WHERE id = ?", (case_id,))
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
        """Append ``record`` and replace the snapshot atomically, durably.

        Raises:
            Conflict: when the stored seq is not ``expected_seq`` or the key was taken.
            CaseExists: when ``expected_seq`` is 0 and the case exists.
            StoreError: when the record would fork the chain, or the database cannot
                be written.
        """
        check_shape(snapshot, record, expected_seq)
        write = CaseWrite(
            case_id=snapshot.id,
            seq=snapshot.seq,
            row=case_row(snapshot),
            line=record_bytes(record) if self.dialect.line_bytes else record_line(record),
            expected_seq=expected_seq,
            prev=str(record.get("prev")),
            key=idempotency_key if fingerprint is not None else None,
            fingerprint=fingerprint,
        )
        self.dialect.commit(write, apply_commit)

    def records(self, case_id: str, *, upto: int | None = None) -> list[dict[str, Any]]:
        """The case's audit records in seq order (up to ``upto`` when given)."""
        limit = upto if upto is not None else _UNBOUNDED
        with self.dialect.reading() as session:
            rows = session.all(
                "SELECT record FROM events WHERE case_id = ? AND seq <= ? ORDER BY seq",
                (case_id, limit),
            )
        return [parse_line_text(str(row["record"])) for row in rows]

    def export_lines(self, case_id: str) -> list[bytes]:
        """The case's audit-log lines in seq order, exactly as stored, with newlines."""
        with self.dialect.reading() as session:
            rows = session.all(
                "SELECT record FROM events WHERE case_id = ? ORDER BY seq", (case_id,)
            )
        return [str(row["record"]).encode("utf-8") + b"\n" for row in rows]

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
        with self.dialect.writing() as session:
            for case, texts in checked:
                snapshot = case.snapshot
                if session.run(_INSERT_CASE, case_row(snapshot)) != 1:
                    raise already_stored(snapshot.id)
                session.many(
                    _INSERT_EVENT, [(snapshot.id, seq, text) for seq, text in enumerate(texts, 1)]
                )
                session.many(
                    "INSERT INTO idempotency_keys (case_id, key, fingerprint, seq) "
                    "VALUES (?, ?, ?, ?)",
                    [(snapshot.id, k, e.fingerprint, e.seq) for k, e in case.keys.items()],
                )

    def idempotency(self, case_id: str, key: str) -> IdempotencyEntry | None:
        """What ``key`` was first used for on this case, if anything."""
        with self.dialect.reading() as session:
            row = session.one(
                "SELECT fingerprint, seq FROM idempotency_keys WHERE case_id = ? AND key = ?",
                (case_id, key),
            )
        if row is None:
            return None
        return IdempotencyEntry(fingerprint=str(row["fingerprint"]), seq=int(row["seq"]))

    # -- timers ---------------------------------------------------------------------------------

    def due_timers(self, now: datetime) -> list[CaseSnapshot]:
        """Open cases whose deadline is at or before ``now``, earliest first."""
        with self.dialect.reading() as session:
            rows = session.all(
                f"{_SELECT_CASE} WHERE deadline_us IS NOT NULL AND deadline_us <= ? "
                "ORDER BY deadline_us, id",
                (micros(now),),
            )
        return [snapshot_of(row) for row in rows]

    def claim_due_timers(
        self, now: datetime, *, limit: int | None = None, lease_seconds: float = 60.0
    ) -> list[CaseSnapshot]:
        """Lease due timers to the caller (see ``Store.claim_due_timers``)."""
        wall = time.time()
        with self.dialect.writing() as session:
            rows = session.all(
                "UPDATE cases SET lease_until = ? WHERE id IN (SELECT id FROM cases "
                "WHERE deadline_us IS NOT NULL AND deadline_us <= ? "
                "AND (lease_until IS NULL OR lease_until < ?) "
                f"ORDER BY deadline_us, id LIMIT ?{self.dialect.claim_lock}) "
                f"RETURNING {_COLUMNS}",
                (wall + lease_seconds, micros(now), wall,
                 self.dialect.no_limit if limit is None else limit),
            )  # fmt: skip
        return sorted((snapshot_of(row) for row in rows), key=due_order)

    # -- listing --------------------------------------------------------------------------------

    def case_ids(self) -> list[str]:
        """Every case id, sorted."""
        with self.dialect.reading() as session:
            return [str(row["id"]) for row in session.all("SELECT id FROM cases ORDER BY id")]

    def list_cases(
        self, where: CaseFilter | None = None, *, after: str | None = None, limit: int = 50
    ) -> CasePage:
        """Cases matching ``where``, most recently updated first (keyset paging).

        Raises:
            StoreError: when ``after`` is not a cursor from this store.
        """
        clause, params = case_filter(where, after, "?")
        size = max(1, limit)
        with self.dialect.reading() as session:
            rows = session.all(
                f"{_SELECT_CASE}{clause} ORDER BY updated_us DESC, id DESC LIMIT ?",
                (*params, size + 1),
            )
        page = rows[:size]
        cursor = _cursor_after(page[-1]) if len(rows) > size else None
        return CasePage(cases=tuple(snapshot_of(row) for row in page), next=cursor)

    # -- closing --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection; later calls raise ``StoreError``."""
        self.dialect.close()


def _cursor_after(row: Row) -> str:
    return encode_cursor(int(row["updated_us"]), str(row["id"]))
