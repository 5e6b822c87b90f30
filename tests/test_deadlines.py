"""engine.runtime.deadlines: calendar periods, working days on the official Chinese calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from runtime_support import CLERK, CST, TOY_DATA, TOY_SOURCE, new_engine, toy

from engine.definition.loader import load_source
from engine.errors import EngineError
from engine.runtime.deadlines import CalendarUnavailable, deadline_after, is_working_day


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- calendar periods --------------------------------------------------------------------------


def test_p7d_is_seven_days_later_to_the_minute() -> None:
    """Calendar: P7D falls exactly seven days after entry, in the entry's offset."""
    entered = _at("2024-03-16T09:00:00+08:00")

    assert deadline_after(entered, "P7D") == _at("2024-03-23T09:00:00+08:00")


def test_pt48h_is_forty_eight_hours_later() -> None:
    """Calendar: PT48H is 48 hours after entry."""
    entered = _at("2024-03-16T21:30:00+08:00")

    assert deadline_after(entered, "PT48H") == _at("2024-03-18T21:30:00+08:00")


def test_a_week_and_mixed_time_parts_add_up() -> None:
    """Calendar: P1W is 7 days; P1DT2H30M adds each part."""
    entered = _at("2024-03-16T09:00:00+08:00")

    assert deadline_after(entered, "P1W") == _at("2024-03-23T09:00:00+08:00")
    assert deadline_after(entered, "P1DT2H30M") == _at("2024-03-17T11:30:00+08:00")
    assert deadline_after(entered, "PT90S") == _at("2024-03-16T09:01:30+08:00")


@pytest.mark.parametrize(
    ("entered", "period", "expected"),
    [
        ("2024-01-31T10:00:00+08:00", "P1M", "2024-02-29T10:00:00+08:00"),  # leap year
        ("2023-01-31T10:00:00+08:00", "P1M", "2023-02-28T10:00:00+08:00"),
        ("2024-03-31T10:00:00+08:00", "P1M", "2024-04-30T10:00:00+08:00"),
        ("2024-08-31T10:00:00+08:00", "P6M", "2025-02-28T10:00:00+08:00"),
        ("2024-11-30T10:00:00+08:00", "P3M", "2025-02-28T10:00:00+08:00"),
        ("2024-02-29T10:00:00+08:00", "P1Y", "2025-02-28T10:00:00+08:00"),
        ("2024-01-15T10:00:00+08:00", "P1M", "2024-02-15T10:00:00+08:00"),
        ("2024-12-31T10:00:00+08:00", "P1M1D", "2025-02-01T10:00:00+08:00"),
    ],
)
def test_months_at_month_end_clamp_to_the_last_day(
    entered: str, period: str, expected: str
) -> None:
    """Calendar: months go by the calendar; a day past the month's end becomes its last day."""
    assert deadline_after(_at(entered), period) == _at(expected)


def test_the_entry_offset_is_kept() -> None:
    """Calendar: the deadline keeps the offset of the entry time (UTC stays UTC)."""
    entered = datetime(2024, 3, 16, 1, 0, tzinfo=UTC)

    due = deadline_after(entered, "P7D")

    assert due == datetime(2024, 3, 23, 1, 0, tzinfo=UTC)
    assert due.utcoffset() == timedelta(0)


@pytest.mark.parametrize("period", ["7D", "P", "PT", "P7", "P1.5D", "P-1D", "p7d", "P7DT"])
def test_malformed_periods_are_rejected(period: str) -> None:
    """Periods: anything that is not an ISO 8601 period raises ValueError naming it."""
    with pytest.raises(ValueError) as caught:
        deadline_after(_at("2024-03-16T09:00:00+08:00"), period)

    assert repr(period) in str(caught.value)


# -- working days ------------------------------------------------------------------------------


def test_the_official_calendar_knows_holidays_and_adjusted_workdays() -> None:
    """Working days: National Day is off, and the adjusted Sunday/Saturday around it are worked."""
    assert is_working_day(date(2024, 9, 29)) is True  # Sunday, adjusted workday
    assert is_working_day(date(2024, 10, 12)) is True  # Saturday, adjusted workday
    assert is_working_day(date(2024, 10, 1)) is False  # National Day
    assert is_working_day(date(2024, 10, 7)) is False  # last day of the holiday (a Monday)
    assert is_working_day(date(2024, 9, 28)) is False  # an ordinary Saturday
    assert is_working_day(date(2024, 9, 30)) is True  # an ordinary Monday


def test_five_working_days_across_national_day() -> None:
    """Working days: entered Fri 2024-09-27, P5D counts 9/29 (adjusted Sunday), 9/30, 10/8, 10/9,
    10/10, skipping the holiday, and falls at midnight after the fifth day."""
    entered = _at("2024-09-27T10:00:00+08:00")

    assert deadline_after(entered, "P5D", "working") == _at("2024-10-11T00:00:00+08:00")


def test_working_days_skip_an_ordinary_weekend() -> None:
    """Working days: entered on a Friday, one working day is the Monday; due Tuesday 00:00."""
    entered = _at("2024-03-01T16:00:00+08:00")

    assert deadline_after(entered, "P1D", "working") == _at("2024-03-05T00:00:00+08:00")


def test_the_entry_day_itself_does_not_count() -> None:
    """Working days: counting starts the day after entry, even when entry is early on a workday."""
    entered = _at("2024-03-04T00:01:00+08:00")  # a Monday

    assert deadline_after(entered, "P2D", "working") == _at("2024-03-07T00:00:00+08:00")


def test_a_working_week_is_five_working_days() -> None:
    """Working days: P1W means five working days."""
    entered = _at("2024-09-27T10:00:00+08:00")

    assert deadline_after(entered, "P1W", "working") == deadline_after(entered, "P5D", "working")


def test_working_days_count_in_the_procedure_zone_not_the_entry_offset() -> None:
    """Working days: days and midnight are the procedure zone's, whatever offset the entry
    time was written with. Fri 2024-03-01 16:00 -05:00 is Sat 2 March 05:00 in Shanghai:
    the first working day after it is Mon 4 March and the deadline Shanghai's midnight
    ending it (16:00 UTC). In New York's own zone the entry day is Friday, the first
    working day after it also Mon 4 March, due at New York's midnight. Results are UTC."""
    entered = datetime(2024, 3, 1, 16, 0, tzinfo=timezone(timedelta(hours=-5)))

    due = deadline_after(entered, "P1D", "working")
    there = deadline_after(entered, "P1D", "working", "America/New_York")

    assert due == datetime(2024, 3, 4, 16, 0, tzinfo=UTC)
    assert due.tzinfo is UTC
    assert there == datetime(2024, 3, 5, 5, 0, tzinfo=UTC)


def test_working_days_with_hours_are_rejected() -> None:
    """Working days: periods must be whole days; hours or months are an error."""
    with pytest.raises(ValueError) as caught:
        deadline_after(_at("2024-03-01T16:00:00+08:00"), "P1DT4H", "working")

    assert str(caught.value) == "'P1DT4H': working-day periods are whole days, e.g. P5D"


def test_a_year_not_covered_raises_calendar_unavailable_with_a_clear_message() -> None:
    """Working days: a year the calendar lacks raises CalendarUnavailable, saying what to do."""
    with pytest.raises(CalendarUnavailable) as caught:
        deadline_after(_at("2099-06-01T09:00:00+08:00"), "P5D", "working")

    assert str(caught.value) == (
        "the official holiday schedule for 2099 is not in chinese-calendar yet; "
        "upgrade it or use calendar days"
    )
    assert isinstance(caught.value, EngineError)
    assert isinstance(caught.value.__cause__, NotImplementedError)


# -- deadlines in the engine ---------------------------------------------------------------------

WORKING_SOURCE = TOY_SOURCE.replace(
    "    deadline:\n      after: P7D\n      event: expire",
    "    deadline:\n      after: P5D\n      days: working\n      event: expire",
)


def test_entering_a_state_with_a_working_day_deadline_schedules_it() -> None:
    """Engine: a state's working-day deadline is computed from the recorded entry time."""
    assert WORKING_SOURCE != TOY_SOURCE
    compiled = load_source(WORKING_SOURCE, "<toy-working>", toy().registry)
    engine, _ = new_engine()
    entered = datetime(2024, 9, 27, 10, 0, tzinfo=CST)
    engine.open_case(compiled, "t", TOY_DATA, actor=CLERK, at=entered)

    engine.fire("t", "post", actor=CLERK, at=entered)

    assert engine.case("t").deadline == {"at": "2024-10-10T16:00:00Z", "event": "expire"}


def test_a_state_entered_in_an_uncovered_year_fails_clearly_and_records_nothing() -> None:
    """Engine: when working days cannot be counted the attempt raises CalendarUnavailable and
    nothing is recorded (the case is not left with a wrong deadline)."""
    compiled = load_source(WORKING_SOURCE, "<toy-working>", toy().registry)
    engine, _ = new_engine()
    entered = datetime(2099, 6, 1, 10, 0, tzinfo=CST)
    engine.open_case(compiled, "t", TOY_DATA, actor=CLERK, at=entered)

    with pytest.raises(CalendarUnavailable) as caught:
        engine.fire("t", "post", actor=CLERK, at=entered)

    assert "2099" in str(caught.value)
    assert engine.case("t").seq == 1
    assert engine.case("t").state == "open"
