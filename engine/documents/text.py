"""Filters that write what a Chinese official document writes: dates as 年月日.

Instants in records are normalised RFC 3339 text; a document shows the wall-clock
date and time in the procedure's declared ``time_zone`` (the one its deadlines and
CEL getters use), read from the template context, never the host's zone or clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from jinja2 import pass_context

from engine.guards.cel_time import DEFAULT_TIME_ZONE, zone


def _instant(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"not an RFC 3339 instant: {str(value)[:40]!r}") from exc
    if at.tzinfo is None:
        raise ValueError(f"an instant without its offset: {str(value)[:40]!r}")
    return at


def _local(context: Any, value: str) -> datetime:
    procedure = context.get("procedure")
    name = procedure.get("time_zone") if isinstance(procedure, Mapping) else None
    return _instant(value).astimezone(zone(name or DEFAULT_TIME_ZONE))


@pass_context
def date_cn(context: Any, value: str) -> str:
    """``2021-05-15T06:00:00Z`` → ``2021年5月15日`` (in the procedure's time zone)."""
    at = _local(context, value)
    return f"{at.year}年{at.month}月{at.day}日"


@pass_context
def datetime_cn(context: Any, value: str) -> str:
    """``2021-05-15T06:00:00Z`` → ``2021年5月15日 14:00`` (in the procedure's time zone)."""
    at = _local(context, value)
    return f"{at.year}年{at.month}月{at.day}日 {at.hour:02d}:{at.minute:02d}"


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


FILTERS: Mapping[str, Callable[..., Any]] = {"date_cn": date_cn, "datetime_cn": datetime_cn}
