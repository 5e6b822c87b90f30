"""Case stores: where snapshots, audit records, idempotency keys and timers live."""

from engine.runtime.snapshot import CaseSnapshot
from engine.storage.base import (
    CaseFilter,
    CaseImport,
    CasePage,
    IdempotencyEntry,
    ProcedureRef,
    Store,
)
from engine.storage.memory import MemoryStore
from engine.storage.url import DEFAULT_URL, open_store

__all__ = [
    "DEFAULT_URL",
    "CaseFilter",
    "CaseImport",
    "CasePage",
    "CaseSnapshot",
    "IdempotencyEntry",
    "MemoryStore",
    "ProcedureRef",
    "Store",
    "open_store",
]
