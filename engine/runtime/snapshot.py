"""A case's current state, as the runtime computes it and a store keeps it.

It belongs to the runtime: ``attempt`` turns one snapshot and an event into a
record and the next snapshot, and replay rebuilds it from records. Stores only
record it beside the audit records (``engine.storage``), so this module imports
nothing of theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.frozen import builder


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseSnapshot:
    """A case's current state as stored beside its audit records."""

    id: str
    procedure_id: str
    procedure_version: str
    procedure_sha256: str
    state: str
    data: Mapping[str, Any]
    seq: int
    head: str
    final: bool
    state_entered_at: str
    deadline_at: datetime | None = None
    deadline_event: str | None = None
    updated_at: str
    unit: str = ""
    """The organisational unit the case belongs to (a path such as 县/镇/村; "" for none)."""


new_snapshot = builder(CaseSnapshot)
"""``CaseSnapshot(...)`` at a fraction of the cost (``engine.frozen``): a snapshot per attempt."""
