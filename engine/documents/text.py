"""Filters that write what a Chinese official document writes: dates as 年月日.

Instants in records are RFC 3339 text with their offset; a document shows the
wall-clock date and time at that offset (the one the event was recorded with),
so no time zone database and no clock is consulted.
"""

from __future__ import annotations

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


FILTERS: Mapping[str, Callable[..., Any]] = {"date_cn": date_cn, "datetime_cn": datetime_cn}
