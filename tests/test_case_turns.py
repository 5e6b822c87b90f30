"""Specification: an engine's retries of one case take turns, and a case nobody waits for
costs no memory."""

from __future__ import annotations

import threading

from engine.runtime.case_turns import CaseTurns


def test_a_second_taker_waits_until_the_first_gives_the_turn_back() -> None:
    """Two threads taking one case's turn hold it one after the other."""
    turns = CaseTurns()
    turns.take("c-1")
    order: list[str] = []
    second = threading.Thread(target=lambda: (turns.take("c-1"), order.append("second")))
    second.start()
    while turns._turns["c-1"].users < 2:  # until the second thread asks for the turn
        threading.Event().wait(0.001)
    order.append("first")  # the second thread is waiting: it cannot have gone first
    turns.give("c-1")
    second.join()
    turns.give("c-1")

    assert order == ["first", "second"]
    assert turns._turns == {}


def test_turns_of_different_cases_do_not_wait_for_each_other() -> None:
    """Holding one case's turn leaves another case's free."""
    turns = CaseTurns()
    turns.take("c-1")
    turns.take("c-2")  # would block forever if the cases shared a lock
    turns.give("c-2")
    turns.give("c-1")

    assert turns._turns == {}
