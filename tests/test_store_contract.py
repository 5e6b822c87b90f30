"""Specification: every store backend keeps the same contract (memory, SQLite, PostgreSQL).

One suite, parametrised over the backends: a commit appends the record and
replaces the snapshot atomically or not at all; a stale seq is a conflict; keys,
listing, export/import and timers behave alike everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from store_support import (
    CST,
    DATA,
    RECONVENE,
    SECRETARY,
    T0,
    open_case,
    pg_schema_url,
    procedure,
    to_disclosure,
    verify_store,
)

from engine.audit.jsonl import encode_line
from engine.errors import AuditError, CaseExists, Conflict, StoreError
from engine.runtime.attempt import attempt, scoped_key
from engine.runtime.clock import format_time, normalise
from engine.runtime.engine import Engine, IdempotencyMismatch
from engine.runtime.transfer import export_case, import_log
from engine.storage import CaseFilter, MemoryStore, Store, open_store


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


def test_an_opened_case_reads_back_as_committed(engine: Engine, store: Store) -> None:
    """The snapshot read back equals the one the engine committed, data and times included."""
    open_case(engine, "c-1")
    due = to_disclosure(engine, "c-2")

    snapshot = store.get_case("c-2")

    assert snapshot is not None
    assert snapshot.state == "resolution_disclosed"
    assert snapshot.data["decisions"][0]["step"] == "propose"
    assert snapshot.deadline_at == due
    # due times are instants kept in UTC (the procedure's zone only decides which midnight)
    assert snapshot.deadline_at is not None and snapshot.deadline_at.utcoffset() == timedelta(0)
    assert snapshot.deadline_event == "resolution_period_ended"
    assert store.get_case("c-1") is not None
    assert store.get_case("missing") is None
    assert store.case_ids() == ["c-1", "c-2"]


def test_the_procedure_source_is_kept_by_sha256(engine: Engine, store: Store) -> None:
    """Replay finds the exact source a case ran under."""
    open_case(engine, "c-1")
    compiled = procedure().procedure

    assert store.procedure_source(compiled.sha256) == compiled.source
    assert store.procedure_source("0" * 64) is None


def test_a_stale_seq_is_a_conflict_and_changes_nothing(engine: Engine, store: Store) -> None:
    """Two writers read seq 1; the second commit is refused and the chain does not fork."""
    open_case(engine, "c-1")
    before = store.get_case("c-1")
    assert before is not None
    runner = engine._runner(before.procedure_sha256)
    first, first_new = attempt(
        runner, before, "propose", actor=SECRETARY, payload=RECONVENE, at=T0 + timedelta(hours=1)
    )
    second, second_new = attempt(
        runner, before, "propose", actor=SECRETARY, payload={"present": 1, "yes": 1},
        at=T0 + timedelta(hours=2),
    )  # fmt: skip
    store.commit(first_new, first, expected_seq=1)

    with pytest.raises(Conflict) as caught:
        store.commit(second_new, second, expected_seq=1)

    assert "seq 2, not 1" in str(caught.value)
    assert [r["hash"] for r in store.records("c-1")][-1] == first["hash"]
    assert verify_store(store) == {"c-1": 2}


def test_opening_an_existing_case_is_refused(engine: Engine, store: Store) -> None:
    """The same case id cannot be opened twice."""
    open_case(engine, "c-1")

    with pytest.raises(CaseExists):
        open_case(engine, "c-1")

    assert len(store.records("c-1")) == 1


def test_records_and_export_are_the_exact_hashed_lines(engine: Engine, store: Store) -> None:
    """Export gives each record's line byte for byte (UTF-8, Chinese kept), in seq order."""
    to_disclosure(engine, "c-1")

    records = store.records("c-1")
    lines = store.export_lines("c-1")

    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert lines == [encode_line(r) for r in records]
    assert "张书记".encode() in lines[0]
    assert store.records("c-1", upto=2) == records[:2]
    assert store.export_lines("missing") == []


def test_an_idempotent_retry_applies_once(engine: Engine, store: Store) -> None:
    """The same key and request returns the first outcome; another request is refused."""
    open_case(engine, "c-1")
    first = engine.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, idempotency_key="k")
    again = engine.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, idempotency_key="k")

    with pytest.raises(IdempotencyMismatch):
        engine.fire("c-1", "propose", actor=SECRETARY, payload={"present": 1, "yes": 1},
                    idempotency_key="k")  # fmt: skip

    assert (again.seq, again.replayed) == (first.seq, True)
    entry = store.idempotency("c-1", scoped_key(SECRETARY, "k"))
    assert entry is not None and entry.seq == 2
    assert len(store.records("c-1")) == 2


def test_listing_pages_newest_first_with_filters(engine: Engine, store: Store) -> None:
    """Keyset pages cover every case once, newest update first; filters narrow them."""
    for index in range(7):
        open_case(engine, f"c-{index}", at=T0 + timedelta(minutes=index))
    engine.fire("c-2", "propose", actor=SECRETARY, payload={"present": 4, "yes": 3},
                at=T0 + timedelta(hours=1))  # fmt: skip

    seen: list[str] = []
    after = None
    while True:
        page = store.list_cases(after=after, limit=3)
        seen.extend(c.id for c in page.cases)
        if page.next is None:
            break
        after = page.next

    assert seen == ["c-2", "c-6", "c-5", "c-4", "c-3", "c-1", "c-0"]
    proposed = store.list_cases(CaseFilter(state="proposed"))
    assert [c.id for c in proposed.cases] == ["c-2"]
    assert store.list_cases(CaseFilter(procedure="other")).cases == ()
    window = CaseFilter(
        updated_since=T0 + timedelta(minutes=1), updated_before=T0 + timedelta(minutes=3)
    )
    assert [c.id for c in store.list_cases(window).cases] == ["c-1"]


def test_a_foreign_cursor_is_refused(store: Store) -> None:
    """A cursor this store did not produce is a clear error."""
    with pytest.raises(StoreError):
        store.list_cases(after="not a cursor")


def test_a_claimed_timer_is_leased_to_its_claimer(engine: Engine, store: Store) -> None:
    """A due deadline is listed, and leased to one claimer: nobody else gets or fires it."""
    due = to_disclosure(engine, "c-1")
    open_case(engine, "c-2")

    assert store.due_timers(due - timedelta(seconds=1)) == []
    assert [c.id for c in store.due_timers(due)] == ["c-1"]
    assert [c.id for c in store.claim_due_timers(due)] == ["c-1"]
    assert store.claim_due_timers(due) == []  # leased to the first claimer
    fired = Engine(store=store).tick(due + timedelta(days=1))
    assert fired == []  # still leased: nobody else fires it
    assert [c.id for c in store.due_timers(due)] == ["c-1"]


def test_tick_fires_a_due_timer_once(engine: Engine, store: Store) -> None:
    """engine.tick fires the timer at its due time; nothing is due afterwards."""
    due = to_disclosure(engine, "c-1")

    fired = engine.tick(due + timedelta(hours=3))
    again = engine.tick(due + timedelta(hours=4))

    assert [(o.case, o.to_state) for o in fired] == [("c-1", "implementing")]
    assert again == []
    last = store.records("c-1")[-1]
    assert (last["kind"], last["at"]) == ("timer.fired", format_time(normalise(due)))
    assert store.due_timers(due + timedelta(days=30)) == []


def test_import_round_trips_and_refuses_a_broken_chain(engine: Engine, store: Store) -> None:
    """An exported case imports with its snapshot and keys; a tampered log stores nothing."""
    source = Engine(store=MemoryStore())
    to_disclosure(source, "c-1")
    source.fire("c-1", "disclose_resolution", actor=SECRETARY, payload={}, idempotency_key="k1")
    lines = export_case(source, "c-1")
    tampered = [*lines[:3], lines[3].replace(b'"present":30', b'"present":31'), *lines[4:]]

    with pytest.raises(AuditError):
        import_log(engine, tampered)
    assert store.get_case("c-1") is None

    imported = import_log(engine, lines, lambda sha: procedure())

    assert [(i.case, i.seq) for i in imported] == [("c-1", 7)]
    assert store.export_lines("c-1") == lines
    assert store.get_case("c-1") == source.store.get_case("c-1")
    assert store.idempotency("c-1", "k1") == source.store.idempotency("c-1", "k1")
    with pytest.raises(CaseExists):
        import_log(engine, lines)


def test_a_snapshot_that_does_not_match_its_records_is_refused(
    engine: Engine, store: Store
) -> None:
    """import_case checks that the records end where the snapshot says."""
    source = Engine(store=MemoryStore())
    open_case(source, "c-1")
    snapshot = source.store.get_case("c-1")
    assert snapshot is not None

    with pytest.raises(AuditError):
        store.import_case(replace(snapshot, seq=2), source.store.export_lines("c-1"))

    assert store.get_case("c-1") is None


def test_a_closed_store_refuses_work(url: str) -> None:
    """After close, a durable store raises StoreError instead of touching the database."""
    if url.startswith("memory"):
        pytest.skip("the memory store has nothing to close")
    opened = open_store(url)
    opened.close()

    with pytest.raises(StoreError):
        opened.get_case("c-1")


def test_data_with_chinese_text_round_trips(engine: Engine, store: Store) -> None:
    """Case data keeps non-ASCII text exactly."""
    engine.open_case(procedure(), "案-1", {**DATA, "matter": "修建村文化广场（一期）"},
                     actor=SECRETARY, at=T0.astimezone(CST))  # fmt: skip

    snapshot = store.get_case("案-1")

    assert snapshot is not None and snapshot.data["matter"] == "修建村文化广场（一期）"


# -- the commit rules, alike in every backend (engine.storage.invariants) ----------------------


def _next(engine: Engine, store: Store, case_id: str, hours: int = 1) -> tuple[Any, Any]:
    """The record and snapshot of the next propose on a case, not yet committed."""
    current = store.get_case(case_id)
    assert current is not None
    return attempt(
        engine._runner(current.procedure_sha256), current, "propose", actor=SECRETARY,
        payload=RECONVENE, at=T0 + timedelta(hours=hours),
    )  # fmt: skip


def test_a_record_that_would_fork_the_chain_is_refused_in_every_backend(
    engine: Engine, store: Store
) -> None:
    """Rule: at the expected seq, a record whose prev is not the stored head would fork the
    chain: refused with a StoreError naming it, nothing written, the chain intact."""
    open_case(engine, "c-1")
    elsewhere = Engine(store=MemoryStore())
    elsewhere.open_case(procedure(), "c-1", {**DATA, "matter": "另一条路"}, actor=SECRETARY,
                        at=T0)  # fmt: skip
    record, snapshot = _next(elsewhere, elsewhere.store, "c-1")  # sealed, on another head

    with pytest.raises(StoreError) as caught:
        store.commit(snapshot, record, expected_seq=1)

    assert "refusing to fork it" in str(caught.value)
    assert f"prev {record['prev'][:12]}…" in str(caught.value)
    assert verify_store(store) == {"c-1": 1}


def test_a_commit_must_hold_the_next_seq_in_every_backend(engine: Engine, store: Store) -> None:
    """Rule: a commit after seq n holds seq n + 1 in both snapshot and record; anything
    else is refused before it reaches the data, the same way in every backend."""
    open_case(engine, "c-1")
    record, snapshot = _next(engine, store, "c-1")

    with pytest.raises(StoreError) as caught:
        store.commit(snapshot, record, expected_seq=2)

    assert str(caught.value) == (
        "case 'c-1': a commit after seq 2 must hold seq 3 (snapshot 2, record 2)"
    )
    assert verify_store(store) == {"c-1": 1}


def test_the_commit_refusals_say_the_same_words_in_every_backend(
    engine: Engine, store: Store
) -> None:
    """Rule: a missing case, a moved case and a taken key are Conflicts, an opened id is
    CaseExists, each with one message whatever the backend."""
    open_case(engine, "c-1")
    record, snapshot = _next(engine, store, "c-1")
    ghost = replace(snapshot, id="ghost")

    with pytest.raises(Conflict) as missing:
        store.commit(ghost, record, expected_seq=1)
    store.commit(snapshot, record, expected_seq=1, idempotency_key="k", fingerprint="f1")
    later, after = _next(engine, store, "c-1", hours=2)
    with pytest.raises(Conflict) as moved:
        store.commit(snapshot, record, expected_seq=1)
    with pytest.raises(Conflict) as key:
        store.commit(after, later, expected_seq=2, idempotency_key="k", fingerprint="f2")
    opened = store.records("c-1")[0]
    first = store.get_case("c-1")
    assert first is not None
    with pytest.raises(CaseExists) as exists:
        store.commit(replace(first, seq=1), opened, expected_seq=0)

    assert str(missing.value) == "case 'ghost' does not exist (expected seq 1)"
    assert str(moved.value) == (
        "case 'c-1' is at seq 2, not 1: another writer moved it; read it again and retry"
    )
    assert str(key.value) == (
        "idempotency key 'k' on case 'c-1' was used by a concurrent request; "
        "retry to get its outcome"
    )
    assert str(exists.value) == "case 'c-1' is already open"
    assert verify_store(store) == {"c-1": 2}
    entry = store.idempotency("c-1", "k")
    assert entry is not None and (entry.fingerprint, entry.seq) == ("f1", 2)


def test_records_come_back_in_seq_order_whatever_the_commit_order_of_cases(
    engine: Engine, store: Store
) -> None:
    """Rule: each case's records read back in seq order, interleaved commits of several
    cases included; case ids list sorted by code point."""
    for case_id in ("b", "a", "案", "B"):
        open_case(engine, case_id)
    for hour in range(1, 4):
        for case_id in ("案", "a", "B", "b"):
            engine.fire(case_id, "propose", actor=SECRETARY, payload=RECONVENE,
                        at=T0 + timedelta(hours=hour))  # fmt: skip

    assert store.case_ids() == ["B", "a", "b", "案"]
    for case_id in store.case_ids():
        assert [r["seq"] for r in store.records(case_id)] == [1, 2, 3, 4]
    assert verify_store(store) == {"B": 4, "a": 4, "b": 4, "案": 4}


def test_cases_updated_at_the_same_instant_page_by_id_descending(
    engine: Engine, store: Store
) -> None:
    """Rule: ties in update time are broken by id, descending, and pages never repeat
    or skip a case."""
    for case_id in ("c-3", "c-1", "c-2", "c-0"):
        open_case(engine, case_id)  # all at T0

    seen: list[str] = []
    after = None
    for _ in range(5):
        page = store.list_cases(after=after, limit=1)
        seen.extend(c.id for c in page.cases)
        after = page.next
        if after is None:
            break

    assert seen == ["c-3", "c-2", "c-1", "c-0"]


def test_due_timers_come_earliest_first_then_by_id(engine: Engine, store: Store) -> None:
    """Rule: due timers are ordered by deadline instant, then case id, in every backend."""
    due_b = to_disclosure(engine, "b")
    due_a = to_disclosure(engine, "a")
    due_c = to_disclosure(engine, "c", at=T0 - timedelta(hours=1))

    assert due_a == due_b and due_c < due_a
    assert [c.id for c in store.due_timers(due_a)] == ["c", "a", "b"]
    assert [c.id for c in store.claim_due_timers(due_a, limit=2)] == ["c", "a"]
