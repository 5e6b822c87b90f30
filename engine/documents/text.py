"""Filters that write what a Chinese official document writes: dates as 年月日.

Instants in records are RFC 3339 text with their offset; a document shows the
wall-clock date and time at that offset (the one the event was recorded with),
so no time zone database and no clock is consulted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any


def _instant(value: str) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"not an RFC 3339 instant: {str(value)[:40]!r}") from exc


def date_cn(value: str) -> str:
    """``2021-05-15T14:00:00+08:00`` → ``2021年5月15日``."""
    at = _instant(value)
    return f"{at.year}年{at.month}月{at.day}日"


def datetime_cn(value: str) -> str:
    """``2021-05-15T14:00:00+08:00`` → ``2021年5月15日 14:00``."""
    at = _instant(value)
    return f"{date_cn(value)} {at.hour:02d}:{at.minute:02d}"


_PERIOD = re.compile(r"^P(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?$")


def period_cn(period: str, days: str = "calendar") -> str:
    """``P7D`` → ``7个自然日`` (``7个工作日`` counting working days), ``P3M`` → ``3个月``.

    Periods with hours or years are returned as written.
    """
    match = _PERIOD.match(period)
    if match is None or period == "P":
        return period
    parts = []
    if match.group("months"):
        parts.append(f"{int(match.group('months'))}个月")
    count = int(match.group("days") or 0) + 7 * int(match.group("weeks") or 0)
    if count:
        parts.append(f"{count}个{'工作日' if days == 'working' else '自然日'}")
    return "零".join(parts)


def at_offset_of(instant: datetime, reference: str) -> str:
    """``instant`` as RFC 3339 text at the UTC offset ``reference`` (a recorded instant) has."""
    offset = _instant(reference).tzinfo
    return instant.astimezone(offset).isoformat() if offset else instant.isoformat()


FILTERS: Mapping[str, Callable[..., Any]] = {"date_cn": date_cn, "datetime_cn": datetime_cn}
