"""Freshness as time: when was a dataset stale, and how many time slices did that spoil.

Freshness is judged from the instants a completed run wrote the dataset. Staleness
needs no event to start: once an update is overdue the clock alone turns minutes bad,
so a pipeline that silently stopped is caught without anything being reported.

Two rules:
- max age: stale from `update + max_age` until the next update;
- cron deadline: at each tick the dataset must have been updated since the previous
  tick (or within `lookback`); if not, it is stale from the tick until the next update,
  however many ticks that takes (a late update settles the overdue deadline).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from app.slo.burn import Counts
from app.slo.schedule import CronSchedule
from app.slo.windows import EPOCH, MINUTE, as_utc

_TICK = timedelta(microseconds=1)
_MAX_CHUNK = timedelta(days=32)


@dataclass(frozen=True)
class MaxAge:
    max_age: timedelta

    def __post_init__(self) -> None:
        if self.max_age <= timedelta(0):
            raise ValueError("max_age must be positive")


@dataclass(frozen=True)
class Deadline:
    """Updated by every tick of `schedule`; `lookback` (default: since the previous
    tick) is how early an update may come and still count for a tick."""

    schedule: CronSchedule
    lookback: timedelta | None = None

    def __post_init__(self) -> None:
        if self.lookback is not None and self.lookback <= timedelta(0):
            raise ValueError("lookback must be positive")


FreshnessRule = MaxAge | Deadline
Interval = tuple[datetime, datetime]


def _normalise(updates: Iterable[datetime]) -> list[datetime]:
    return sorted({as_utc(u) for u in updates})


def stale_intervals(
    updates: Iterable[datetime], rule: FreshnessRule, start: datetime, end: datetime
) -> list[Interval]:
    """Disjoint, sorted [from, to) intervals within [start, end) when the data was stale.

    `updates` must reach back before `start` (at least the last update before it), or
    the time before the first known update counts as stale.
    """
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        return []
    ups = _normalise(updates)
    raw = _max_age(ups, rule, start, end) if isinstance(rule, MaxAge) else _deadline(
        ups, rule, start, end
    )
    out: list[Interval] = []
    for a, b in raw:
        a, b = max(a, start), min(b, end)
        if a < b:
            if out and out[-1][1] >= a:
                out[-1] = (out[-1][0], max(out[-1][1], b))
            else:
                out.append((a, b))
    return out


def _max_age(ups: list[datetime], rule: MaxAge, start: datetime, end: datetime) -> list[Interval]:
    first = bisect_right(ups, start) - 1
    out: list[Interval] = []
    if first < 0:
        out.append((start, ups[0] if ups else end))
        first = 0
    for i in range(first, len(ups)):
        if ups[i] >= end:
            break
        expiry = ups[i] + rule.max_age
        following = ups[i + 1] if i + 1 < len(ups) else end
        if expiry < following:
            out.append((expiry, following))
    return out


def _ticks_after(schedule: CronSchedule, after: datetime, end: datetime) -> Iterator[datetime]:
    """Ticks strictly after `after` and before `end`, fetched in growing chunks so a
    long quiet stretch does not materialise every tick at once."""
    lo, span = after + _TICK, timedelta(days=1)
    while lo < end:
        hi = min(lo + span, end)
        yield from schedule.ticks(lo, hi)
        lo, span = hi, min(span * 2, _MAX_CHUNK)


def _deadline(
    ups: list[datetime], rule: Deadline, start: datetime, end: datetime
) -> list[Interval]:
    def updated_in(lower: datetime | None, upper: datetime) -> bool:
        i = 0 if lower is None else bisect_right(ups, lower)
        return i < len(ups) and ups[i] <= upper

    def first_update_after(t: datetime) -> datetime | None:
        i = bisect_right(ups, t)
        return ups[i] if i < len(ups) else None

    schedule = rule.schedule
    last = bisect_right(ups, start) - 1
    if last >= 0:
        # Deadlines before the last update cannot leave anything stale after it.
        cursor = ups[last]
    else:
        before = schedule.previous(start)
        cursor = before - _TICK if before is not None else start
    prev = schedule.previous(cursor) if rule.lookback is None else None
    out: list[Interval] = []
    ticks = _ticks_after(schedule, cursor, end)
    while (tick := next(ticks, None)) is not None:
        lower = prev if rule.lookback is None else tick - rule.lookback
        prev = tick
        if updated_in(lower, tick):
            continue
        late = first_update_after(tick)
        stop = late if late is not None and late < end else end
        out.append((tick, stop))
        if stop >= end:
            break
        # Ticks while overdue change nothing: resume at the update that settled it.
        if rule.lookback is None:
            prev = schedule.previous(stop)
        ticks = _ticks_after(schedule, stop, end)
    return out


def _slice_range(start: datetime, end: datetime, size: timedelta,
                 active_from: datetime | None) -> tuple[int, int]:
    """Slices j in [first, last) counted in [start, end): those ending in (start, end],
    and starting no earlier than `active_from`."""
    first = (as_utc(start) - EPOCH) // size
    if active_from is not None:
        first = max(first, -((EPOCH - as_utc(active_from)) // size))
    last = (as_utc(end) - EPOCH) // size
    return first, max(first, last)


def _end(span: Interval) -> datetime:
    return span[1]


def bad_slices(
    stale: Sequence[Interval], first: int, last: int, size: timedelta, target: Fraction
) -> int:
    """How many slices j in [first, last) were stale for more than (1 - target) of them."""
    us = size // _TICK
    # Stale for more than (1 - p/q) x us, as integers: v * q > (q - p) * us.
    target = target if type(target) is Fraction else Fraction(target)
    allowed, scale = (target.denominator - target.numerator) * us, target.denominator
    lo, hi = EPOCH + first * size, EPOCH + last * size
    full = 0
    partial: dict[int, int] = {}
    begin = bisect_left(stale, lo + _TICK, key=_end)
    for a, b in stale[begin:]:
        if a >= hi:
            break
        a_us, b_us = (max(a, lo) - EPOCH) // _TICK, (min(b, hi) - EPOCH) // _TICK
        if a_us >= b_us:
            continue
        ja, jb = a_us // us, (b_us - 1) // us
        if ja == jb:
            partial[ja] = partial.get(ja, 0) + b_us - a_us
        else:
            partial[ja] = partial.get(ja, 0) + (ja + 1) * us - a_us
            partial[jb] = partial.get(jb, 0) + b_us - jb * us
            full += jb - ja - 1
    return full + sum(1 for v in partial.values() if v * scale > allowed)


def freshness_counts(
    updates: Iterable[datetime],
    rule: FreshnessRule,
    ranges: Mapping[str, tuple[datetime, datetime]],
    *,
    slice_size: timedelta = MINUTE,
    slice_target: Fraction = Fraction(1),
    active_from: datetime | None = None,
) -> dict[str, Counts]:
    """Good and total time slices of each window, from the update history.

    A slice is good when the data was fresh for at least `slice_target` of it (the
    default 1 means: not stale for a single instant). Slices before `active_from`
    (when the SLO began) are not counted, so a new SLO does not start in debt.
    """
    if not ranges:
        return {}
    if not 0 < slice_target <= 1:
        raise ValueError("slice_target lies in (0, 1]")
    spans = {name: _slice_range(a, b, slice_size, active_from) for name, (a, b) in ranges.items()}
    lo = min(first for first, _ in spans.values())
    hi = max(last for _, last in spans.values())
    stale = stale_intervals(updates, rule, EPOCH + lo * slice_size, EPOCH + hi * slice_size)
    out = {}
    for name, (first, last) in spans.items():
        total = last - first
        out[name] = Counts(total - bad_slices(stale, first, last, slice_size, slice_target), total)
    return out


def stale_between(stale: Sequence[Interval], start: datetime, end: datetime) -> timedelta:
    """Total stale time within [start, end), for reports of where the budget went."""
    total = timedelta(0)
    for a, b in stale:
        a, b = max(a, as_utc(start)), min(b, as_utc(end))
        if a < b:
            total += b - a
    return total

