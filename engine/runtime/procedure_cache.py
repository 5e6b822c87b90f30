"""The engine's one cache of compiled procedure versions, bounded and shared by every interface.

Compiling a stored source costs milliseconds (strict YAML, schema, CEL, the
transitions machine), so the versions in use are kept compiled, keyed by sha256.
A store may hold any number of versions, and a server runs for months: the cache
keeps at most ``size`` of them and drops the least recently used. It is the only
such cache — the HTTP API, the workbench and the CLI all ask the ``Engine`` — and
it is safe to use from the server's worker threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from engine.runtime.attempt import Runner

DEFAULT_SIZE = 64
"""Compiled versions kept by default (a handful are in use at any time)."""


class ProcedureCache:
    """At most ``size`` runners (compiled procedure, machine, schemas) by sha256, LRU.

    Args:
        size: how many compiled versions to keep (1 or more).

    Raises:
        ValueError: when ``size`` is below 1.
    """

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError(f"a procedure cache keeps at least 1 version, not {size}")
        self.size = size
        self._runners: OrderedDict[str, Runner] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha256: str) -> Runner | None:
        """The runner of this version, marked as just used; None when not kept."""
        with self._lock:
            found = self._runners.get(sha256)
            if found is not None:
                self._runners.move_to_end(sha256)
            return found

    def put(self, runner: Runner) -> Runner:
        """Keep ``runner`` (the one already kept for its sha256 wins); return the kept one."""
        sha256 = runner.procedure.sha256
        with self._lock:
            kept = self._runners.setdefault(sha256, runner)
            self._runners.move_to_end(sha256)
            while len(self._runners) > self.size:
                self._runners.popitem(last=False)
            return kept

    def __contains__(self, sha256: object) -> bool:
        with self._lock:
            return sha256 in self._runners

    def __len__(self) -> int:
        with self._lock:
            return len(self._runners)
