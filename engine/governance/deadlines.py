"""When a state's deadline falls: ISO 8601 periods in calendar or working days.

Calendar periods add days and months by the calendar and hours exactly (PT48H
is 48 hours later). Working-day periods count days on the official Chinese calendar
(``chinese-calendar``: State Council holidays and adjusted weekend workdays):
a deadline of P5D in working days entered on some day falls at midnight after
the fifth working day that follows the entry day.

Days, months and midnights are those of the procedure's time zone (Asia/Shanghai
unless it declares another), never of the offset a client happened to write:
the same instant always gives the same deadline, returned in UTC.
"""

from __future__ import annotations

import re
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta

from engine.errors import CalendarUnavailable as CalendarUnavailable
from engine.errors import DeadlineOutOfRange as DeadlineOutOfRange
from engine.guards.cel_time import DEFAULT_TIME_ZONE, zone

_PERIOD = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def _add_months(at: datetime, months: int) -> datetime:
    month_index = at.month - 1 + months
    year, month = at.year + month_index // 12, month_index % 12 + 1
    if year > MAXYEAR:
        raise OverflowError("date value out of range")
    for day in range(at.day, 0, -1):
        try:
            return at.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError("unreachable")  # pragma: no cover


def is_working_day(day: date) -> bool:
    """True on an official working day (adjusted weekend workdays included).

    Raises:
        CalendarUnavailable: when the calendar package does not cover the year.
    """
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as exc:
        raise CalendarUnavailable(
            f"the official holiday schedule for {day.year} is not in chinese-calendar "
            "yet; upgrade it or use calendar days"
        ) from exc


def deadline_after(
    entered: datetime, period: str, days: str = "calendar", time_zone: str = DEFAULT_TIME_ZONE
) -> datetime:
    """The moment (in UTC) a deadline of ``period`` falls for a state entered at ``entered``.

    Calendar days and months and working days are counted on ``time_zone``'s wall clock.

    Raises:
        ValueError: for a malformed period, or working days with non-day parts.
        CalendarUnavailable: when working days cannot be counted for those dates.
        DeadlineOutOfRange: when the deadline falls after year 9999 (UTC), which no
            record can hold: the attempt fails before anything is recorded.
    """
    try:
        return _deadline_after(entered, period, days, time_zone)
    except OverflowError as exc:
        raise DeadlineOutOfRange(
            f"a deadline of {period} after {entered.isoformat()} falls after year 9999, "
            "which no record can hold"
        ) from exc


def _deadline_after(entered: datetime, period: str, days: str, time_zone: str) -> datetime:
    match = _PERIOD.match(period)
    if not match or period in ("P", "PT"):
        raise ValueError(f"{period!r} is not an ISO 8601 period such as P7D or PT48H")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    if days == "working":
        if set(parts) - {"days", "weeks"}:
            raise ValueError(f"{period!r}: working-day periods are whole days, e.g. P5D")
        count = parts.get("days", 0) + 5 * parts.get("weeks", 0)
        return _working_days_after(entered.astimezone(zone(time_zone)), count).astimezone(UTC)
    # Days and months follow the zone's calendar; hours, minutes and seconds are
    # elapsed time (a PT48H deadline is 48 hours later even across a DST change).
    local = entered.astimezone(zone(time_zone))
    result = _add_months(local, 12 * parts.get("years", 0) + parts.get("months", 0))
    result += timedelta(weeks=parts.get("weeks", 0), days=parts.get("days", 0))
    return result.astimezone(UTC) + timedelta(
        hours=parts.get("hours", 0),
        minutes=parts.get("minutes", 0),
        seconds=parts.get("seconds", 0),
    )


def _working_days_after(entered: datetime, count: int) -> datetime:
    day = entered.date()
    remaining = count
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=entered.tzinfo)
    return midnight
