"""Specification: what a SQLite commit writes — no idle index, each line as the text it is.

Every commit rewrites the index entries holding ``updated_us``, so the schema keeps
only indexes some query uses (schema 4 dropped ``cases_unit``, which none did); the
statements are the store's own, caught as it runs them, and asked for their plan.
A record's line is bound as its UTF-8 bytes and stored as text (``CAST``), so it is
neither decoded nor encoded again per commit; a file whose text is not UTF-8 gets
``str`` as before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from store_support import DATA, RECONVENE, SECRETARY, T0, procedure, verify_store

from engine.audit.jsonl import line_of
from engine.runtime.engine import Engine
from engine.storage import CaseFilter
from engine.storage.migrations import LATEST
from engine.storage.sqlite import SqliteStore

SINCE = datetime(2024, 1, 1, tzinfo=UTC)

FILTERS: dict[str, CaseFilter | None] = {
    "none": None,
    "procedure": CaseFilter(procedure="p"),
    "procedure and state": CaseFilter(procedure="p", state="s"),
    "state": CaseFilter(state="s"),
    "units": CaseFilter(units=("县/镇", "县/乡")),
    "since": CaseFilter(updated_since=SINCE),
}


def _caught(store: SqliteStore, run: Callable[[], object]) -> list[str]:
    """The statements this thread's reader runs for ``run()``."""
    seen: list[str] = []
    reader = store.sqlite._reader()
    reader.set_trace_callback(seen.append)
    try:
        run()
    finally:
        reader.set_trace_callback(None)
    return seen


def _plan(path: Path, statement: str) -> list[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(f"EXPLAIN QUERY PLAN {statement}").fetchall()
    conn.close()
    return [str(row[3]) for row in rows]


def test_every_listing_and_timer_query_reads_through_an_index(tmp_path: Path) -> None:
    """Rule: no listing (any filter, first page or after a cursor) nor the due-timer query
    scans the cases table; those ordered by the update order alone take it from an index."""
    path = tmp_path / "cases.db"
    with SqliteStore(path) as store:
        engine = Engine(store=store)
        engine.open_case(procedure(), "c-1", DATA, actor=SECRETARY, at=T0)
        engine.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)
        cursor = '[1,"c-1"]'
        for name, where in FILTERS.items():
            for after in (None, cursor):
                [statement] = _caught(store, partial(store.list_cases, where, after=after))
                plan = _plan(path, statement)
                assert all("USING" in step for step in plan if "cases" in step), (name, plan)
                if name != "procedure":  # its other states interleave: sorted, as ever
                    assert not any("TEMP B-TREE" in step for step in plan), (name, plan)
        [due] = _caught(store, lambda: store.due_timers(SINCE))
        assert any("cases_due" in step for step in _plan(path, due))


def test_a_commit_leaves_no_index_it_does_not_need(tmp_path: Path) -> None:
    """Rule: the cases table carries the due, update-order and procedure/state indexes only."""
    path = tmp_path / "cases.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as conn:
        names = {
            str(row[0])
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'cases' "
                "AND name NOT LIKE 'sqlite_autoindex%'"
            )
        }
    conn.close()
    assert names == {"cases_due", "cases_updated", "cases_procedure_state"}


def _wal_frames(path: Path) -> int:
    """Pages written to the WAL since it was last reset (its header is 32 bytes, each
    frame a 24-byte header and one page)."""
    wal = path.with_name(path.name + "-wal")
    with sqlite3.connect(path) as conn:
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
    conn.close()
    size = wal.stat().st_size if wal.exists() else 0
    return max(0, size - 32) // (page + 24)


def test_a_single_event_commit_writes_about_six_wal_pages(tmp_path: Path) -> None:
    """docs/storage.md: a single-event commit writes 6 pages to the WAL (the case's row and
    its two indexes holding the update order, the record and its (case, seq) index, and
    every other commit a new page above them and the file header); schema 3, with its
    idle unit index, wrote 7. Counted over 60 commits, as pages split now and then."""
    path = tmp_path / "cases.db"
    commits = 60
    with Engine(store=SqliteStore(path)) as engine:
        for case_id in ("c-1", "c-2", "c-3"):
            engine.open_case(procedure(), case_id, DATA, actor=SECRETARY, at=T0)
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        conn.close()
        assert _wal_frames(path) == 0
        for step in range(commits):
            case_id = f"c-{step % 3 + 1}"
            engine.fire(case_id, "propose", actor=SECRETARY, payload=RECONVENE, at=T0)
        frames = _wal_frames(path)
        assert verify_store(engine.store) == {"c-1": 21, "c-2": 21, "c-3": 21}
    assert 5 * commits <= frames <= round(6.5 * commits), frames / commits


def test_a_schema_3_database_loses_the_idle_unit_index_and_keeps_its_cases(
    tmp_path: Path,
) -> None:
    """Schema 3 → 4: cases_unit is dropped; cases, chains and unit listings are kept."""
    path = tmp_path / "old.db"
    with SqliteStore(path) as store:
        engine = Engine(store=store)
        engine.open_case(procedure(), "c-1", DATA, actor=SECRETARY, at=T0, unit="县/镇/村")
        engine.open_case(procedure(), "c-2", DATA, actor=SECRETARY, at=T0)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE INDEX cases_unit ON cases (unit, updated_us, id)")
        conn.execute("UPDATE yishi_schema SET version = 3")
    conn.close()

    with SqliteStore(path) as store:
        scoped = store.list_cases(CaseFilter(units=("县/镇",)))
        heads = verify_store(store)
    with sqlite3.connect(path) as conn:
        version = conn.execute("SELECT version FROM yishi_schema").fetchone()[0]
        left = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'cases_unit'"
        ).fetchone()[0]
    conn.close()

    assert (version, left) == (LATEST, 0)
    assert [case.id for case in scoped.cases] == ["c-1"]
    assert heads == {"c-1": 1, "c-2": 1}


def _lines_as_stored(path: Path) -> list[tuple[str, bytes]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT typeof(record), CAST(record AS BLOB) FROM events ORDER BY seq"
        ).fetchall()
    conn.close()
    return [(str(kind), bytes(blob)) for kind, blob in rows]


def test_each_line_is_stored_as_the_text_that_was_sealed(tmp_path: Path) -> None:
    """Rule: the events column holds text (not a blob), the very bytes the record was
    sealed with, and export gives them back."""
    path = tmp_path / "cases.db"
    store = SqliteStore(path)
    engine = Engine(store=store)
    engine.open_case(procedure(), "c-1", DATA, actor=SECRETARY, at=T0)
    engine.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)
    sealed = [line_of(record)[:-1] for record in store.records("c-1")]
    exported = store.export_lines("c-1")
    store.close()

    assert store.sqlite.line_bytes
    assert _lines_as_stored(path) == [("text", line) for line in sealed]
    assert exported == [line + b"\n" for line in sealed]


def test_a_file_whose_text_is_utf16_gets_its_lines_as_text_too(tmp_path: Path) -> None:
    """Rule: in a database made with UTF-16 text, bytes cast to text would be misread;
    the store binds lines as str there, and they read back and verify."""
    path = tmp_path / "utf16.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA encoding = 'UTF-16le'")
        conn.execute("CREATE TABLE made (one INTEGER)")
    conn.close()
    with SqliteStore(path) as store:
        engine = Engine(store=store)
        engine.open_case(procedure(), "c-1", DATA, actor=SECRETARY, at=T0)
        engine.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)
        assert not store.sqlite.line_bytes
        assert verify_store(store) == {"c-1": 2}
        assert store.records("c-1")[0]["data"]["matter"] == DATA["matter"]
