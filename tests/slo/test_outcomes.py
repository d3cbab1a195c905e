"""Success rate (retries, missed runs), duration overruns and volume judgements."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from app.slo.outcomes import (
    MedianFraction,
    MinRows,
    RunRecord,
    duration_outcome,
    median,
    row_count,
    success_outcomes,
    volume_is_good,
)
from app.slo.schedule import CronSchedule

HOURLY = CronSchedule("0 * * * *", "UTC")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def run(run_id, state, start, end=None, nominal=None) -> RunRecord:
    return RunRecord(run_id, state, start, end, nominal)


def test_retries_of_one_scheduled_run_count_once_by_final_state():
    nominal = utc(2024, 5, 1, 2)
    attempts = [
        run("a1", "FAIL", utc(2024, 5, 1, 2, 1), utc(2024, 5, 1, 2, 5), nominal),
        run("a2", "FAIL", utc(2024, 5, 1, 2, 10), utc(2024, 5, 1, 2, 15), nominal),
        run("a3", "COMPLETE", utc(2024, 5, 1, 2, 20), utc(2024, 5, 1, 2, 30), nominal),
    ]
    for order in (attempts, attempts[::-1], attempts + attempts):  # reordered, duplicated
        out = success_outcomes(order, utc(2024, 5, 1), utc(2024, 5, 2))
        assert [(o.good, o.at, o.run_id) for o in out] == [(True, utc(2024, 5, 1, 2, 30), "a3")]


def test_a_later_failure_after_success_is_the_final_state():
    nominal = utc(2024, 5, 1, 2)
    attempts = [run("a1", "COMPLETED", utc(2024, 5, 1, 2, 1), utc(2024, 5, 1, 2, 5), nominal),
                run("a2", "FAILED", utc(2024, 5, 1, 3, 0), utc(2024, 5, 1, 3, 5), nominal)]
    assert [o.good for o in success_outcomes(attempts, utc(2024, 5, 1), utc(2024, 5, 2))] == [False]


def test_missed_scheduled_run_counts_as_failed_once_grace_has_passed():
    runs = [run(f"r{h}", "COMPLETE", utc(2024, 5, 1, h, 2), utc(2024, 5, 1, h, 9),
                utc(2024, 5, 1, h)) for h in range(6) if h != 3]
    grace = timedelta(minutes=30)
    before_due = success_outcomes(runs, utc(2024, 5, 1), utc(2024, 5, 1, 3, 29),
                                  schedule=HOURLY, grace=grace)
    assert all(o.good for o in before_due)
    after = success_outcomes(runs, utc(2024, 5, 1), utc(2024, 5, 1, 6), schedule=HOURLY,
                             grace=grace)
    missing = [o for o in after if o.missing]
    assert [(o.key, o.at, o.good) for o in missing] == [
        ("tick:2024-05-01T03:00:00+00:00", utc(2024, 5, 1, 3, 30), False)
    ]
    assert sum(o.good for o in after) == 5


def test_runs_without_nominal_time_are_matched_to_ticks_by_start():
    runs = [run("x1", "FAIL", utc(2024, 5, 1, 1, 3), utc(2024, 5, 1, 1, 4)),
            run("x2", "COMPLETE", utc(2024, 5, 1, 1, 20), utc(2024, 5, 1, 1, 25)),  # retry
            run("manual", "COMPLETE", utc(2024, 5, 1, 1, 45), utc(2024, 5, 1, 1, 50))]
    out = success_outcomes(runs, utc(2024, 5, 1, 1), utc(2024, 5, 1, 2), schedule=HOURLY,
                           grace=timedelta(minutes=30))
    assert [(o.key, o.good, o.attempts) for o in out] == [
        ("tick:2024-05-01T01:00:00+00:00", True, 2),
        ("run:manual", True, 1),
    ]


def test_unfinished_runs_do_not_count_yet_and_are_not_missing():
    runs = [run("r1", "RUNNING", utc(2024, 5, 1, 1, 1), nominal=utc(2024, 5, 1, 1))]
    out = success_outcomes(runs, utc(2024, 5, 1, 1), utc(2024, 5, 1, 4), schedule=HOURLY,
                           grace=timedelta(minutes=30))
    assert [o.key for o in out] == ["tick:2024-05-01T02:00:00+00:00",
                                   "tick:2024-05-01T03:00:00+00:00"]


def test_success_outcomes_do_not_depend_on_input_order():
    rng = random.Random(7)
    runs = []
    for h in range(24):
        for attempt in range(rng.randint(0, 3)):
            state = rng.choice(["COMPLETE", "FAIL", "ABORT", "RUNNING"])
            start = utc(2024, 5, 1, h, 5 + attempt * 10)
            runs.append(run(f"{h}-{attempt}", state, start, start + timedelta(minutes=5),
                            utc(2024, 5, 1, h)))
    expected = success_outcomes(runs, utc(2024, 5, 1), utc(2024, 5, 2), schedule=HOURLY)
    for _ in range(5):
        shuffled = runs + rng.sample(runs, len(runs) // 2)
        rng.shuffle(shuffled)
        assert success_outcomes(shuffled, utc(2024, 5, 1), utc(2024, 5, 2),
                                schedule=HOURLY) == expected


def test_duration_overrun_is_bad_before_the_run_ends():
    threshold = timedelta(minutes=30)
    hanging = run("h", "RUNNING", utc(2024, 5, 1, 1))
    assert duration_outcome(hanging, threshold, utc(2024, 5, 1, 1, 29)) is None
    late = duration_outcome(hanging, threshold, utc(2024, 5, 1, 1, 31))
    assert (late.at, late.good) == (utc(2024, 5, 1, 1, 30), False)
    quick = duration_outcome(run("q", "FAIL", utc(2024, 5, 1, 1), utc(2024, 5, 1, 1, 30)),
                             threshold, utc(2024, 5, 1, 2))
    assert (quick.at, quick.good) == (utc(2024, 5, 1, 1, 30), True)
    slow = duration_outcome(run("s", "COMPLETE", utc(2024, 5, 1, 1), utc(2024, 5, 1, 2)),
                            threshold, utc(2024, 5, 1, 3))
    assert (slow.key, slow.at, slow.good) == ("run:s", utc(2024, 5, 1, 1, 30), False)


def test_volume_rules():
    assert volume_is_good(1000, MinRows(1000)) is True
    assert volume_is_good(999, MinRows(1000)) is False
    rule = MedianFraction(Fraction(1, 2), versions=3)
    assert volume_is_good(10, rule, []) is None
    # Median of the last three (90, 100, 120) is 100: 50 rows is exactly half.
    assert volume_is_good(50, rule, [1, 90, 120, 100]) is True
    assert volume_is_good(49, rule, [1, 90, 120, 100]) is False
    assert median([4, 1, 3, 2]) == Fraction(5, 2)


def test_row_count_prefers_output_statistics():
    assert row_count({"outputStatistics": {"rowCount": 12},
                      "dataQualityMetrics": {"rowCount": 99}}) == 12
    assert row_count({"dataQualityMetrics": {"rowCount": 99}}) == 99
    assert row_count({"outputStatistics": {"rowCount": True}}) is None
    assert row_count({}) is None
