"""Disclosure periods (公开期) in calendar or working days (docs/rules.md: 四议两公开, rule sets).

A thin layer over ``engine.governance.deadlines.deadline_after`` so that disclosure
windows use the same official working-day calendar as state deadlines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from engine.governance.deadlines import deadline_after

Days = Literal["calendar", "working"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DisclosureWindow:
    """When a disclosure starts and ends, and how its days are counted."""

    start: datetime
    end: datetime
    period: str
    days: Days

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "period": self.period,
            "days": self.days,
        }


def disclosure_window(
    start: datetime, period: str = "P7D", days: Days = "calendar"
) -> DisclosureWindow:
    """The window of a disclosure posted at ``start`` ([D] 7 calendar days by default).

    Raises:
        ValueError: for a malformed period.
        CalendarUnavailable: when working days cannot be counted for those dates.
    """
    return DisclosureWindow(
        start=start, end=deadline_after(start, period, days), period=period, days=days
    )
