"""Turns per case for an engine's retries: threads that lost a race on one case line up.

When several threads of one engine fire on the same case at once, one commit lands and
the others are refused (``Conflict``) and retried on the new state; without turns they
would all retry at once again, and again only one would land, so that under a burst
(ballots arriving together, say) a caller could lose every retry. A thread takes the
case's turn before its first retry and keeps it until its fire ends: the retriers then
land one after the other, each on the snapshot the previous one committed. A first
attempt takes no turn, so firing on cases nobody else is firing on costs nothing more.
Other engines and processes are not lined up; the commit's expected seq still keeps
the chain whole against them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(slots=True, eq=False)
class _Turn:
    """One case's lock and how many threads hold or wait for it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0


class CaseTurns:
    """A lock per case while some thread needs it (forgotten when none does)."""

    __slots__ = ("_mutex", "_turns")

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._turns: dict[str, _Turn] = {}

    def take(self, case_id: str) -> None:
        """Wait for ``case_id``'s turn (give it back with ``give``)."""
        with self._mutex:
            turn = self._turns.get(case_id)
            if turn is None:
                turn = self._turns[case_id] = _Turn()
            turn.users += 1
        turn.lock.acquire()

    def give(self, case_id: str) -> None:
        """End this thread's turn on ``case_id``; the next waiting thread goes."""
        with self._mutex:
            turn = self._turns[case_id]
            turn.users -= 1
            if turn.users == 0:
                del self._turns[case_id]
            turn.lock.release()
