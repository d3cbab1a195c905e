"""From definition to verdict: planning windows, feeding ledgers, assessing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.slo.burn import BucketSeries
from app.slo.definitions import SLODefinition
from app.slo.engine import (
    assess,
    budget_basis,
    clock,
    freshness_window_counts,
    new_ledger,
    plan,
)
from app.slo.ledger import KeyedLedger, TimesliceLedger, to_bucket
from app.slo.outcomes import RunRecord, success_outcomes
from app.slo.windows import PERIOD


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


FRESH = SLODefinition.model_validate({
    "name": "orders-fresh",
    "sli": {"kind": "freshness",
            "deadline": {"cron": "0 6 * * 1-5", "timezone": "Europe/Berlin"}},
    "target": {"dataset": {"namespace": "pg", "name": "orders"}},
    "objective": 0.995,
    "window": {"calendar": "month", "timezone": "Europe/Berlin"},
})

JOB = SLODefinition.model_validate({
    "name": "orders-job",
    "sli": {"kind": "success_rate",
            "schedule": {"cron": "*/10 * * * *", "timezone": "Europe/Berlin", "grace": "5m"}},
    "target": {"job": {"namespace": "airflow", "name": "orders"}},
    "objective": 0.9,
    "window": {"calendar": "month", "timezone": "Europe/Berlin"},
})


def test_missed_deadline_pages_without_any_event():
    # Wed 20 March 2024: updates daily at 05:00 CET until Tuesday, nothing since.
    updates = [utc(2024, 2, 29, 4)] + [utc(2024, 3, d, 4) for d in range(1, 20)]
    at = utc(2024, 3, 20, 11, 0, 40)  # 12:00 in Berlin: six hours past the deadline
    counts = freshness_window_counts(FRESH, updates, at, active_from=utc(2024, 3, 1))
    assert counts["1h"].good == 0 and counts["1h"].total == 60
    assert counts[PERIOD].total - counts[PERIOD].good == 360
    report = assess(FRESH, counts, at)
    assert report.windows["5m"].burn_rate == 200
    assert report.severity == "page"
    # March in Berlin has 743 h: 44 580 minutes, of which 0.5 % (222.9) may be stale.
    assert budget_basis(FRESH, at) == 44_580
    assert report.budget.total == Fraction(2229, 10)
    assert report.budget.remaining == 1 - Fraction(360) / Fraction(2229, 10)
    assert report.state == "breaching"


def test_fresh_dataset_is_ok():
    updates = [utc(2024, 2, 29, 4)] + [utc(2024, 3, d, 4) for d in range(1, 21)]
    at = utc(2024, 3, 20, 11)
    report = assess(FRESH, freshness_window_counts(FRESH, updates, at, utc(2024, 3, 1)), at)
    assert report.state == "ok" and report.budget.remaining == 1


def test_plan_covers_report_and_condition_windows():
    custom = SLODefinition.model_validate({
        **FRESH.model_dump(mode="json", exclude={"alerts"}),
        "alerts": [{"severity": "page", "long": "12h", "short": "1h", "factor": 2}],
    })
    ranges = plan(custom, utc(2024, 3, 20, 11, 0, 40))
    assert set(ranges) == {"5m", "30m", "1h", "2h", "6h", "12h", "1d", "3d", PERIOD}
    assert ranges["12h"] == (utc(2024, 3, 19, 23), utc(2024, 3, 20, 11))
    assert ranges[PERIOD] == (utc(2024, 2, 29, 23), utc(2024, 3, 20, 11))
    with pytest.raises(TypeError):
        freshness_window_counts(JOB, [], utc(2024, 3, 20))


def test_occurrence_windows_end_with_the_current_minute_and_time_slices_do_not():
    at = utc(2024, 3, 20, 11, 0, 40)
    assert clock(JOB, at) == to_bucket(at) + 1 and clock(FRESH, at) == to_bucket(at)
    ranges = plan(JOB, at)
    # Five one-minute buckets, the last being 11:00 (still filling): no minute twice.
    assert ranges["5m"] == (utc(2024, 3, 20, 10, 56), utc(2024, 3, 20, 11, 1))
    assert ranges["1h"] == (utc(2024, 3, 20, 10, 1), utc(2024, 3, 20, 11, 1))
    assert ranges[PERIOD] == (utc(2024, 2, 29, 23), utc(2024, 3, 20, 11, 1))
    assert plan(FRESH, at)["5m"] == (utc(2024, 3, 20, 10, 55), utc(2024, 3, 20, 11))
    # The last minute of Berlin's October still belongs to October's period.
    last = utc(2024, 10, 31, 22, 59, 30)
    assert plan(JOB, last)[PERIOD] == (utc(2024, 9, 30, 22), utc(2024, 10, 31, 23))
    ledger = new_ledger(JOB, last)
    ledger.record("fail", to_bucket(last), False)
    assert ledger.counts()[PERIOD].total == ledger.counts()["5m"].total == 1
    ledger.advance(clock(JOB, last + timedelta(seconds=20)))  # later in the same minute
    assert ledger.counts()[PERIOD].total == 1
    ledger.advance(clock(JOB, last + timedelta(seconds=40)))  # November has begun
    assert ledger.counts()[PERIOD].total == 0 and ledger.counts()["5m"].total == 1


def _runs(day_start: datetime, hours: int, failing: set[int], missing: set[int]) -> list[RunRecord]:
    runs = []
    for i in range(hours * 6):
        tick = day_start + timedelta(minutes=10 * i)
        if i in missing:
            continue
        state = "FAIL" if i in failing else "COMPLETE"
        runs.append(RunRecord(f"r{i}", state, tick + timedelta(minutes=1),
                              tick + timedelta(minutes=3), tick))
        if i in failing and i % 2:  # some failures get retried into success later
            runs.append(RunRecord(f"r{i}b", "COMPLETE", tick + timedelta(minutes=4),
                                  tick + timedelta(minutes=6), tick))
    return runs


def _recount(slo: SLODefinition, outcomes, at: datetime):
    series = BucketSeries()
    for o in outcomes:
        series.add(to_bucket(o.at), int(o.good), 1)
    return series.windows({name: (to_bucket(a), to_bucket(b)) for name, (a, b) in
                           plan(slo, at).items()})


def test_incremental_ledger_agrees_with_recount_across_the_october_month_change():
    # Berlin's October ends at 23:00Z on 31 Oct (CET); runs every 10 minutes around it.
    start = utc(2024, 10, 31, 18)
    runs = _runs(start, 10, failing={3, 7, 8, 9, 30, 31, 32}, missing={12, 40, 41})
    ledger = new_ledger(JOB, start)
    assert isinstance(ledger, KeyedLedger)
    checked_new_month = False
    for minute in sorted({*range(0, 10 * 60, 7), 300}):  # 300: 23:00Z, the month change
        now = start + timedelta(minutes=minute)
        outcomes = success_outcomes([r for r in runs if r.started_at < now], start, now,
                                    schedule=JOB.sli.schedule.schedule(),
                                    grace=JOB.sli.schedule.grace)
        for o in outcomes:  # re-sending everything is harmless: keys replace themselves
            ledger.record(o.key, to_bucket(o.at), o.good)
        ledger.advance(clock(JOB, now))
        assert ledger.counts() == _recount(JOB, outcomes, now), now
        report = assess(JOB, ledger.counts(), now)
        if now == utc(2024, 10, 31, 23):
            assert report.budget.no_data  # a new month in Berlin, nothing in it yet
            assert report.windows["1h"].counts.total > 0  # while the 1h window spans both
            checked_new_month = True
    assert checked_new_month
    november = ledger.counts()[PERIOD]
    assert november.total == len([o for o in outcomes if o.at >= utc(2024, 10, 31, 23)])


def test_timeslice_budgeting_for_an_event_sli_uses_a_slice_ledger():
    slo = SLODefinition.model_validate({
        **JOB.model_dump(mode="json"), "budgeting": "timeslices",
        "time_slice": {"window": "10m", "target": 1}, "min_events": 0,
    })
    at = utc(2024, 5, 1, 12)
    ledger = new_ledger(slo, at)
    assert isinstance(ledger, TimesliceLedger)
    ledger.record("a", to_bucket(utc(2024, 5, 1, 12, 1)), True)
    ledger.record("b", to_bucket(utc(2024, 5, 1, 12, 2)), False)
    ledger.record("c", to_bucket(utc(2024, 5, 1, 12, 12)), True)
    ledger.advance(to_bucket(utc(2024, 5, 1, 12, 30)))
    counts = ledger.counts()
    assert (counts["30m"].good, counts["30m"].total) == (1, 2)  # two slices, one spoiled
    ledger.record("b", to_bucket(utc(2024, 5, 1, 12, 2)), True)  # the retry succeeded
    assert (ledger.counts()["30m"].good, ledger.counts()["30m"].total) == (2, 2)
    assert budget_basis(slo, at) == 31 * 24 * 6  # May 2024: 31 days of 10-minute slices


# A stream of steps: move the clock forward (minutes, up to a few days), then record a
# keyed outcome at an offset from now (late by up to 4 days, or slightly early).
steps = st.lists(
    st.tuples(st.integers(min_value=0, max_value=5000), st.integers(min_value=0, max_value=15),
              st.integers(min_value=-6000, max_value=3), st.booleans()),
    min_size=1, max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(steps=steps, start_minute=st.integers(min_value=0, max_value=60 * 24 * 20))
def test_incremental_assessment_equals_brute_force_over_random_streams(steps, start_minute):
    # Mid-February to April in Berlin: a month change and the spring DST change.
    now = utc(2024, 2, 15) + timedelta(minutes=start_minute)
    ledger = new_ledger(JOB, now)
    latest: dict[int, tuple[datetime, bool]] = {}
    for advance, key, offset, good in steps:
        now += timedelta(minutes=advance)
        ledger.advance(clock(JOB, now))
        at = now + timedelta(minutes=offset)
        ledger.record(key, to_bucket(at), good)
        latest[key] = (at, good)
        series = BucketSeries()
        for when, ok in latest.values():
            series.add(to_bucket(when), int(ok), 1)
        ranges = {name: (to_bucket(a), to_bucket(b)) for name, (a, b) in plan(JOB, now).items()}
        recount = series.windows(ranges)
        assert ledger.counts() == recount
        assert assess(JOB, ledger.counts(), now) == assess(JOB, recount, now)
