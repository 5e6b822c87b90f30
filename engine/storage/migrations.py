"""The database schema, its version, and the forward migrations between versions.

One table, ``yishi_schema``, holds the version of the schema a database is at.
Opening a database applies every migration after that version, in order, in one
transaction; a database at a *newer* version than this yishi knows is refused
untouched (an older yishi must never write a format it does not understand).

The DDL is written once for SQLite and PostgreSQL (``BIGINT``, ``BOOLEAN``,
``DOUBLE PRECISION`` and partial indexes mean the same in both). Only the type of
ids differs: PostgreSQL compares them with the "C" collation, so that both
backends (and Python) order ids by code point, which keyset paging relies on.
"""

from __future__ import annotations

from engine.errors import StoreError
from engine.storage.dialect import Session

SCHEMA_TABLE = "yishi_schema"

CREATE_SCHEMA_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} ("
    "one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL)"
)

_V1 = (
    # Procedures are content-addressed: replay finds the exact source a case ran under.
    "CREATE TABLE procedures (sha256 ID_TEXT PRIMARY KEY, id TEXT NOT NULL, "
    "version TEXT NOT NULL, source TEXT NOT NULL)",
    # The current snapshot. deadline_us/updated_us are UTC microseconds for ordering;
    # the *_at texts keep their own offsets because records repeat them verbatim.
    # lease_until (wall-clock epoch seconds) keeps other workers off a claimed timer.
    "CREATE TABLE cases (id ID_TEXT PRIMARY KEY, procedure_id TEXT NOT NULL, "
    "procedure_version TEXT NOT NULL, procedure_sha256 TEXT NOT NULL, state TEXT NOT NULL, "
    "data TEXT NOT NULL, seq BIGINT NOT NULL, head TEXT NOT NULL, final BOOLEAN NOT NULL, "
    "state_entered_at TEXT NOT NULL, deadline_at TEXT, deadline_us BIGINT, "
    "deadline_event TEXT, updated_at TEXT NOT NULL, updated_us BIGINT NOT NULL, "
    "lease_until DOUBLE PRECISION)",
    "CREATE INDEX cases_due ON cases (deadline_us) WHERE deadline_us IS NOT NULL",
    "CREATE INDEX cases_updated ON cases (updated_us, id)",
    "CREATE INDEX cases_procedure_state ON cases (procedure_id, state, updated_us, id)",
    # Each record is its exact audit-log line (text), so export is byte-identical.
    "CREATE TABLE events (case_id ID_TEXT NOT NULL, seq BIGINT NOT NULL, record TEXT NOT NULL, "
    "PRIMARY KEY (case_id, seq))",
    "CREATE TABLE idempotency_keys (case_id ID_TEXT NOT NULL, key ID_TEXT NOT NULL, "
    "fingerprint TEXT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (case_id, key))",
)

_V2 = (
    # The organisational unit a case belongs to ('' for none): reads stay within a scope.
    "ALTER TABLE cases ADD COLUMN unit TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX cases_unit ON cases (unit, updated_us, id)",
)

_V3 = (
    # Who registered each version and when (RFC 3339 text, the registering clock's time).
    # Versions stored before this migration keep NULL in both: nobody recorded them.
    "ALTER TABLE procedures ADD COLUMN registered_at TEXT",
    "ALTER TABLE procedures ADD COLUMN registered_by TEXT",
)

_V4 = (
    # cases_unit served no query: a unit scope matches a path or its prefix (``substr``),
    # which neither database looks up in an index, so both walk cases_updated. Yet every
    # commit rewrote its entry (it holds updated_us): one more page per commit to write and
    # fsync. IF EXISTS: a database taken back to an older version by hand may lack it.
    "DROP INDEX IF EXISTS cases_unit",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4)
"""``MIGRATIONS[n - 1]`` takes a database from version n - 1 to version n."""

LATEST = len(MIGRATIONS)
"""The schema version this yishi writes."""


ID_TYPES = {"sqlite": "TEXT", "postgresql": 'TEXT COLLATE "C"'}
"""The type of id columns per dialect."""


def pending(found: int, where: str, dialect: str = "sqlite") -> list[tuple[int, tuple[str, ...]]]:
    """The migrations to apply to a database at version ``found``.

    Args:
        found: the database's schema version (0 for a new database).
        where: how to name the database in a message (its path or URL).
        dialect: ``sqlite`` or ``postgresql``.

    Returns:
        ``(version, statements)`` pairs in order; empty when up to date.

    Raises:
        StoreError: when the database is at a newer version than this yishi knows.
    """
    if found > LATEST:
        raise StoreError(
            f"{where}: the database is at schema version {found}, but this yishi knows "
            f"schema versions up to {LATEST}; upgrade yishi to open it (nothing was changed)"
        )
    if found < 0:
        raise StoreError(f"{where}: invalid schema version {found} in {SCHEMA_TABLE}")
    id_type = ID_TYPES[dialect]
    return [
        (version, tuple(s.replace("ID_TEXT", id_type) for s in MIGRATIONS[version - 1]))
        for version in range(found + 1, LATEST + 1)
    ]


def migrate(session: Session, where: str, dialect: str = "sqlite") -> None:
    """Bring a database to ``LATEST`` in the caller's write transaction (which serialises it).

    Args:
        session: a session in a write transaction that no other migrator can share.
        where: how to name the database in a message.
        dialect: ``sqlite`` or ``postgresql``.

    Raises:
        StoreError: when the database is at a newer version than this yishi knows.
    """
    session.run(CREATE_SCHEMA_TABLE)
    row = session.one(f"SELECT version FROM {SCHEMA_TABLE}")
    found = 0 if row is None else int(row["version"])
    for version, statements in pending(found, where, dialect):
        for statement in statements:
            session.run(statement)
        session.run(
            f"INSERT INTO {SCHEMA_TABLE} (one, version) VALUES (1, ?) "
            "ON CONFLICT (one) DO UPDATE SET version = excluded.version",
            (version,),
        )
