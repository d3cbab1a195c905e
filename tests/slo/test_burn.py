"""Burn rates, budgets and conditions, including every worked case of slo-math.md."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest

from app.slo.burn import (
    SRE_WORKBOOK_CONDITIONS,
    BucketSeries,
    Condition,
    Counts,
    burn_rate,
    evaluate,
    factor_for_budget_share,
    required_windows,
    time_to_exhaustion,
)
from app.slo.windows import PERIOD, REPORT_WINDOWS

S = Fraction(999, 1000)
P = timedelta(days=30)
T = 40_000_000  # evaluation bucket (minutes since the epoch); any value works
MINUTES = {name: length // timedelta(minutes=1) for name, length in REPORT_WINDOWS.items()}
MINUTES[PERIOD] = P // timedelta(minutes=1)


def series(per_minute: int, errors: dict[int, int], span: int = MINUTES[PERIOD]) -> BucketSeries:
    """`per_minute` events in each of the `span` minutes before T; errors[m] bad
    events in minute T-1-m (m minutes ago)."""
    s = BucketSeries()
    for ago in range(span):
        bad = errors.get(ago, 0)
        s.add(T - 1 - ago, per_minute - bad, per_minute)
    return s


def counts_at(s: BucketSeries) -> dict[str, Counts]:
    return s.windows({name: (T - n, T) for name, n in MINUTES.items()})


def report_for(errors: dict[int, int], **kw):
    return evaluate(counts_at(series(1000, errors)), objective=S, period=P, **kw)


def rates(report) -> dict[str, Fraction | None]:
    return {name: w.burn_rate for name, w in report.windows.items()}


def holding(report) -> set[str]:
    return {r.condition.name for r in report.conditions if r.holds}


def test_fast_burn():
    report = report_for({m: 20 for m in range(60)})  # 2 % for the last hour
    r = rates(report)
    assert r["5m"] == r["30m"] == r["1h"] == 20
    assert r["2h"] == 10
    assert r["6h"] == Fraction(10, 3)
    assert r["1d"] == Fraction(5, 6)
    assert r["3d"] == Fraction(5, 18)
    assert report.budget.consumed == 1200
    assert report.budget.remaining == 1 - Fraction(1200, 43200)
    assert holding(report) == {"page:1h/5m"}
    assert report.severity == "page"
    assert report.state == "burning"


def test_slow_burn():
    report = report_for({m: 7 for m in range(360)})  # 0.7 % for the last 6 h
    r = rates(report)
    for name in ("5m", "30m", "1h", "2h", "6h"):
        assert r[name] == 7
    assert r["1d"] == Fraction(7, 4)
    assert r["3d"] == Fraction(7, 12)
    assert report.budget.remaining == 1 - Fraction(2520, 43200)
    assert holding(report) == {"page:6h/30m"}


def test_chronic_burn():
    report = report_for({m: 2 for m in range(3 * 1440)})  # 0.2 % for the last 3 d
    r = rates(report)
    for name in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
        assert r[name] == 2
    assert report.budget.remaining == Fraction(4, 5)
    assert holding(report) == {"ticket:3d/6h"}
    assert report.severity == "ticket"


def test_silence_is_no_data_not_zero_errors():
    report = evaluate({name: Counts() for name in MINUTES}, objective=S, period=P)
    assert all(w.burn_rate is None and w.error_ratio is None for w in report.windows.values())
    assert report.budget.remaining == 1
    assert report.budget.no_data
    assert report.state == "no_data"
    assert not holding(report)
    assert report.time_to_exhaustion is None


def test_exactly_at_the_factor_does_not_fire():
    exact = Counts(good=10_000 - 144, total=10_000)  # 1.44 % errors = 14.4 x the budget
    counts = {name: exact for name in MINUTES}
    report = evaluate(counts, objective=Fraction("99.9") / 100, period=P)
    assert report.windows["1h"].burn_rate == Fraction(72, 5)
    assert "page:1h/5m" not in holding(report)
    # The same test in floats fires, which is why the engine never uses them.
    assert (144 / 10_000) / ((100 - 99.9) / 100) > 14.4


def test_one_event_above_the_factor_fires():
    counts = {name: Counts(10_000 - 145, 10_000) for name in MINUTES}
    assert "page:1h/5m" in holding(evaluate(counts, objective=S, period=P))


def test_recovery_long_window_burning_short_recovered():
    # 2 % errors from 60 to 10 minutes ago, clean since: 1h still at 16.7x.
    report = report_for({m: 20 for m in range(10, 60)})
    assert report.windows["1h"].burn_rate == Fraction(50, 3)
    assert report.windows["5m"].burn_rate == 0
    assert not holding(report)
    row = next(r for r in report.conditions if r.condition.name == "page:1h/5m")
    assert row.long_burn > row.condition.factor and not row.holds


def test_empty_short_window_never_fires():
    s = BucketSeries()
    for ago in range(5, 60):  # heavy errors, but nothing at all in the last 5 minutes
        s.add(T - 1 - ago, 50, 100)
    report = evaluate(counts_at(s), objective=S, period=P)
    assert report.windows["5m"].burn_rate is None
    assert report.windows["1h"].burn_rate == 500
    row = next(r for r in report.conditions if r.condition.name == "page:1h/5m")
    assert not row.holds and row.reason == "no data in 5m"


def test_low_traffic_min_events_guard():
    s = BucketSeries()
    s.add(T - 50, 1, 1)
    s.add(T - 20, 1, 1)
    s.add(T - 2, 0, 1)  # one failure out of three runs in the hour
    counts = counts_at(s)
    guarded = evaluate(counts, objective=Fraction(99, 100), period=P, min_events=10)
    unguarded = evaluate(counts, objective=Fraction(99, 100), period=P, min_events=0)
    assert guarded.windows["1h"].burn_rate == Fraction(100, 3)
    assert "page:1h/5m" not in holding(guarded)
    assert next(r for r in guarded.conditions if r.condition.name == "page:1h/5m").reason == (
        "too few events in 1h (3)"
    )
    assert "page:1h/5m" in holding(unguarded)


def test_page_suppresses_ticket_of_the_same_slo():
    report = report_for({m: 20 for m in range(1440)})  # 2 % for a whole day
    assert holding(report) == {"page:1h/5m", "page:6h/30m", "ticket:1d/2h", "ticket:3d/6h"}
    assert {r.condition.name for r in report.active} == {"page:1h/5m", "page:6h/30m"}
    suppressed = {r.condition.name for r in report.conditions if r.suppressed}
    assert suppressed == {"ticket:1d/2h", "ticket:3d/6h"}


def test_overspent_budget_goes_negative():
    report = report_for({m: 20 for m in range(3 * 1440)})
    assert report.budget.remaining == 1 - Fraction(3 * 1440 * 20, 43200)
    assert report.budget.remaining < 0
    assert report.budget.left == Fraction(43200) - 3 * 1440 * 20
    assert report.state == "breaching"
    assert report.time_to_exhaustion == timedelta(0)


def test_time_to_exhaustion_scales_remaining_budget_by_burn():
    report = report_for({m: 20 for m in range(60)})
    # 35/36 of the budget left, burning at 5/6 over the last day: 35/36 * 30 d / (5/6).
    assert report.time_to_exhaustion == timedelta(days=35)
    assert time_to_exhaustion(Fraction(1), Fraction(1), P) == P
    assert time_to_exhaustion(Fraction(1), Fraction(0), P) is None


def test_budget_basis_counts_time_slices_of_the_whole_period():
    counts = {name: Counts(0, 0) for name in MINUTES}
    counts[PERIOD] = Counts(1000 - 30, 1000)  # 30 bad minutes, early in the period
    report = evaluate(counts, objective=S, period=P, budget_basis=43200)
    assert report.budget.total == Fraction(216, 5)  # 43.2 bad minutes allowed
    assert report.budget.remaining == 1 - Fraction(30) / Fraction(216, 5)


def test_factor_from_budget_share_reproduces_the_workbook_table():
    shares = [Fraction(2, 100), Fraction(5, 100), Fraction(10, 100), Fraction(10, 100)]
    for share, row in zip(shares, SRE_WORKBOOK_CONDITIONS, strict=True):
        assert factor_for_budget_share(share, P, row.long) == row.factor
    assert factor_for_budget_share(Fraction(2, 100), timedelta(days=7), timedelta(hours=1)) == (
        Fraction(336, 100)
    )


def test_burn_rate_definition():
    assert burn_rate(Counts(999, 1000), S) == 1
    assert burn_rate(Counts(0, 0), S) is None


def test_counts_must_be_consistent():
    with pytest.raises(ValueError):
        Counts(good=3, total=2)
    with pytest.raises(ValueError):
        Counts(good=-1, total=2)


def test_evaluate_rejects_missing_windows_and_bad_objectives():
    counts = {name: Counts() for name in MINUTES}
    del counts["5m"]
    with pytest.raises(ValueError, match="5m"):
        evaluate(counts, objective=S, period=P)
    with pytest.raises(ValueError):
        evaluate({PERIOD: Counts()}, objective=Fraction(1), period=P, conditions=())


def test_custom_condition_windows_are_required():
    cond = Condition("page", timedelta(hours=12), timedelta(hours=1), Fraction(2))
    assert required_windows([cond]) == {"12h": timedelta(hours=12), "1h": timedelta(hours=1)}
    with pytest.raises(ValueError):
        Condition("page", timedelta(hours=1), timedelta(hours=1), Fraction(2))
