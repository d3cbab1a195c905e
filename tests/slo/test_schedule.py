"""Cron ticks on an IANA wall clock, through both DST changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.slo.schedule import CronSchedule


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_weekday_deadline_keeps_local_time_across_spring_forward():
    s = CronSchedule("0 6 * * 1-5", "Europe/Berlin")
    ticks = s.ticks(utc(2024, 3, 28), utc(2024, 4, 2))
    # Thu and Fri at 06:00 CET, then Mon at 06:00 CEST; no weekend ticks.
    assert ticks == [utc(2024, 3, 28, 5), utc(2024, 3, 29, 5), utc(2024, 4, 1, 4)]


def test_tick_in_the_skipped_hour_falls_due_after_the_gap():
    s = CronSchedule("30 2 * * *", "Europe/Berlin")
    assert s.ticks(utc(2024, 3, 30), utc(2024, 4, 1, 12)) == [
        utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1, 30), utc(2024, 4, 1, 0, 30)
    ]


def test_tick_in_the_repeated_hour_fires_once():
    s = CronSchedule("30 2 * * *", "Europe/Berlin")
    assert s.ticks(utc(2024, 10, 26), utc(2024, 10, 28, 12)) == [
        utc(2024, 10, 26, 0, 30), utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)
    ]


def test_sub_hourly_ticks_stay_sorted_and_unique_through_the_gap():
    s = CronSchedule("*/30 * * * *", "Europe/Berlin")
    ticks = s.ticks(utc(2024, 3, 30, 23), utc(2024, 3, 31, 3))
    assert ticks == sorted(set(ticks))
    assert ticks[:6] == [utc(2024, 3, 30, 23), utc(2024, 3, 30, 23, 30), utc(2024, 3, 31, 0),
                         utc(2024, 3, 31, 0, 30), utc(2024, 3, 31, 1), utc(2024, 3, 31, 1, 30)]


def test_range_is_half_open():
    s = CronSchedule("0 * * * *")
    ticks = s.ticks(utc(2024, 1, 1, 1), utc(2024, 1, 1, 3))
    assert ticks == [utc(2024, 1, 1, 1), utc(2024, 1, 1, 2)]


def test_previous_and_next():
    s = CronSchedule("0 6 * * 1-5", "Europe/Berlin")
    assert s.previous(utc(2024, 3, 30, 12)) == utc(2024, 3, 29, 5)
    assert s.previous(utc(2024, 3, 29, 5)) == utc(2024, 3, 29, 5)
    assert s.next_after(utc(2024, 3, 29, 5)) == utc(2024, 4, 1, 4)
    yearly = CronSchedule("0 0 29 2 *")
    assert yearly.previous(utc(2027, 1, 1)) == utc(2024, 2, 29)


@pytest.mark.parametrize(("expr", "tz"), [("61 * * * *", "UTC"), ("0 6 * *", "UTC"),
                                          ("0 6 * * *", "Mars/Olympus")])
def test_invalid_schedules(expr, tz):
    with pytest.raises(ValueError):
        CronSchedule(expr, tz)
