"""Clocks: the only way the runtime learns the time when an attempt does not say.

Guards and actions never read a clock: they read the attempt's recorded ``at``.
A clock only supplies ``at`` when the caller omits it, and that value is then
recorded, so replay never depends on when it runs.

Time has one meaning (an instant) whatever offset a client wrote it with:
``normalise`` turns every ``at`` entering the engine into UTC, once, and the
procedure's declared ``time_zone`` alone decides what wall-clock hour or day an
instant is (``local_time``), for CEL getters and working-day deadlines alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from engine.errors import TimeOutOfRange
from engine.guards.cel_time import DEFAULT_TIME_ZONE, local_time, zone

__all__ = [
    "DEFAULT_TIME_ZONE",
    "Clock",
    "FixedClock",
    "SystemClock",
    "format_time",
    "local_time",
    "normalise",
    "parse_time",
    "shown_on_wall_clock",
    "zone",
]


class Clock(Protocol):
    """Supplies the current time (timezone-aware)."""

    def now(self) -> datetime:
        """The current time."""
        ...


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that says what it is told: for tests, scenarios and replay."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware time")
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self.at += delta


def parse_time(text: str) -> datetime:
    """Read an RFC 3339 time; it must carry its offset.

    Raises:
        ValueError: when the text is not an RFC 3339 time with an offset.
    """
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset; write e.g. 2024-03-01T09:00:00+08:00")
    return value


_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))


def format_time(at: datetime) -> str:
    """RFC 3339 with the offset kept as given (``+08:00`` stays ``+08:00``)."""
    if at.tzinfo is UTC and not at.microsecond:
        # The engine's own instants (normalised, whole seconds): ``isoformat`` writes the
        # offset through printf and cost three times this (callgrind), once per record.
        two = _TWO_DIGITS
        year = at.year
        return (
            f"{year if year >= 1000 else f'{year:04d}'}-{two[at.month]}-{two[at.day]}"
            f"T{two[at.hour]}:{two[at.minute]}:{two[at.second]}Z"
        )
    if at.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    text = at.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def normalise(at: datetime) -> datetime:
    """The instant ``at`` in UTC: what the engine records, whatever offset it came with.

    Raises:
        ValueError: when ``at`` has no offset (a wall-clock time names no instant), or
            has no UTC form (the last hours of year 9999 west of Greenwich, the first
            of year 1 east of it): records hold UTC, in years 1 to 9999.
    """
    if at.tzinfo is UTC:
        return at  # already normalised (asking its offset first cost more than the rest)
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("times must be timezone-aware")
    try:
        return at.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(
            f"{at.isoformat()} has no UTC form: records hold UTC, in years 1 to 9999"
        ) from exc


# Zone offsets stay within ±14 hours, so only instants this close to the ends of the
# years records hold can have no wall-clock form; every other instant skips the check.
_SAFE_FROM = datetime(1, 1, 2, tzinfo=UTC)
_SAFE_UNTIL = datetime(9999, 12, 30, tzinfo=UTC)


def shown_on_wall_clock(at: datetime, zone_name: str | None) -> None:
    """Refuse an instant (UTC) the procedure's wall clock cannot show.

    An instant in the last hours of 9999-12-31 UTC is already year 10000 east of
    Greenwich: ``now``, a working-day count or a page showing the record's local time
    could not be worked out, so such an event is refused before anything is recorded.

    Raises:
        TimeOutOfRange: naming the time and the zone.
    """
    if _SAFE_FROM <= at < _SAFE_UNTIL:
        return
    name = zone_name or DEFAULT_TIME_ZONE
    try:
        local_time(at, name)
    except OverflowError as exc:
        raise TimeOutOfRange(
            f"{format_time(at)} is outside years 1 to 9999 on the {name} wall clock "
            "the procedure keeps time by: no record can be made at that time"
        ) from exc
