"""The one error the governance library raises, kept importable from here.

``GovernanceError`` (defined in ``engine.errors`` with every other error)
subclasses both ``EngineError`` (so the runtime turns it into a refused attempt
with the reason) and ``ValueError`` (what a caller passing bad numbers already
catches). Its message always says which rule refused and why.
"""

from __future__ import annotations

from engine.errors import GovernanceError

__all__ = ["GovernanceError"]
