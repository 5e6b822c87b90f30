"""The per-case hash chain."""

from __future__ import annotations

from typing import Any

from engine.audit.canonical import record_hash

GENESIS = "0" * 64


def seal(record: dict[str, Any], prev: str) -> dict[str, Any]:
    """A copy of ``record`` with ``prev`` and its ``hash``."""
    sealed = {k: v for k, v in record.items() if k != "hash"}
    sealed["prev"] = prev
    sealed["hash"] = record_hash(sealed)
    return sealed
