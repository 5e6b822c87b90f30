"""Specification: a keyed retry is safe even when it repeats the expected seq it was sent with.

A client that sends ``expected_seq=N`` with an idempotency key, loses the answer and
sends the same request again must get the first outcome (``replayed``), not a
conflict: the case is at N + 1 precisely because its own first attempt was applied.
"""

from __future__ import annotations

import pytest
from store_support import SECRETARY, T0, open_case

from engine.errors import Conflict
from engine.runtime.engine import Engine


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
