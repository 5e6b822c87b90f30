"""Specification: SQLite group commit — the commits of one batch share a transaction, and a
refused one fails alone while the others land.

The batch is made deterministic by holding the writer while commits queue up behind
the first one: the next leader then takes all of them as one batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from store_support import RECONVENE, SECRETARY, T0, open_case, verify_store

from engine.errors import CaseExists, Conflict, EngineError
from engine.runtime.attempt import attempt
from engine.runtime.engine import Engine
from engine.runtime.snapshot import CaseSnapshot
from engine.storage.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    """A SQLite store, closed afterwards."""
    with SqliteStore(tmp_path / "cases.db") as opened:
        yield opened


def _next(engine: Engine, snapshot: CaseSnapshot, hours: int) -> tuple[dict[str, Any], Any]:
    """The sealed record and snapshot of one more ``propose`` on ``snapshot``."""
    return attempt(
        engine._runner(snapshot.procedure_sha256), snapshot, "propose", actor=SECRETARY,
        payload=RECONVENE, at=T0 + timedelta(hours=hours),
    )  # fmt: skip


def _in_one_batch(store: SqliteStore, commits: list[Callable[[], None]]) -> list[Any]:
    """Run ``commits`` on threads so that all but the first are written as one batch.

    Returns each commit's result: None when it landed, else the error it raised.
    """
    results: list[Any] = [None] * len(commits)

    def run(index: int) -> None:
        try:
            commits[index]()
        except EngineError as exc:
            results[index] = exc

    dialect = store.sqlite
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(commits))]
    with dialect._write_lock:  # the first commit's leader waits here
        threads[0].start()
        while not dialect._leading:
            threading.Event().wait(0.001)
        for thread in threads[1:]:
            thread.start()
        while len(dialect._queue) < len(commits) - 1:
            threading.Event().wait(0.001)
    for thread in threads:
        thread.join()
    return results


def test_a_refused_commit_fails_alone_in_its_batch(store: SqliteStore) -> None:
    """A stale seq, an opened id and a taken key are refused; the rest of the batch lands."""
    engine = Engine(store)
    for case_id in ("a", "b", "c", "d"):
        open_case(engine, case_id)
    snapshots = {c: store.get_case(c) for c in ("a", "b", "c", "d")}
    assert all(s is not None for s in snapshots.values())
    a, b, c, d = (snapshots[c] for c in ("a", "b", "c", "d"))
    assert a is not None and b is not None and c is not None and d is not None
    a2, a_new = _next(engine, a, 1)
    b2, b_new = _next(engine, b, 1)
    c2, c_new = _next(engine, c, 1)
    d2, d_new = _next(engine, d, 1)
    store.commit(c_new, c2, expected_seq=1, idempotency_key="k", fingerprint="f")
    c3, c_newer = _next(engine, c_new, 2)
    opened = store.records("d")[0]

    results = _in_one_batch(
        store,
        [
            lambda: store.commit(a_new, a2, expected_seq=1),  # leads a batch of its own
            lambda: store.commit(b_new, b2, expected_seq=1),
            lambda: store.commit(c_newer, c3, expected_seq=2, idempotency_key="k", fingerprint="g"),
            lambda: store.commit(replace(d, seq=1), opened, expected_seq=0),
            lambda: store.commit(a_new, a2, expected_seq=1),  # a moved on in the first batch
            lambda: store.commit(d_new, d2, expected_seq=1),
        ],
    )

    assert [type(r).__name__ for r in results] == [
        "NoneType", "NoneType", "Conflict", "CaseExists", "Conflict", "NoneType",
    ]  # fmt: skip
    assert isinstance(results[2], Conflict) and "idempotency key 'k'" in str(results[2])
    assert isinstance(results[3], CaseExists)
    assert verify_store(store) == {"a": 2, "b": 2, "c": 2, "d": 2}
    entry = store.idempotency("c", "k")
    assert entry is not None and (entry.fingerprint, entry.seq) == ("f", 2)


@pytest.mark.parametrize("max_batch", [1, 3, 1000])
def test_many_writers_each_get_their_own_outcome(tmp_path: Path, max_batch: int) -> None:
    """32 threads firing on their own cases through one engine: every event lands once, however
    many commits a batch may carry (the rest wait for the next leader)."""
    with SqliteStore(tmp_path / "cases.db", max_batch=max_batch) as store:
        engine = Engine(store)
        for index in range(32):
            open_case(engine, f"t-{index}")

        def run(index: int) -> None:
            for step in range(10):
                at = T0 + timedelta(seconds=step)
                outcome = engine.fire(
                    f"t-{index}", "propose", actor=SECRETARY, payload=RECONVENE, at=at
                )
                assert outcome.seq == step + 2

        threads = [threading.Thread(target=run, args=(i,)) for i in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert verify_store(store) == {f"t-{index}": 11 for index in range(32)}


def test_writers_racing_on_one_case_land_in_turn_or_conflict(store: SqliteStore) -> None:
    """8 threads firing on one case without expected_seq: each event lands once at the seq it
    was told, or (after the engine's retries, all lost to other writers) is a Conflict that
    left nothing behind; the chain never forks."""
    engine = Engine(store)
    open_case(engine, "shared")
    landed: list[int] = []
    conflicts: list[Conflict] = []

    def run() -> None:
        for _ in range(5):
            try:
                outcome = engine.fire(
                    "shared", "propose", actor=SECRETARY, payload=RECONVENE, at=T0
                )
            except Conflict as exc:
                conflicts.append(exc)
            else:
                landed.append(outcome.seq)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(landed) + len(conflicts) == 40
    assert sorted(landed) == list(range(2, 2 + len(landed)))
    assert verify_store(store) == {"shared": 1 + len(landed)}


def test_refusals_before_any_write_leave_the_batch_as_it_was(store: SqliteStore) -> None:
    """A stale seq and an opened id, refused before they write a row, fail alone without the
    batch being written again; the commits beside them land."""
    engine = Engine(store)
    for case_id in ("a", "b"):
        open_case(engine, case_id)
    a, b = store.get_case("a"), store.get_case("b")
    assert a is not None and b is not None
    a2, a_new = _next(engine, a, 1)
    b2, b_new = _next(engine, b, 1)
    store.commit(a_new, a2, expected_seq=1)
    a3, a_newer = _next(engine, a_new, 2)
    opened = store.records("b")[0]

    results = _in_one_batch(
        store,
        [
            lambda: store.commit(a_newer, a3, expected_seq=2),  # leads a batch of its own
            lambda: store.commit(a_new, a2, expected_seq=1),
            lambda: store.commit(replace(b, seq=1), opened, expected_seq=0),
            lambda: store.commit(b_new, b2, expected_seq=1),
        ],
    )

    assert [type(r).__name__ for r in results] == ["NoneType", "Conflict", "CaseExists", "NoneType"]
    assert verify_store(store) == {"a": 3, "b": 2}


def test_an_interrupted_waiter_passes_on_the_lead_it_was_handed(store: SqliteStore) -> None:
    """A waiting thread interrupted (Ctrl-C) after the lead was handed to it passes the lead
    on, so that the commits queued behind it are still written; with none, nobody leads."""
    from engine.storage.sqlite import _Pending

    def waiting(lead: bool) -> _Pending:
        item = _Pending(write=None, apply=lambda session, write: None)  # type: ignore[arg-type]
        item.wake = threading.Lock()
        item.wake.acquire()
        item.lead = lead
        return item

    dialect = store.sqlite
    first, second = waiting(lead=True), waiting(lead=False)
    dialect._leading = True
    dialect._queue[:] = [first, second]

    dialect._abandon(first)
    handed = second.lead and second.wake is not None and second.wake.acquire(blocking=False)
    dialect._abandon(second)

    assert handed
    assert (dialect._queue, dialect._leading) == ([], False)
