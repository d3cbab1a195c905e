"""Error budgets, burn rates and multi-window, multi-burn-rate conditions.

Everything is computed on integer counts and `fractions.Fraction`: a threshold test
such as "burn rate > 14.4" must not fire at exactly 14.4, and float64 gets that
wrong (1 - 0.999 is not 0.001). A window without events has no ratio at all (None),
never a ratio of zero: silence is not success.

The evaluator only sees per-window good/total counts, so any source can feed it: the
incremental ledger, the freshness time slices, an SQL aggregate, or the brute-force
reference in this module that the tests compare them with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction
from functools import lru_cache
from typing import Literal

from app.slo.windows import PERIOD, format_duration

Severity = Literal["page", "ticket"]
State = Literal["no_data", "breaching", "burning", "ok"]


@dataclass(frozen=True)
class Counts:
    """Good and total events (or time slices) in one window."""

    good: int = 0
    total: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.good <= self.total:
            raise ValueError(f"need 0 <= good <= total, got good={self.good} total={self.total}")

    @property
    def bad(self) -> int:
        return self.total - self.good

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.good + other.good, self.total + other.total)


@dataclass(frozen=True)
class Condition:
    """One alert row: fires when both windows burn strictly faster than `factor`."""

    severity: Severity
    long: timedelta
    short: timedelta
    factor: Fraction

    def __post_init__(self) -> None:
        if self.short >= self.long:
            raise ValueError("the short window must be shorter than the long one")
        if self.factor <= 0:
            raise ValueError("a burn-rate factor must be positive")

    @property
    def name(self) -> str:
        return f"{self.severity}:{format_duration(self.long)}/{format_duration(self.short)}"


# Google SRE Workbook, "Alerting on SLOs", table 5-8 (30-day period).
SRE_WORKBOOK_CONDITIONS: tuple[Condition, ...] = (
    Condition("page", timedelta(hours=1), timedelta(minutes=5), Fraction(72, 5)),
    Condition("page", timedelta(hours=6), timedelta(minutes=30), Fraction(6)),
    Condition("ticket", timedelta(days=1), timedelta(hours=2), Fraction(3)),
    Condition("ticket", timedelta(days=3), timedelta(hours=6), Fraction(1)),
)


def factor_for_budget_share(share: Fraction, period: timedelta, long: timedelta) -> Fraction:
    """The burn rate that spends `share` of the budget within `long`: x * P / L."""
    return Fraction(share) * Fraction(period // timedelta(seconds=1), long // timedelta(seconds=1))


def error_ratio(counts: Counts) -> Fraction | None:
    return None if counts.total == 0 else Fraction(counts.bad, counts.total)


def burn_rate(counts: Counts, objective: Fraction) -> Fraction | None:
    """e / (1 - s); None when the window holds no events."""
    ratio = error_ratio(counts)
    return None if ratio is None else ratio / (1 - objective)


def time_to_exhaustion(
    remaining: Fraction, rate: Fraction | None, period: timedelta
) -> timedelta | None:
    """How long the remaining budget lasts at `rate` (b = 1 empties a full budget in P).

    None means "not being spent" (no data, or no errors); zero means already spent.
    """
    if remaining <= 0:
        return timedelta(0)
    if rate is None or rate == 0:
        return None
    micros = remaining * (period // timedelta(microseconds=1)) / rate
    return timedelta(microseconds=int(micros))


@dataclass(frozen=True)
class WindowStat:
    name: str
    counts: Counts
    error_ratio: Fraction | None
    burn_rate: Fraction | None
    # Enough events for a burn-rate condition to trust this window as its long window.
    sufficient: bool
    time_to_exhaustion: timedelta | None


@dataclass(frozen=True)
class Budget:
    """The error budget of the current period.

    `total` is (1 - s) x basis in bad events (or slices), where the basis is the events
    seen in the period (Occurrences) or every time slice of the whole period
    (Timeslices). `remaining` is the share of it left and goes negative when overspent.
    """

    total: Fraction
    consumed: int
    remaining: Fraction
    no_data: bool

    @property
    def consumed_ratio(self) -> Fraction:
        return 1 - self.remaining

    @property
    def left(self) -> Fraction:
        """Bad events (or slices) still affordable; negative when overspent."""
        return self.total - self.consumed


@dataclass(frozen=True)
class ConditionResult:
    condition: Condition
    long_burn: Fraction | None
    short_burn: Fraction | None
    # Both windows above the factor, with enough events in the long window.
    holds: bool
    # Holds, but a page of the same SLO holds too, so this ticket is redundant.
    suppressed: bool
    reason: str


@dataclass(frozen=True)
class BurnReport:
    windows: dict[str, WindowStat]
    budget: Budget
    conditions: tuple[ConditionResult, ...]
    time_to_exhaustion: timedelta | None
    objective: Fraction

    @property
    def active(self) -> tuple[ConditionResult, ...]:
        return tuple(r for r in self.conditions if r.holds and not r.suppressed)

    @property
    def severity(self) -> Severity | None:
        severities = {r.condition.severity for r in self.active}
        return "page" if "page" in severities else ("ticket" if severities else None)

    @property
    def state(self) -> State:
        """One word for listings: breaching (budget overspent), burning (a condition
        holds), ok, or no_data (nothing measured in the period)."""
        if self.budget.no_data:
            return "no_data"
        if self.budget.remaining < 0:
            return "breaching"
        return "burning" if self.active else "ok"


def required_windows(conditions: Iterable[Condition]) -> dict[str, timedelta]:
    """Window names and lengths the conditions need, so feeders can count them."""
    out: dict[str, timedelta] = {}
    for c in conditions:
        out[format_duration(c.long)] = c.long
        out[format_duration(c.short)] = c.short
    return out


@lru_cache(maxsize=65536)
def _ratios(bad: int, total: int, spare_num: int, spare_den: int) -> tuple[Fraction, Fraction]:
    """Error ratio and burn rate of a window: the same few counts recur in every pass."""
    return Fraction(bad, total), Fraction(bad * spare_den, total * spare_num)


@lru_cache(maxsize=256)
def _name(length: timedelta) -> str:
    return format_duration(length)


def _judge(condition: Condition, long: WindowStat, short: WindowStat) -> tuple[bool, str]:
    if long.burn_rate is None or short.burn_rate is None:
        empty = long.name if long.burn_rate is None else short.name
        return False, f"no data in {empty}"
    if not long.sufficient:
        return False, f"too few events in {long.name} ({long.counts.total})"
    # Fraction's own comparison, a/b > c/d as a*d > c*b, without its dispatch.
    f_num, f_den = condition.factor.numerator, condition.factor.denominator
    lr, sr = long.burn_rate, short.burn_rate
    if lr.numerator * f_den > f_num * lr.denominator and sr.numerator * f_den > f_num * sr.denominator:
        return True, "both windows above the factor"
    return False, "not both windows above the factor"


def evaluate(
    counts: Mapping[str, Counts],
    *,
    objective: Fraction,
    period: timedelta,
    conditions: Iterable[Condition] = SRE_WORKBOOK_CONDITIONS,
    min_events: int = 0,
    budget_basis: int | None = None,
    exhaustion_window: str = "1d",
) -> BurnReport:
    """Judge one SLO from its window counts (keys: window names plus "period").

    `period` is the nominal length of the SLO period (time to exhaustion scales with
    it). `budget_basis` replaces the period's event count as the budget base when the
    whole denominator is known in advance, as for time slices. `min_events` guards the
    long window of every condition: a low-volume pipeline with three runs in an hour
    cannot page on one failure.
    """
    if type(objective) is not Fraction:
        objective = Fraction(objective)
    # A Fraction is normalised (denominator > 0, lowest terms), so signs and the spare
    # share 1 - s = (q - p) / q are read off its integers, exactly.
    obj_num, obj_den = objective.numerator, objective.denominator
    if not 0 < obj_num < obj_den:
        raise ValueError("the objective must lie strictly between 0 and 1")
    conditions = tuple(conditions)
    if PERIOD not in counts:
        raise ValueError('counts must include the "period" window')
    names = [(_name(c.long), _name(c.short)) for c in conditions]
    for long_name, short_name in names:
        if long_name not in counts or short_name not in counts:
            missing = {n for pair in names for n in pair} - set(counts)
            raise ValueError(f"counts lack windows needed by the conditions: {sorted(missing)}")

    # The same arithmetic as error_ratio, burn_rate, time_to_exhaustion and the budget
    # (allowed = (1 - s) x basis, remaining = 1 - bad / allowed), each fraction built once
    # from integers: a pass judges hundreds of SLOs.
    spare_num, spare_den = obj_den - obj_num, obj_den
    period_counts = counts[PERIOD]
    basis = period_counts.total if budget_basis is None else budget_basis
    allowed = Fraction(spare_num * basis, spare_den)
    if basis == 0:
        remaining = Fraction(1)
    else:
        scaled = spare_num * basis
        remaining = Fraction(scaled - period_counts.bad * spare_den, scaled)
    budget = Budget(allowed, period_counts.bad, remaining, no_data=period_counts.total == 0)

    period_us = period // timedelta(microseconds=1)
    guard = max(min_events, 1)
    rem_num, rem_den = remaining.numerator, remaining.denominator
    spent = rem_num <= 0
    stats: dict[str, WindowStat] = {}
    for name, window_counts in counts.items():
        total = window_counts.total
        if total == 0:
            ratio = rate = None
            tte = timedelta(0) if spent else None
        else:
            bad = total - window_counts.good
            ratio, rate = _ratios(bad, total, spare_num, spare_den)
            if spent:
                tte = timedelta(0)
            elif bad == 0:
                tte = None
            else:
                tte = timedelta(microseconds=(rem_num * period_us * rate.denominator)
                                // (rem_den * rate.numerator))
        stats[name] = WindowStat(name, window_counts, ratio, rate, total >= guard, tte)

    judged = []
    paging = False
    for c, (long_name, short_name) in zip(conditions, names):
        long, short = stats[long_name], stats[short_name]
        holds, reason = _judge(c, long, short)
        paging = paging or (holds and c.severity == "page")
        judged.append((c, long.burn_rate, short.burn_rate, holds, reason))
    results = tuple([
        ConditionResult(c, long_burn, short_burn, holds, holds and paging and c.severity == "ticket", reason)
        for c, long_burn, short_burn, holds, reason in judged
    ])
    headline = stats.get(exhaustion_window, stats[PERIOD])
    return BurnReport(
        windows=stats,
        budget=budget,
        conditions=results,
        time_to_exhaustion=headline.time_to_exhaustion,
        objective=objective,
    )


@dataclass
class BucketSeries:
    """Per-bucket counts keyed by bucket index: the brute-force reference.

    It re-sums every window from scratch, which is exactly what the incremental
    ledger must never need to do, and is what the property tests compare it with.
    """

    buckets: dict[int, Counts] = field(default_factory=dict)

    def add(self, bucket: int, good: int, total: int) -> None:
        current = self.buckets.get(bucket, Counts())
        self.buckets[bucket] = Counts(current.good + good, current.total + total)

    def window(self, start: int, end: int) -> Counts:
        """Sum over buckets start <= b < end."""
        good = total = 0
        for b, c in self.buckets.items():
            if start <= b < end:
                good += c.good
                total += c.total
        return Counts(good, total)

    def windows(self, ranges: Mapping[str, tuple[int, int]]) -> dict[str, Counts]:
        return {name: self.window(start, end) for name, (start, end) in ranges.items()}
