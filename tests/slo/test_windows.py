"""Durations, rolling and calendar windows, including months across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.slo.windows import (
    PERIOD,
    CalendarWindow,
    RollingWindow,
    evaluation_ranges,
    format_duration,
    parse_duration,
)

BERLIN_MONTH = CalendarWindow("M", 1, "Europe/Berlin", datetime(2024, 1, 1))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5m", timedelta(minutes=5)), ("1h30m", timedelta(minutes=90)), ("30d", timedelta(days=30)),
     ("2w", timedelta(days=14)), ("45s", timedelta(seconds=45))],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "1M", "1y", "h", "1.5h", "-5m", 5])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration_uses_the_largest_exact_unit():
    assert format_duration(timedelta(days=3)) == "3d"
    assert format_duration(timedelta(minutes=90)) == "90m"
    assert format_duration(timedelta(hours=48)) == "2d"
    assert format_duration(timedelta(seconds=61)) == "61s"
    with pytest.raises(ValueError):
        format_duration(timedelta(milliseconds=1500))


def test_march_in_berlin_is_an_hour_short():
    start, end = BERLIN_MONTH.period(utc(2024, 3, 15, 12))
    assert start == utc(2024, 2, 29, 23)  # 1 March 00:00 CET
    assert end == utc(2024, 3, 31, 22)  # 1 April 00:00 CEST
    assert end - start == timedelta(hours=31 * 24 - 1)


def test_october_in_berlin_is_an_hour_long():
    start, end = BERLIN_MONTH.period(utc(2024, 10, 27, 1, 30))  # inside the repeated hour
    assert start == utc(2024, 9, 30, 22)
    assert end == utc(2024, 10, 31, 23)
    assert end - start == timedelta(hours=31 * 24 + 1)


@pytest.mark.parametrize(
    ("at", "month_start"),
    [
        (utc(2024, 2, 29, 22, 59, 59), utc(2024, 1, 31, 23)),
        (utc(2024, 2, 29, 23), utc(2024, 2, 29, 23)),
        (utc(2024, 3, 31, 21, 59, 59), utc(2024, 2, 29, 23)),
        (utc(2024, 3, 31, 22), utc(2024, 3, 31, 22)),
        (utc(2024, 10, 31, 22, 59), utc(2024, 9, 30, 22)),
        (utc(2024, 10, 31, 23), utc(2024, 10, 31, 23)),
    ],
)
def test_month_boundaries_are_local_midnight(at, month_start):
    assert BERLIN_MONTH.period(at)[0] == month_start


def test_berlin_day_and_week_across_spring_forward():
    day = CalendarWindow("d", 1, "Europe/Berlin", datetime(2024, 1, 1))
    start, end = day.period(utc(2024, 3, 31, 12))
    assert (start, end - start) == (utc(2024, 3, 30, 23), timedelta(hours=23))
    week = CalendarWindow("w", 1, "Europe/Berlin", datetime(2024, 1, 1))  # Mondays
    start, end = week.period(utc(2024, 3, 27))
    assert start == utc(2024, 3, 24, 23)  # Monday 25 March, 00:00 CET
    assert end - start == timedelta(hours=7 * 24 - 1)


def test_month_anchor_day_is_clamped_and_quarters_count_from_anchor():
    end_of_month = CalendarWindow("M", 1, "UTC", datetime(2024, 1, 31))
    assert end_of_month.period(utc(2024, 3, 1)) == (utc(2024, 2, 29), utc(2024, 3, 31))
    quarter = CalendarWindow("Q", 1, "America/New_York", datetime(2024, 1, 1))
    start, end = quarter.period(utc(2024, 5, 5))
    assert start == datetime(2024, 4, 1, tzinfo=timezone(timedelta(hours=-4)))
    assert end == datetime(2024, 7, 1, tzinfo=timezone(timedelta(hours=-4)))


def test_evaluation_ranges_floor_to_the_minute_and_cut_the_calendar_period():
    ranges = evaluation_ranges(utc(2024, 3, 15, 12, 0, 30), BERLIN_MONTH)
    assert ranges["5m"] == (utc(2024, 3, 15, 11, 55), utc(2024, 3, 15, 12))
    assert ranges["3d"] == (utc(2024, 3, 12, 12), utc(2024, 3, 15, 12))
    assert ranges[PERIOD] == (utc(2024, 2, 29, 23), utc(2024, 3, 15, 12))
    rolling = evaluation_ranges(utc(2024, 3, 15, 12), RollingWindow(timedelta(days=30)), {})
    assert rolling == {PERIOD: (utc(2024, 2, 14, 12), utc(2024, 3, 15, 12))}
    current = evaluation_ranges(utc(2024, 3, 15, 12, 0, 30), BERLIN_MONTH, current=True)
    assert current["5m"] == (utc(2024, 3, 15, 11, 56), utc(2024, 3, 15, 12, 1))
    assert current[PERIOD] == (utc(2024, 2, 29, 23), utc(2024, 3, 15, 12, 1))


def test_windows_reject_naive_times_and_unknown_zones():
    with pytest.raises(ValueError, match="naive"):
        BERLIN_MONTH.period(datetime(2024, 3, 1))
    with pytest.raises(ValueError, match="time zone"):
        CalendarWindow("M", 1, "Europe/Nowhere", datetime(2024, 1, 1))
    with pytest.raises(ValueError):
        RollingWindow(timedelta(0))
