"""Freshness: stale intervals, bad minutes, missed deadlines with no event at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from app.slo.burn import Counts
from app.slo.freshness import (
    Deadline,
    MaxAge,
    bad_slices,
    freshness_counts,
    stale_between,
    stale_intervals,
)
from app.slo.schedule import CronSchedule

BERLIN_WEEKDAYS_6AM = Deadline(CronSchedule("0 6 * * 1-5", "Europe/Berlin"))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def minutes(counts: Counts) -> tuple[int, int]:
    return counts.total - counts.good, counts.total


def test_max_age_gaps_become_stale_intervals():
    ups = [utc(2024, 5, 1, 0), utc(2024, 5, 1, 3)]
    rule = MaxAge(timedelta(hours=2))
    assert stale_intervals(ups, rule, utc(2024, 5, 1, 0), utc(2024, 5, 1, 6)) == [
        (utc(2024, 5, 1, 2), utc(2024, 5, 1, 3)),
        (utc(2024, 5, 1, 5), utc(2024, 5, 1, 6)),
    ]
    counts = freshness_counts(ups, rule, {"w": (utc(2024, 5, 1, 0), utc(2024, 5, 1, 6))})
    assert minutes(counts["w"]) == (120, 360)


def test_never_updated_is_stale_from_the_start():
    rule = MaxAge(timedelta(hours=1))
    assert stale_intervals([], rule, utc(2024, 5, 1), utc(2024, 5, 2)) == [
        (utc(2024, 5, 1), utc(2024, 5, 2))
    ]


def test_late_update_after_deadline_spoils_minutes_until_it_lands():
    # Tue 7 May 2024: usual update at 05:00 Berlin (03:00Z); Wed arrives at 09:30 Berlin.
    ups = [utc(2024, 5, 6, 3), utc(2024, 5, 7, 3), utc(2024, 5, 8, 7, 30), utc(2024, 5, 9, 3)]
    stale = stale_intervals(ups, BERLIN_WEEKDAYS_6AM, utc(2024, 5, 7), utc(2024, 5, 10))
    assert stale == [(utc(2024, 5, 8, 4), utc(2024, 5, 8, 7, 30))]  # 06:00-09:30 CEST
    counts = freshness_counts(ups, BERLIN_WEEKDAYS_6AM, {"w": (utc(2024, 5, 7), utc(2024, 5, 10))})
    assert minutes(counts["w"]) == (210, 3 * 1440)


def test_missed_scheduled_update_turns_minutes_bad_as_the_clock_runs():
    ups = [utc(2024, 5, 7, 3), utc(2024, 5, 8, 3)]  # Thursday's update never comes
    start = utc(2024, 5, 9)
    at_noon = freshness_counts(ups, BERLIN_WEEKDAYS_6AM, {"w": (start, utc(2024, 5, 9, 10))})
    an_hour_later = freshness_counts(ups, BERLIN_WEEKDAYS_6AM, {"w": (start, utc(2024, 5, 9, 11))})
    assert minutes(at_noon["w"])[0] == 6 * 60  # since 06:00 CEST = 04:00Z
    assert minutes(an_hour_later["w"])[0] == 7 * 60


def test_overdue_deadline_stays_stale_across_later_ticks_until_an_update():
    ups = [utc(2024, 5, 6, 3)]  # Monday, then nothing for days
    stale = stale_intervals(ups, BERLIN_WEEKDAYS_6AM, utc(2024, 5, 6, 3), utc(2024, 5, 9, 12))
    assert stale == [(utc(2024, 5, 7, 4), utc(2024, 5, 9, 12))]


def test_weekend_without_updates_is_fine_for_a_weekday_deadline():
    ups = [utc(2024, 5, 10, 3), utc(2024, 5, 13, 3)]  # Friday, then Monday 05:00 Berlin
    assert stale_intervals(ups, BERLIN_WEEKDAYS_6AM, utc(2024, 5, 10, 4), utc(2024, 5, 14)) == []


def test_deadline_follows_berlin_time_after_spring_forward():
    # Monday 1 April 2024: 06:00 CEST is 04:00Z. An update at 04:30Z is 30 minutes late;
    # a deadline taken in UTC or in winter time (05:00Z) would see nothing wrong.
    ups = [utc(2024, 3, 29, 4), utc(2024, 4, 1, 4, 30)]
    stale = stale_intervals(ups, BERLIN_WEEKDAYS_6AM, utc(2024, 3, 30), utc(2024, 4, 2))
    assert stale == [(utc(2024, 4, 1, 4), utc(2024, 4, 1, 4, 30))]


def test_explicit_lookback_rejects_an_update_that_came_too_early():
    rule = Deadline(CronSchedule("0 6 * * *", "UTC"), lookback=timedelta(hours=2))
    ups = [utc(2024, 4, 30, 5), utc(2024, 5, 1, 5), utc(2024, 5, 2, 1)]  # last: 5 h early
    assert stale_intervals(ups, rule, utc(2024, 5, 1), utc(2024, 5, 2, 12)) == [
        (utc(2024, 5, 2, 6), utc(2024, 5, 2, 12))
    ]


def test_slice_target_allows_brief_staleness_within_a_minute():
    ups = [utc(2024, 5, 1, 0), utc(2024, 5, 1, 1, 0, 30)]
    rule = MaxAge(timedelta(hours=1))  # stale 01:00:00-01:00:30
    window = {"w": (utc(2024, 5, 1, 0, 30), utc(2024, 5, 1, 1, 30))}
    assert minutes(freshness_counts(ups, rule, window)["w"]) == (1, 60)
    assert minutes(freshness_counts(ups, rule, window, slice_target=Fraction(1, 2))["w"]) == (0, 60)
    five = freshness_counts(ups, rule, window, slice_size=timedelta(minutes=5))
    assert minutes(five["w"]) == (1, 12)


def test_minutes_before_the_slo_existed_are_not_counted():
    rule = MaxAge(timedelta(hours=1))
    window = {"w": (utc(2024, 5, 1), utc(2024, 5, 2))}
    counts = freshness_counts([], rule, window, active_from=utc(2024, 5, 1, 23, 0, 30))
    assert minutes(counts["w"]) == (59, 59)


def test_stale_between_sums_overlaps():
    stale = [(utc(2024, 5, 1, 1), utc(2024, 5, 1, 2)), (utc(2024, 5, 1, 3), utc(2024, 5, 1, 5))]
    assert stale_between(stale, utc(2024, 5, 1, 1, 30), utc(2024, 5, 1, 4)) == timedelta(minutes=90)


def test_without_history_the_last_deadline_before_the_window_counts_as_missed():
    # Nothing known before the window: the 06:00 tick of the day before was missed.
    stale = stale_intervals([utc(2024, 5, 8, 3)], BERLIN_WEEKDAYS_6AM, utc(2024, 5, 8),
                            utc(2024, 5, 8, 12))
    assert stale == [(utc(2024, 5, 8), utc(2024, 5, 8, 3))]


# --- brute force: state second by second -------------------------------------------------

BASE = utc(2024, 5, 1)
BASE_MINUTE = (BASE - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(minutes=1)
SPAN = 3 * 3600  # seconds


def _stale_seconds(ups: list[int], rule) -> set[int]:
    """Seconds (from BASE) at which the data was stale, straight from the definitions.
    Updates and ticks fall on whole seconds, so the state is constant within each."""
    missed: list[int] = []
    if isinstance(rule, Deadline):
        ticks = [int((t - BASE).total_seconds()) for t in
                 rule.schedule.ticks(BASE - timedelta(days=2), BASE + timedelta(seconds=SPAN))]
        for i in range(1, len(ticks)):
            lower = ticks[i - 1] if rule.lookback is None else ticks[i] - rule.lookback.seconds
            if not any(lower < u <= ticks[i] for u in ups):
                missed.append(ticks[i])
    stale = set()
    for s in range(SPAN):
        last_update = max((u for u in ups if u <= s), default=None)
        if isinstance(rule, MaxAge):
            if last_update is None or s - last_update >= rule.max_age.seconds:
                stale.add(s)
        # Stale when some missed deadline d <= s has seen no update in (d, s]; the latest
        # such d decides, since an update after it is after every earlier one too.
        elif any(d <= s for d in missed):
            d = max(d for d in missed if d <= s)
            if last_update is None or last_update <= d:
                stale.add(s)
    return stale


@settings(max_examples=60, deadline=None)
@given(
    ups=st.lists(st.integers(min_value=-7200, max_value=SPAN), max_size=10),
    max_age=st.integers(min_value=60, max_value=7200),
    cron=st.sampled_from(["0 * * * *", "*/20 * * * *", "30 1,3 * * *"]),
    lookback=st.one_of(st.none(), st.integers(min_value=60, max_value=2400)),
    use_deadline=st.booleans(),
)
def test_stale_minutes_match_a_second_by_second_recount(ups, max_age, cron, lookback, use_deadline):
    if use_deadline:
        lookback = None if lookback is None else timedelta(seconds=lookback)
        rule = Deadline(CronSchedule(cron), lookback)
    else:
        rule = MaxAge(timedelta(seconds=max_age))
    times = [BASE + timedelta(seconds=u) for u in ups]
    end = BASE + timedelta(seconds=SPAN)
    stale = _stale_seconds(sorted(set(ups)), rule)
    intervals = stale_intervals(times, rule, BASE, end)
    assert sum((b - a).total_seconds() for a, b in intervals) == len(stale)
    assert all(a < b < c for (a, b), (c, _) in pairwise(intervals))  # sorted, merged
    bad = len({s // 60 for s in stale})
    counts = freshness_counts(times, rule, {"w": (BASE, end)})["w"]
    assert (counts.total, counts.total - counts.good) == (SPAN // 60, bad)
    assert bad_slices(intervals, BASE_MINUTE, BASE_MINUTE + SPAN // 60, timedelta(minutes=1),
                      Fraction(1)) == bad
