"""Specification: a case's unit and actors' own idempotency keys, alike in every store backend.

A case belongs to one organisational unit, given when it is opened, kept in the
snapshot and in the ``case.opened`` record, and carried by export and import.
``list_cases`` keeps a scope's cases (a unit and the units under it, by whole
path parts). Idempotency keys are scoped per actor. A database made before units
existed is migrated in place: its cases belong to no unit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from store_support import (
    DATA,
    DIRECTOR,
    RECONVENE,
    SECRETARY,
    T0,
    pg_schema_url,
    procedure,
    verify_store,
)

from engine.errors import Forbidden
from engine.runtime.attempt import scoped_key
from engine.runtime.engine import Engine
from engine.runtime.transfer import export_case, import_log
from engine.runtime.types import Actor
from engine.storage import CaseFilter, Store, open_store
from engine.storage.migrations import LATEST

TOWN = "柳河县/城关镇"
VILLAGE = "柳河县/城关镇/柳树村"
OTHER_TOWN = "柳河县/城关"
"""A prefix of TOWN's text but not of its parts: it must cover nothing of TOWN."""


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL of each backend, fresh for each test."""
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cases.db'}"
    else:
        yield from pg_schema_url()


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    """An open store of each backend, closed afterwards."""
    opened = open_store(url)
    yield opened
    opened.close()


@pytest.fixture
def engine(store: Store) -> Engine:
    """An engine on the store."""
    return Engine(store=store)


def _open(engine: Engine, case_id: str, unit: str) -> None:
    engine.open_case(procedure(), case_id, DATA, actor=SECRETARY, at=T0, unit=unit)


def _ids(store: Store, units: tuple[str, ...] | None) -> list[str]:
    page = store.list_cases(CaseFilter(units=units), limit=50)
    return sorted(c.id for c in page.cases)


def test_the_unit_is_stored_with_the_case_and_in_its_first_record(
    engine: Engine, store: Store
) -> None:
    """A case keeps the unit it was opened in: snapshot, case view and case.opened record."""
    _open(engine, "c-1", VILLAGE)
    _open(engine, "c-2", "")

    snapshot = store.get_case("c-1")
    assert snapshot is not None and snapshot.unit == VILLAGE
    assert engine.case("c-1").unit == VILLAGE
    assert store.records("c-1")[0]["unit"] == VILLAGE
    assert "unit" not in store.records("c-2")[0]
    assert engine.case("c-2").unit == ""


def test_the_unit_survives_a_commit(engine: Engine, store: Store) -> None:
    """Firing an event rewrites the snapshot; the unit stays."""
    _open(engine, "c-1", VILLAGE)
    engine.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)

    snapshot = store.get_case("c-1")
    assert snapshot is not None and (snapshot.seq, snapshot.unit) == (2, VILLAGE)


def test_listing_keeps_a_scope_and_the_units_under_it(engine: Engine, store: Store) -> None:
    """units: a unit covers itself and every unit under it, by whole parts; () keeps nothing."""
    _open(engine, "county", "柳河县")
    _open(engine, "town", TOWN)
    _open(engine, "village", VILLAGE)
    _open(engine, "other", "柳河县/城关乡/王庄村")
    _open(engine, "none", "")

    assert _ids(store, None) == ["county", "none", "other", "town", "village"]
    assert _ids(store, (TOWN,)) == ["town", "village"]
    assert _ids(store, (VILLAGE,)) == ["village"]
    assert _ids(store, (OTHER_TOWN,)) == []
    assert _ids(store, ("柳河县",)) == ["county", "other", "town", "village"]
    assert _ids(store, (VILLAGE, "柳河县/城关乡")) == ["other", "village"]
    assert _ids(store, ()) == []


def test_unit_names_with_sql_wildcards_match_only_themselves(engine: Engine, store: Store) -> None:
    """A unit holding % or _ is compared as text, never as a LIKE pattern."""
    _open(engine, "pct", "县/100%村")
    _open(engine, "plain", "县/100X村")
    _open(engine, "under", "县/a_b")
    _open(engine, "other", "县/axb")

    assert _ids(store, ("县/100%村",)) == ["pct"]
    assert _ids(store, ("县/a_b",)) == ["under"]


def test_the_unit_filter_pages_like_any_other(engine: Engine, store: Store) -> None:
    """Keyset paging within a scope returns every case of it once."""
    for number in range(5):
        _open(engine, f"v-{number}", VILLAGE)
        _open(engine, f"o-{number}", "柳河县/城关乡")
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = store.list_cases(CaseFilter(units=(TOWN,)), after=after, limit=2)
        seen += [c.id for c in page.cases]
        after = page.next
        if after is None:
            break
    assert sorted(seen) == [f"v-{n}" for n in range(5)]


def test_export_and_import_carry_the_unit(engine: Engine, store: Store) -> None:
    """Import rebuilds the snapshot from the records, the unit included."""
    _open(engine, "c-1", VILLAGE)
    lines = export_case(engine, "c-1")
    other = Engine()
    other.register(procedure())

    import_log(other, lines)

    snapshot = other.store.get_case("c-1")
    assert snapshot is not None and snapshot.unit == VILLAGE


def test_idempotency_keys_are_each_actors_own(engine: Engine, store: Store) -> None:
    """Two actors' equal keys are two requests; a retry by either gets its own first outcome."""
    _open(engine, "c-1", VILLAGE)
    mine = engine.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, idempotency_key="k")
    theirs = engine.fire("c-1", "propose", actor=DIRECTOR, payload=RECONVENE, idempotency_key="k")
    again = engine.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, idempotency_key="k")

    assert (mine.seq, mine.applied) == (2, True)
    assert (theirs.seq, theirs.replayed, theirs.reason and theirs.reason.code) == (
        3, False, "not-authorised"
    )  # fmt: skip
    assert (again.seq, again.replayed) == (2, True)
    entry = store.idempotency("c-1", scoped_key(SECRETARY, "k"))
    other = store.idempotency("c-1", scoped_key(DIRECTOR, "k"))
    assert entry is not None and other is not None and (entry.seq, other.seq) == (2, 3)
    assert store.idempotency("c-1", "k") is None
    assert verify_store(store) == {"c-1": 3}


def test_imported_keys_stay_each_actors_own(engine: Engine, store: Store) -> None:
    """Import restores keys under their actor: a retry after import still replays."""
    _open(engine, "c-1", VILLAGE)
    first = engine.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, idempotency_key="k")
    other = Engine()
    other.register(procedure())
    import_log(other, export_case(engine, "c-1"))

    again = other.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, idempotency_key="k")
    fresh = other.fire("c-1", "propose", actor=DIRECTOR, payload=RECONVENE, idempotency_key="k")

    assert (again.seq, again.replayed) == (first.seq, True)
    assert (fresh.seq, fresh.replayed) == (first.seq + 1, False)


def test_a_refused_door_stores_nothing(engine: Engine, store: Store) -> None:
    """No opening role: no case; no role in the procedure: no record, no key, same seq."""
    stranger = Actor(id="路人", roles=("village_head_of_another_procedure",))
    with pytest.raises(Forbidden):
        engine.open_case(procedure(), "c-x", DATA, actor=stranger, at=T0)
    _open(engine, "c-1", VILLAGE)
    with pytest.raises(Forbidden):
        engine.fire("c-1", "propose", actor=stranger, payload={"x": "y" * 1000},
                    idempotency_key="k")  # fmt: skip

    assert store.get_case("c-x") is None
    assert verify_store(store) == {"c-1": 1}
    assert store.idempotency("c-1", scoped_key(stranger, "k")) is None


# -- migrating a database made before units ---------------------------------------------------


def _sqlite_to_v1(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE cases DROP COLUMN unit")
        conn.execute("ALTER TABLE procedures DROP COLUMN registered_at")  # schema 3's
        conn.execute("ALTER TABLE procedures DROP COLUMN registered_by")
        conn.execute("UPDATE yishi_schema SET version = 1")
    conn.close()


def _pg_to_v1(url: str) -> None:
    import psycopg
    from psycopg import sql

    base, schema = url.split("?schema=", 1)
    with psycopg.connect(base, autocommit=True) as conn:
        name = sql.Identifier(schema)
        conn.execute(sql.SQL("ALTER TABLE {}.cases DROP COLUMN unit").format(name))
        for column in ("registered_at", "registered_by"):  # schema 3's
            conn.execute(
                sql.SQL("ALTER TABLE {}.procedures DROP COLUMN {}").format(
                    name, sql.Identifier(column)
                )
            )
        conn.execute(sql.SQL("UPDATE {}.yishi_schema SET version = 1").format(name))


def _version(url: str, path: Path | None) -> Any:
    if path is not None:
        with sqlite3.connect(path) as conn:
            found = conn.execute("SELECT version FROM yishi_schema").fetchone()[0]
        conn.close()
        return found
    import psycopg
    from psycopg import sql

    base, schema = url.split("?schema=", 1)
    with psycopg.connect(base, autocommit=True) as conn:
        row = conn.execute(
            sql.SQL("SELECT version FROM {}.yishi_schema").format(sql.Identifier(schema))
        ).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_from_before_units_is_migrated_in_place(backend: str, tmp_path: Path) -> None:
    """Schema 1 → latest: old cases keep their chains and belong to no unit; new ones get one."""
    urls = iter([f"sqlite:///{tmp_path / 'old.db'}"]) if backend == "sqlite" else pg_schema_url()
    url = next(urls)
    path = tmp_path / "old.db" if backend == "sqlite" else None
    try:
        first = open_store(url)
        _open(Engine(store=first), "old", "")
        first.close()
        if path is not None:
            _sqlite_to_v1(path)
        else:
            _pg_to_v1(url)
        assert _version(url, path) == 1

        store = open_store(url)
        engine = Engine(store=store)
        _open(engine, "new", VILLAGE)
        old = store.get_case("old")

        assert _version(url, path) == LATEST
        assert old is not None and old.unit == ""
        assert _ids(store, None) == ["new", "old"]
        assert _ids(store, (VILLAGE,)) == ["new"]
        assert verify_store(store) == {"new": 1, "old": 1}
        store.close()
    finally:
        for _ in urls:  # drops the PostgreSQL schema
            pass


def test_a_key_stored_before_keys_were_scoped_still_replays(engine: Engine, store: Store) -> None:
    """Upgrade: a key stored unscoped by an older yishi replays for the request it was used for,
    and is nobody else's: another actor's request with that key is a new request."""
    from engine.runtime.attempt import attempt, fingerprint

    _open(engine, "c-1", VILLAGE)
    snapshot = store.get_case("c-1")
    assert snapshot is not None
    record, new = attempt(
        engine._runner(snapshot.procedure_sha256), snapshot, "propose", actor=SECRETARY,
        payload=RECONVENE, at=T0, idempotency_key="old",
    )  # fmt: skip
    store.commit(new, record, expected_seq=1, idempotency_key="old",
                 fingerprint=fingerprint("propose", SECRETARY, RECONVENE))  # fmt: skip

    again = engine.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE,
                        idempotency_key="old")  # fmt: skip
    other = engine.fire("c-1", "propose", actor=DIRECTOR, payload=RECONVENE,
                        idempotency_key="old")  # fmt: skip

    assert (again.seq, again.replayed) == (2, True)
    assert (other.seq, other.replayed) == (3, False)
