"""Specification: a keyed retry is safe even when it repeats the expected seq it was sent with.

A client that sends ``expected_seq=N`` with an idempotency key, loses the answer and
sends the same request again must get the first outcome (``replayed``), not a
conflict: the case is at N + 1 precisely because its own first attempt was applied.

An engine fires from the snapshot its last commit of the case produced; when another
writer moved the case meanwhile, that snapshot is stale, the commit refuses it, and
the event is tried again on the stored case: the caller sees what a fresh read
would have given.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from store_support import RECONVENE, SECRETARY, T0, open_case, verify_store

from engine.errors import Conflict, TimeWentBackwards
from engine.runtime.engine import Engine
from engine.runtime.snapshot import CaseSnapshot
from engine.storage import open_store


def test_a_keyed_retry_with_its_stale_expected_seq_returns_the_first_outcome() -> None:
    """The retry gets the first outcome with ``replayed=True`` and nothing is recorded."""
    engine = Engine()
    open_case(engine, "c-1")
    payload = {"present": 4, "yes": 3}
    first = engine.fire(
        "c-1", "propose", actor=SECRETARY, payload=payload, at=T0, idempotency_key="k1",
        expected_seq=1,
    )  # fmt: skip
    again = engine.fire(
        "c-1", "propose", actor=SECRETARY, payload=payload, at=T0, idempotency_key="k1",
        expected_seq=1,
    )  # fmt: skip
    assert (first.seq, first.status, again.seq, again.replayed) == (2, "applied", 2, True)
    assert engine.case("c-1").seq == 2


def test_a_new_key_with_a_stale_expected_seq_is_still_a_conflict() -> None:
    """Only a retry is exempt: a new request with a stale expected seq is refused as a conflict."""
    engine = Engine()
    open_case(engine, "c-1")
    engine.fire("c-1", "propose", actor=SECRETARY, payload={"present": 2, "yes": 2}, at=T0)
    with pytest.raises(Conflict):
        engine.fire(
            "c-1", "propose", actor=SECRETARY, payload={"present": 4, "yes": 3}, at=T0,
            idempotency_key="k2", expected_seq=1,
        )  # fmt: skip
    assert engine.case("c-1").seq == 2


# -- firing from the snapshot of the engine's last commit ----------------------------------------


def _two_engines(tmp_path: Path) -> tuple[Engine, Engine]:
    """Two engines on one SQLite file, as two processes would be: neither sees the other's cache."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    return Engine(open_store(url)), Engine(open_store(url))


def test_an_engine_whose_snapshot_another_moved_applies_on_the_stored_case(
    tmp_path: Path,
) -> None:
    """A fire without expected_seq on a case another engine moved lands after that move."""
    first, second = _two_engines(tmp_path)
    with first, second:
        open_case(first, "c-1")
        first.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)  # seq 2, kept
        second.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)  # seq 3

        outcome = first.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)

        assert (outcome.seq, outcome.status) == (4, "applied")
        assert verify_store(first.store) == {"c-1": 4}


def test_an_expected_seq_is_checked_against_the_stored_case_not_the_kept_one(
    tmp_path: Path,
) -> None:
    """The seq the caller read from the store is honoured even where this engine kept an older
    snapshot; a seq the store has passed is still a Conflict, and nothing is written."""
    first, second = _two_engines(tmp_path)
    with first, second:
        open_case(first, "c-1")
        first.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)  # seq 2, kept
        second.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)  # seq 3

        landed = first.fire(
            "c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0, expected_seq=3
        )
        second.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)  # seq 5
        with pytest.raises(Conflict) as caught:
            first.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0, expected_seq=4)

        assert landed.seq == 4
        assert "is at seq 5, not 4" in str(caught.value)
        assert verify_store(first.store) == {"c-1": 5}


def test_a_time_check_on_a_kept_snapshot_is_made_against_the_stored_case(
    tmp_path: Path,
) -> None:
    """An event dated before a record another engine wrote is refused as going backwards,
    though the snapshot this engine kept is older than both."""
    first, second = _two_engines(tmp_path)
    with first, second:
        open_case(first, "c-1")
        later = T0 + timedelta(hours=2)
        second.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=later)

        with pytest.raises(TimeWentBackwards):
            first.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE,
                       at=T0 + timedelta(hours=1))  # fmt: skip

        assert verify_store(first.store) == {"c-1": 2}


def test_reads_never_come_from_the_kept_snapshot(tmp_path: Path) -> None:
    """``case`` shows what another engine committed, not the snapshot this engine kept."""
    first, second = _two_engines(tmp_path)
    with first, second:
        open_case(first, "c-1")
        second.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)

        assert first.case("c-1", history=False).seq == 2


# -- a host's door, asked about the snapshot the engine fires on ----------------------------------


class _Refused(Exception):
    pass


def test_the_door_is_asked_about_the_kept_snapshot_and_nothing_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The door sees the snapshot the engine kept from its last commit; the store is not read."""
    engine = Engine(open_store(f"sqlite:///{tmp_path / 'cases.db'}"))
    with engine:
        open_case(engine, "c-1")
        engine.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)  # seq 2, kept
        reads: list[str] = []
        read = engine.store.get_case

        def counted(case_id: str) -> CaseSnapshot | None:
            reads.append(case_id)
            return read(case_id)

        monkeypatch.setattr(engine.store, "get_case", counted)
        asked: list[int] = []

        outcome = engine.fire(
            "c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0,
            door=lambda snapshot: asked.append(snapshot.seq),
        )  # fmt: skip

        assert (asked, reads, outcome.seq, outcome.status) == ([2], [], 3, "applied")


def test_a_door_refusing_a_stale_kept_snapshot_is_asked_again_on_the_stored_case(
    tmp_path: Path,
) -> None:
    """Another engine moved the case: the door judges the stored case, and the event lands."""
    first, second = _two_engines(tmp_path)
    with first, second:
        open_case(first, "c-1")
        first.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)  # seq 2, kept
        second.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)  # seq 3
        asked: list[int] = []

        def door(snapshot: CaseSnapshot) -> None:
            asked.append(snapshot.seq)
            if snapshot.seq < 3:
                raise _Refused("judged on an old snapshot")

        outcome = first.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0, door=door)

        assert (asked, outcome.seq, outcome.status) == ([2, 3], 4, "applied")
        assert verify_store(first.store) == {"c-1": 4}


def test_a_door_refusing_the_stored_case_is_the_answer_and_nothing_is_recorded(
    tmp_path: Path,
) -> None:
    """A refusal on the case as stored is raised as it is; the chain does not grow."""
    engine = Engine(open_store(f"sqlite:///{tmp_path / 'cases.db'}"))
    with engine:
        open_case(engine, "c-1")
        engine.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)  # seq 2, kept
        asked: list[int] = []

        def door(snapshot: CaseSnapshot) -> None:
            asked.append(snapshot.seq)
            raise _Refused("not this caller")

        with pytest.raises(_Refused, match="not this caller"):
            engine.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0, door=door)

        assert asked == [2, 2]  # the kept snapshot, then the stored case
        assert verify_store(engine.store) == {"c-1": 2}


def test_a_keyed_retry_is_answered_only_after_the_door_saw_the_stored_case(
    tmp_path: Path,
) -> None:
    """Another engine moved the case after the first attempt: before the retry's first
    outcome is given back, the door judges the case as stored now, and its refusal (the
    caller's unit or role gone, say) is the answer instead of the replay."""
    first, second = _two_engines(tmp_path)
    with first, second:
        open_case(first, "c-1")
        keyed = {"actor": SECRETARY, "payload": RECONVENE, "at": T0, "idempotency_key": "k1"}
        applied = first.fire("c-1", "propose", **keyed)  # seq 2, kept by `first`
        second.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)  # seq 3
        asked: list[int] = []

        def door(snapshot: CaseSnapshot) -> None:
            asked.append(snapshot.seq)
            if snapshot.seq >= 3:
                raise _Refused("no longer this caller's case")

        with pytest.raises(_Refused, match="no longer this caller's case"):
            first.fire("c-1", "propose", door=door, **keyed)
        assert asked == [2, 3, 3]  # the kept snapshot, then the stored case (asked again)

        replayed = first.fire("c-1", "propose", door=lambda _: None, **keyed)
        assert (replayed.seq, replayed.replayed, applied.seq) == (2, True, 2)
        assert verify_store(first.store) == {"c-1": 3}


def test_a_keyed_retry_on_a_case_that_never_stands_still_still_gets_its_outcome(
    tmp_path: Path,
) -> None:
    """Each time the engine checks whether the stored case moved, another writer has moved it
    again: the retries are bounded, and the last try answers the first outcome (judged on
    the case as read for the try before) instead of failing."""
    first, second = _two_engines(tmp_path)
    with first, second:
        open_case(first, "c-1")
        keyed = {"actor": SECRETARY, "payload": RECONVENE, "at": T0, "idempotency_key": "k1"}
        applied = first.fire("c-1", "propose", **keyed)  # seq 2, kept by `first`
        asked: list[int] = []

        def busy_door(snapshot: CaseSnapshot) -> None:
            asked.append(snapshot.seq)
            second.fire("c-1", "propose", actor=SECRETARY, payload=RECONVENE, at=T0)

        replayed = first.fire("c-1", "propose", door=busy_door, **keyed)

        assert (replayed.seq, replayed.replayed, applied.seq) == (2, True, 2)
        assert len(asked) == 9  # the first try and eight retries, each on a case moved since
        assert asked == sorted(asked) and len(set(asked)) == 9
        assert verify_store(first.store) == {"c-1": 2 + len(asked)}
