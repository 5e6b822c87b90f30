"""yishi (议事): governance procedures as declarative, audited state machines.

The public API is small and explicit. Names are imported on first use, so that
``import engine`` (and with it ``yishi --help``) stays fast; ``__all__`` lists
exactly the public names.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.definition.compile import CompiledProcedure
    from engine.definition.loader import check_source, load_procedure, load_source
    from engine.errors import (
        AuditError,
        CaseError,
        CaseExists,
        Conflict,
        EngineError,
        Forbidden,
        IdempotencyMismatch,
        InvalidCursor,
        InvalidData,
        Problem,
        ProcedureError,
        ProcedureInvalid,
        SourceLocation,
        StoreError,
        UnknownCase,
    )
    from engine.runtime.clock import Clock, FixedClock, SystemClock
    from engine.runtime.engine import Engine
    from engine.runtime.queries import CaseFilter
    from engine.runtime.types import Actor, CaseView, Explanation, Outcome, Reason
    from engine.storage.memory import MemoryStore

_PUBLIC = {
    "Actor": "engine.runtime.types",
    "AuditError": "engine.errors",
    "CaseError": "engine.errors",
    "CaseExists": "engine.errors",
    "CaseFilter": "engine.runtime.queries",
    "CaseView": "engine.runtime.types",
    "Clock": "engine.runtime.clock",
    "CompiledProcedure": "engine.definition.compile",
    "Conflict": "engine.errors",
    "Engine": "engine.runtime.engine",
    "EngineError": "engine.errors",
    "Forbidden": "engine.errors",
    "Explanation": "engine.runtime.types",
    "FixedClock": "engine.runtime.clock",
    "IdempotencyMismatch": "engine.errors",
    "InvalidCursor": "engine.errors",
    "InvalidData": "engine.errors",
    "MemoryStore": "engine.storage.memory",
    "Outcome": "engine.runtime.types",
    "Problem": "engine.errors",
    "ProcedureError": "engine.errors",
    "ProcedureInvalid": "engine.errors",
    "Reason": "engine.runtime.types",
    "SourceLocation": "engine.errors",
    "StoreError": "engine.errors",
    "SystemClock": "engine.runtime.clock",
    "UnknownCase": "engine.errors",
    "check_source": "engine.definition.loader",
    "load_procedure": "engine.definition.loader",
    "load_source": "engine.definition.loader",
}

__all__ = [
    "Actor",
    "AuditError",
    "CaseError",
    "CaseExists",
    "CaseFilter",
    "CaseView",
    "Clock",
    "CompiledProcedure",
    "Conflict",
    "Engine",
    "EngineError",
    "Explanation",
    "FixedClock",
    "Forbidden",
    "IdempotencyMismatch",
    "InvalidCursor",
    "InvalidData",
    "MemoryStore",
    "Outcome",
    "Problem",
    "ProcedureError",
    "ProcedureInvalid",
    "Reason",
    "SourceLocation",
    "StoreError",
    "SystemClock",
    "UnknownCase",
    "check_source",
    "load_procedure",
    "load_source",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
