"""Procedure versions by sha256: register YAML text, and compile stored versions on demand.

The store keeps each version's exact source (content-addressed); compiling it
costs milliseconds, so the compiled form of the versions in use is kept here,
a bounded number of them. Registration is the same ``check_source`` that
``yishi validate`` runs and the same ``Engine.register`` the Python API offers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from engine.definition.compile import CompiledProcedure
from engine.definition.loader import CheckReport, check_source, load_source
from engine.errors import Problem, ProcedureInvalid
from engine.runtime.engine import Engine


@dataclass(frozen=True, slots=True, kw_only=True)
class Registration:
    """What registering a text did: the checked procedure, its warnings, and whether it is new."""

    compiled: CompiledProcedure
    warnings: tuple[Problem, ...]
    registered: bool


class Catalog:
    """Compiled procedures by sha256, loaded from the engine's store.

    Args:
        engine: whose store holds the sources and whose ``register`` stores new ones.
        size: how many compiled versions to keep.
    """

    def __init__(self, engine: Engine, size: int = 64) -> None:
        self.engine = engine
        self._size = size
        self._compiled: OrderedDict[str, CompiledProcedure] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha256: str) -> CompiledProcedure | None:
        """The compiled version with this sha256, or None when the store lacks it.

        Raises:
            ProcedureInvalid: when a stored source no longer compiles (e.g. an action
                it names was removed from the registry).
        """
        with self._lock:
            found = self._compiled.get(sha256)
            if found is not None:
                self._compiled.move_to_end(sha256)
                return found
        source = self.engine.store.procedure_source(sha256)
        if source is None:
            return None
        compiled = load_source(source, f"<store:{sha256[:12]}>")
        self.remember(compiled)
        return compiled

    def check(self, source: str, file: str) -> CheckReport:
        """Check a text without storing it (``check_source``)."""
        return check_source(source, file)

    def register(self, source: str, file: str, *, by: str | None = None) -> Registration:
        """Check a text and, when it has no errors, store it (idempotent by sha256).

        Args:
            by: who registers it (kept with a text stored for the first time).

        Raises:
            ProcedureInvalid: with every problem, located, when it has errors.
        """
        report = check_source(source, file)
        if report.compiled is None:
            raise ProcedureInvalid(list(report.problems))
        compiled = report.compiled
        known = self.engine.store.procedure_source(compiled.procedure.sha256) is not None
        self.engine.register(compiled, by=by)
        self.remember(compiled)
        return Registration(compiled=compiled, warnings=report.warnings, registered=not known)

    def remember(self, compiled: CompiledProcedure) -> None:
        """Keep a compiled version (its source must be in the store to open cases after restart)."""
        with self._lock:
            self._compiled[compiled.procedure.sha256] = compiled
            self._compiled.move_to_end(compiled.procedure.sha256)
            while len(self._compiled) > self._size:
                self._compiled.popitem(last=False)
