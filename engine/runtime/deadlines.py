"""The deadline arithmetic, kept importable from the runtime where it used to live.

Deadlines are governance rules (a disclosure stays up seven days, a review ends
five working days after entry), and the governance library needs them without
the runtime above it: they live in ``engine.governance.deadlines``.
"""

from __future__ import annotations

from engine.governance.deadlines import (
    CalendarUnavailable,
    DeadlineOutOfRange,
    deadline_after,
    is_working_day,
)

__all__ = ["CalendarUnavailable", "DeadlineOutOfRange", "deadline_after", "is_working_day"]
