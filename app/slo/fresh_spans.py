"""Freshness SLOs kept from stored stale stretches, not from the update history.

Staleness at an instant depends only on the last write before it and on the next one
(which ends it): a gap between two consecutive writes is stale, or partly stale, on its
own, whatever came before. So the stale stretches up to the last write never change
unless a write at or after their gap changes, and after the last write there is at
most one stretch, open, which the clock alone extends (an overdue update needs no
event). `FreshSpans` keeps exactly that: the closed stretches (stored in
`slo_fresh_spans`), the last write, and the open stretch computed on demand.

A pass after a restart reads a few stretches per SLO instead of a month of writes.
When writes change, only the gaps from the last unchanged write before the earliest
change are recomputed (`replace_from`); the tests compare the counts with
`freshness_window_counts` over random histories.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from app.slo.burn import Counts
from app.slo.definitions import FreshnessSLI, SLODefinition
from app.slo.engine import plan, windows_for
from app.slo.freshness import (
    Deadline,
    FreshnessRule,
    _TICK,
    Interval,
    _slice_range,
    bad_slices,
    stale_intervals,
)
from app.slo.verdicts import cached
from app.slo.windows import EPOCH, MINUTE, PERIOD, RollingWindow, as_utc, evaluation_ranges, floor_time


def cached_rule(sli: FreshnessSLI) -> FreshnessRule:
    rule = sli.rule()
    if isinstance(rule, Deadline):
        return Deadline(cached(rule.schedule), rule.lookback)  # same answers, ticks memoised
    return rule


def horizon(slo: SLODefinition, now: datetime) -> datetime:
    """The earliest instant any window of the SLO looks at, evaluated at `now`: the
    start of the time slice holding the earliest window start."""
    size = slo.time_slice.window
    return floor_time(min(a for a, _ in plan(slo, now).values()), size)


class FreshSpans:
    """Stale stretches of one freshness SLO, exact from `since` on (see module doc)."""

    def __init__(self, slo: SLODefinition, active_from: datetime | None, since: datetime,
                 spans: Iterable[Interval] = (), last: datetime | None = None) -> None:
        assert isinstance(slo.sli, FreshnessSLI)
        self.slo = slo
        self.rule = cached_rule(slo.sli)
        self.size = slo.time_slice.window
        self.target = slo.time_slice.target
        self.active_from = active_from
        self.since = as_utc(since)
        self.spans: list[Interval] = sorted((as_utc(a), as_utc(b)) for a, b in spans)
        self.last = as_utc(last) if last is not None else None
        # The open stretch after `last`: starts at _open (None: not before _checked).
        self._open: datetime | None = None
        self._checked: datetime | None = None
        self._windows: tuple[timedelta, dict[str, timedelta]] | None = None  # by period length

    def reset(self, since: datetime, before: datetime | None, writes: Sequence[datetime]) -> list[Interval]:
        """Rebuild from `since`: `before` is the last write before it, `writes` every
        write at or after it. Returns the new stretches (all of them)."""
        ups = sorted({as_utc(w) for w in ([before] if before is not None else []) + list(writes)})
        self.since = as_utc(since)
        self.last = ups[-1] if ups else None
        self.spans = [] if self.last is None or self.last <= self.since else \
            stale_intervals(ups, self.rule, self.since, self.last)
        self._open = self._checked = None
        return list(self.spans)

    def replace_from(self, start: datetime, writes: Sequence[datetime]) -> list[Interval]:
        """Recompute from the write at `start` on: `writes` are every write at or after
        it (`start` among them). Stretches before `start` end by it and stay. Returns
        the new stretches from `start` on."""
        start = as_utc(start)
        ups = sorted({as_utc(w) for w in writes} | {start})
        self.last = ups[-1]
        fresh = stale_intervals(ups, self.rule, start, self.last) if self.last > start else []
        self.spans = [s for s in self.spans if s[0] < start] + fresh
        self.since = min(self.since, start)
        self._open = self._checked = None
        return fresh

    def stale_from(self, start: datetime) -> bool:
        """Whether any stored stretch starts at or after `start` (it would be replaced)."""
        return bool(self.spans) and self.spans[-1][0] >= as_utc(start)

    def covers(self, now: datetime) -> bool:
        return horizon(self.slo, now) >= self.since

    def _open_start(self, hi: datetime) -> datetime | None:
        """Where the open stretch after the last write starts, if before `hi`."""
        if self.last is None:
            return self.since
        if self._open is not None:
            return self._open
        if self._checked is not None and hi <= self._checked:
            return None
        found = stale_intervals([self.last], self.rule, self.last, hi) if hi > self.last else []
        if found:
            self._open = found[0][0]
            return self._open
        self._checked = max(hi, self._checked or hi)
        return None

    def stale(self, hi: datetime) -> list[Interval]:
        """Every stale stretch before `hi`, the open one cut at `hi`."""
        out = self.spans
        start = self._open_start(hi)
        if start is not None and start < hi:
            out = [*out, (start, hi)]
        return out

    def counts(self, now: datetime) -> dict[str, Counts]:
        """The same answer as `freshness_window_counts(slo, writes, now, active_from)`."""
        slices = self._slices(now)
        hi = EPOCH + max(last for _, last in slices.values()) * self.size
        lo = EPOCH + min(first for first, _ in slices.values()) * self.size
        stale = self.stale(hi)
        if not stale or stale[-1][1] <= lo:  # nothing stale in any window: every slice good
            return {name: Counts(last - first, last - first) for name, (first, last) in slices.items()}
        out = {}
        latest_end = stale[-1][1]
        for name, (first, last) in slices.items():
            total = last - first
            if latest_end <= EPOCH + first * self.size:  # the short windows, usually
                out[name] = Counts(total, total)
            else:
                out[name] = Counts(total - bad_slices(stale, first, last, self.size, self.target), total)
        return out

    def _slices(self, now: datetime) -> dict[str, tuple[int, int]]:
        """`_slice_range` of every window of `plan(slo, now)`.

        For a rolling period every window ends at the same minute, so the slice indices
        come from integer microseconds (what timedelta // timedelta divides): a pass asks
        this of hundreds of freshness SLOs, and the datetime arithmetic was most of it."""
        period = self.slo.period()
        length = period.nominal_length(now)
        if self._windows is None or self._windows[0] != length:
            self._windows = (length, windows_for(self.slo, now))
        windows = self._windows[1]
        if not isinstance(period, RollingWindow):
            ranges = evaluation_ranges(now, period, windows)
            return {name: _slice_range(a, b, self.size, self.active_from) for name, (a, b) in ranges.items()}
        size = self.size // _TICK
        end = (as_utc(now) - EPOCH) // MINUTE * (MINUTE // _TICK)
        last = end // size
        floor = None if self.active_from is None else -((EPOCH - as_utc(self.active_from)) // self.size)
        out = {}
        for name, span in [*windows.items(), (PERIOD, period.length)]:
            first = (end - span // _TICK) // size
            if floor is not None and floor > first:
                first = floor
            out[name] = (first, last if last > first else first)
        return out

    def stale_in(self, start: datetime, end: datetime) -> list[Interval]:
        """Stale stretches within [start, end), for "what spent the budget"."""
        stale = self.stale(end)
        i = bisect_left([b for _, b in stale], start)
        return [(max(a, start), min(b, end)) for a, b in stale[i:] if a < end and b > start]


def earliest_change(old: dict[int, datetime], new: dict[int, datetime]) -> datetime | None:
    """The earliest write instant that changed between two {run: instant} maps (a run
    that stopped counting, started counting, or moved), or None."""
    out: datetime | None = None
    for run in old.keys() | new.keys():
        a, b = old.get(run), new.get(run)
        if a == b:
            continue
        for t in (a, b):
            if t is not None and (out is None or t < out):
                out = t
    return out
