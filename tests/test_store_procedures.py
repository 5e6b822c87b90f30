"""Specification: every store lists the procedure versions it keeps (memory, SQLite, PostgreSQL).

``Store.procedures()`` is what ``GET /procedures`` and an embedding system read:
each version once, content-addressed by sha256, sorted by id, version and sha256.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_support import pg_schema_url, procedure

from engine.errors import VersionTaken
from engine.storage import ProcedureRef, Store, open_store


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store of each backend (PostgreSQL fails, not skips, when CI=true)."""
    if request.param == "memory":
        urls: Iterator[str] = iter(["memory://"])
    elif request.param == "sqlite":
        urls = iter([f"sqlite:///{tmp_path / 'cases.db'}"])
    else:
        urls = pg_schema_url()
    url = next(urls)
    opened = open_store(url)
    yield opened
    opened.close()
    for _ in urls:  # let the PostgreSQL fixture body drop its schema
        pass


def test_a_new_store_lists_no_procedures(store: Store) -> None:
    """A store that was never given a procedure lists none."""
    assert store.procedures() == []


def test_each_version_is_listed_once_sorted_by_id_version_sha(store: Store) -> None:
    """Saving the same source twice lists it once; versions sort by id, version, sha256."""
    compiled = procedure().procedure
    for _ in range(2):
        store.save_procedure(
            id=compiled.id, version=compiled.version, sha256=compiled.sha256, source=compiled.source
        )
    store.save_procedure(id="a-first", version="2", sha256="f" * 64, source="x")
    store.save_procedure(id="a-first", version="10", sha256="e" * 64, source="y")
    expected = [
        ProcedureRef(id="a-first", version="10", sha256="e" * 64),
        ProcedureRef(id="a-first", version="2", sha256="f" * 64),
        ProcedureRef(id=compiled.id, version=compiled.version, sha256=compiled.sha256),
    ]
    assert expected == store.procedures()


def test_another_text_under_an_existing_id_and_version_is_refused_naming_both_hashes(
    store: Store,
) -> None:
    """Rule: a version names one text. Saving a different sha256 under a stored id and
    version raises VersionTaken naming both sha256 and stores nothing; the same text
    again, or the same id under another version, is accepted."""
    store.save_procedure(id="p", version="1", sha256="a" * 64, source="x")
    with pytest.raises(VersionTaken) as caught:
        store.save_procedure(id="p", version="1", sha256="b" * 64, source="y")
    assert "a" * 64 in str(caught.value)
    assert "b" * 64 in str(caught.value)
    assert store.procedure_source("b" * 64) is None
    store.save_procedure(id="p", version="1", sha256="a" * 64, source="x")
    store.save_procedure(id="p", version="2", sha256="b" * 64, source="y")
    assert [ref.sha256 for ref in store.procedures()] == ["a" * 64, "b" * 64]


def test_each_store_counts_the_cases_pinning_each_version(store: Store) -> None:
    """Rule: cases_per_procedure counts cases by the sha256 they pin; a version no case
    pins is absent (counted 0 by the listing)."""
    from store_support import open_case

    from engine.runtime.engine import Engine

    engine = Engine(store=store)
    assert store.cases_per_procedure() == {}
    open_case(engine, "c-1")
    open_case(engine, "c-2")
    store.save_procedure(id="other", version="1", sha256="c" * 64, source="z")
    assert store.cases_per_procedure() == {procedure().procedure.sha256: 2}


def test_a_registration_records_who_and_when_and_keeps_the_first(store: Store) -> None:
    """Rule (issue 13): each version lists when and by whom it was registered; registering
    the same text again, by another actor later, changes neither."""
    from datetime import UTC, datetime

    from engine.runtime.clock import FixedClock
    from engine.runtime.engine import Engine

    first = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
    Engine(store=store, clock=FixedClock(first)).register(procedure(), by="ops")
    later = Engine(store=store, clock=FixedClock(datetime(2025, 1, 1, tzinfo=UTC)))
    later.register(procedure(), by="someone-else")
    store.save_procedure(
        id=procedure().procedure.id, version=procedure().procedure.version,
        sha256=procedure().procedure.sha256, source=procedure().procedure.source,
        registered_at="2030-01-01T00:00:00Z", registered_by="third",
    )  # fmt: skip

    [ref] = store.procedures()

    assert (ref.registered_at, ref.registered_by) == ("2024-03-01T01:00:00Z", "ops")


def test_opening_a_case_registers_a_new_version_as_its_opener_at_the_clocks_time(
    store: Store,
) -> None:
    """Rule: a version first stored by opening a case is registered by the opener, at the
    engine clock's time (not the event's recorded ``at``, which may be backdated)."""
    from datetime import UTC, datetime

    from store_support import SECRETARY, open_case

    from engine.runtime.clock import FixedClock
    from engine.runtime.engine import Engine

    now = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    open_case(Engine(store=store, clock=FixedClock(now)), "c-1")

    [ref] = store.procedures()

    assert (ref.registered_at, ref.registered_by) == ("2026-12-01T08:30:00Z", SECRETARY.id)


def test_a_registration_without_an_actor_is_listed_as_unknown(store: Store) -> None:
    """Rule: a text registered without naming who keeps None (shown as unknown), and its
    time is still recorded."""
    from datetime import UTC, datetime

    from engine.runtime.clock import FixedClock
    from engine.runtime.engine import Engine

    Engine(store=store, clock=FixedClock(datetime(2024, 1, 2, tzinfo=UTC))).register(procedure())

    [ref] = store.procedures()

    assert (ref.registered_at, ref.registered_by) == ("2024-01-02T00:00:00Z", None)


def _to_schema_2(url: str) -> None:
    """Take a store back to schema 2 (before registrations were recorded), in place."""
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("ALTER TABLE procedures DROP COLUMN registered_at")
            conn.execute("ALTER TABLE procedures DROP COLUMN registered_by")
            conn.execute("UPDATE yishi_schema SET version = 2")
        conn.close()
        return
    import psycopg
    from psycopg import sql

    base, schema = url.split("?schema=", 1)
    with psycopg.connect(base, autocommit=True) as conn:
        name = sql.Identifier(schema)
        for column in ("registered_at", "registered_by"):
            conn.execute(
                sql.SQL("ALTER TABLE {}.procedures DROP COLUMN {}").format(
                    name, sql.Identifier(column)
                )
            )
        conn.execute(sql.SQL("UPDATE {}.yishi_schema SET version = 2").format(name))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_versions_stored_before_schema_3_are_listed_honestly_as_unknown(
    backend: str, tmp_path: Path
) -> None:
    """Schema 2 → 3: a version stored before keeps its text and cases, its registration
    reads None (unknown); registering it again does not invent one; a new version records
    both."""
    from store_support import open_case

    from engine.runtime.engine import Engine

    urls = iter([f"sqlite:///{tmp_path / 'old.db'}"]) if backend == "sqlite" else pg_schema_url()
    url = next(urls)
    try:
        old = open_store(url)
        open_case(Engine(store=old), "c-1")
        old.close()
        _to_schema_2(url)

        store = open_store(url)
        Engine(store=store).register(procedure(), by="late-comer")
        store.save_procedure(id="new", version="1", sha256="d" * 64, source="z",
                             registered_at="2026-12-01T00:00:00Z", registered_by="ops")  # fmt: skip
        listed = {ref.id: ref for ref in store.procedures()}
        counts = store.cases_per_procedure()
        source = store.procedure_source(procedure().procedure.sha256)
        store.close()

        before = listed[procedure().procedure.id]
        assert (before.registered_at, before.registered_by) == (None, None)
        assert (listed["new"].registered_at, listed["new"].registered_by) == (
            "2026-12-01T00:00:00Z", "ops",
        )  # fmt: skip
        assert counts == {procedure().procedure.sha256: 1}
        assert source == procedure().procedure.source
    finally:
        for _ in urls:  # drops the PostgreSQL schema
            pass


def test_the_cli_says_unknown_for_a_registration_nobody_recorded(tmp_path: Path) -> None:
    """Rule: ``yishi procedures list`` shows a version stored without who/when as
    "unknown" in text and null in JSON, never a made-up value."""
    import json

    from cli_support import invoke

    db = f"sqlite:///{tmp_path / 'cases.db'}"
    opened = open_store(db)
    opened.save_procedure(id="old", version="1", sha256="a" * 64, source="x")
    opened.close()

    text = invoke("procedures", "list", "--db", db)
    as_json = invoke("procedures", "list", "--json", "--db", db)

    assert (text.code, as_json.code) == (0, 0)
    assert text.stdout.strip() == (
        f"old  1  sha256 {'a' * 64}  cases 0  registered unknown time by unknown"
    )
    assert json.loads(as_json.stdout) == [
        {"id": "old", "version": "1", "sha256": "a" * 64, "registered_at": None,
         "registered_by": None, "cases": 0}
    ]  # fmt: skip
