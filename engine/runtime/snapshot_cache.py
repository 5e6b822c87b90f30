"""The snapshots an engine last wrote or read, so that firing skips reading the case again.

Reading a case before each event costs a store round trip and decoding its row
and JSON data, which on SQLite was a fifth of a durable event's CPU. The engine
keeps the snapshot each of its commits produced instead, and fires the next
event on it.

A cached snapshot may be stale (another engine or process moved the case, a
migration wrote it); that is safe because a commit lands only on the seq and
head it was computed from (``engine.storage.invariants``): a stale one is
refused as a ``Conflict`` and nothing is written. The engine then reads the
case afresh and tries once more (``Engine.fire``). Only firing uses the cache;
reads (``case``, ``explain``, ``records``) always ask the store.

Beside a snapshot its commit made, the cache keeps the instant of its ``updated_at``
(``updated``): the next event's time is compared with it, and parsing the text
again on every event cost more than the comparison (callgrind).
"""

from __future__ import annotations

import threading
from datetime import datetime

from engine.runtime.clock import parse_time
from engine.runtime.snapshot import CaseSnapshot

DEFAULT_CASES = 1024
"""Enough for the cases a busy process works on at once; a miss only costs a read."""


class SnapshotCache:
    """The newest snapshot seen of each of the most recently written cases.

    Args:
        size: how many cases to keep (the least recently stored dropped first).
    """

    __slots__ = ("_lock", "_size", "_snapshots")

    def __init__(self, size: int = DEFAULT_CASES) -> None:
        self._size = size
        # Each case's snapshot and, when its commit said, the instant of its updated_at.
        self._snapshots: dict[str, tuple[CaseSnapshot, datetime | None]] = {}
        self._lock = threading.Lock()

    def get(self, case_id: str) -> CaseSnapshot | None:
        """The cached snapshot of ``case_id`` (perhaps stale), or None."""
        kept = self._snapshots.get(case_id)
        return kept[0] if kept is not None else None

    def updated(self, snapshot: CaseSnapshot) -> datetime:
        """The instant of ``snapshot.updated_at``: kept with it when it was put, else parsed."""
        kept = self._snapshots.get(snapshot.id)
        if kept is not None and kept[0] is snapshot and kept[1] is not None:
            return kept[1]
        return parse_time(snapshot.updated_at)

    def put(self, snapshot: CaseSnapshot, updated: datetime | None = None) -> None:
        """Keep ``snapshot`` unless a later one of its case is kept already.

        Args:
            updated: the instant ``snapshot.updated_at`` writes, when the caller has it.

        Two threads finishing commits of one case may store them in either order;
        keeping the higher seq means the cache never goes back to an older one.
        """
        with self._lock:
            kept = self._snapshots.pop(snapshot.id, None)
            self._snapshots[snapshot.id] = (
                kept if kept is not None and kept[0].seq > snapshot.seq else (snapshot, updated)
            )
            if len(self._snapshots) > self._size:
                del self._snapshots[next(iter(self._snapshots))]

    def drop(self, case_id: str) -> None:
        """Forget ``case_id`` (its snapshot turned out stale)."""
        with self._lock:
            self._snapshots.pop(case_id, None)
