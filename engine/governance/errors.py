"""The one error the governance library raises.

``GovernanceError`` subclasses both ``EngineError`` (so the runtime turns it into a
refused attempt with the reason) and ``ValueError`` (what a caller passing bad
numbers already catches). Its message always says which rule refused and why.
"""

from __future__ import annotations

from engine.errors import EngineError


class GovernanceError(EngineError, ValueError):
    """Inputs that a governance rule refuses; the message names the rule and the fix."""
