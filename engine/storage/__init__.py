"""Case stores: where snapshots, audit records, idempotency keys and timers live."""

from engine.storage.base import CaseSnapshot, Store
from engine.storage.memory import MemoryStore

__all__ = ["CaseSnapshot", "MemoryStore", "Store"]
