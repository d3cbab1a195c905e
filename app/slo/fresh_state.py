"""Freshness SLOs kept incrementally: the update history and its stale intervals.

Freshness is a state over time, so it has no per-event verdicts to store: its window
counts follow from the instants the dataset was updated (`freshness_window_counts`).
Recomputing the stale intervals of a whole period on every pass would cost a cron
evaluation per deadline of the period; here they are cached and only the tail is
recomputed: from the previous pass's end, or from the earliest update that changed.
Staleness at an instant depends only on updates before it, so the cached head stays
exact (the tests compare with `freshness_window_counts` over random histories).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Mapping
from datetime import datetime

from app.slo.burn import Counts
from app.slo.definitions import FreshnessSLI, SLODefinition
from app.slo.engine import plan
from app.slo.freshness import (
    Deadline,
    FreshnessRule,
    Interval,
    _slice_range,
    bad_slices,
    stale_intervals,
)
from app.slo.verdicts import cached
from app.slo.windows import EPOCH, as_utc


def cached_rule(sli: FreshnessSLI) -> FreshnessRule:
    rule = sli.rule()
    if isinstance(rule, Deadline):
        return Deadline(cached(rule.schedule), rule.lookback)  # same answers, ticks memoised
    return rule


class FreshState:
    def __init__(self, slo: SLODefinition, active_from: datetime | None) -> None:
        assert isinstance(slo.sli, FreshnessSLI)
        self.slo = slo
        self.rule = cached_rule(slo.sli)
        self.size = slo.time_slice.window
        self.target = slo.time_slice.target
        self.active_from = active_from
        self.updates: list[datetime] = []
        self.by_run: dict[int, datetime] = {}
        self._instants: dict[datetime, int] = {}
        self.stale: list[Interval] = []
        self._lo: datetime | None = None  # stale is exact over [_lo, _to)
        self._to: datetime | None = None

    def set_writes(self, writes: Mapping[int, datetime]) -> None:
        """Replace the history: completed writes as run id -> instant."""
        self.by_run = {r: as_utc(t) for r, t in writes.items()}
        self._instants = {}
        for t in self.by_run.values():
            self._instants[t] = self._instants.get(t, 0) + 1
        self.updates = sorted(self._instants)
        self._stale_from(None)

    def apply_runs(self, run_ids: Iterable[int], writes: Mapping[int, datetime]) -> None:
        """Changed runs: each now wrote at `writes[run]`, or no longer counts as a write
        (absent). Only the tail after the earliest change is recomputed later."""
        earliest = None
        for run_id in run_ids:
            old, new = self.by_run.get(run_id), writes.get(run_id)
            if new is not None:
                new = as_utc(new)
            if old == new:
                continue
            if old is not None:
                del self.by_run[run_id]
                self._instants[old] -= 1
                if not self._instants[old]:
                    del self._instants[old]
                    del self.updates[bisect_left(self.updates, old)]
                earliest = old if earliest is None else min(earliest, old)
            if new is not None:
                self.by_run[run_id] = new
                if new not in self._instants:
                    insort(self.updates, new)
                self._instants[new] = self._instants.get(new, 0) + 1
                earliest = new if earliest is None else min(earliest, new)
        if earliest is not None:
            self._stale_from(earliest)

    def _stale_from(self, since: datetime | None) -> None:
        if since is None:
            self._lo = self._to = None
            self.stale = []
        elif self._to is not None:
            self._invalidate(since)

    def _tail(self, start: datetime) -> list[datetime]:
        """The updates `stale_intervals` needs for [start, ...): the last one before it on."""
        return self.updates[max(bisect_right(self.updates, start) - 1, 0):]

    def _invalidate(self, since: datetime) -> None:
        if self._lo is None or since <= self._lo:
            self._lo = self._to = None
            self.stale = []
            return
        if since < self._to:
            self._to = since
            kept = []
            for a, b in self.stale:
                if a < since:
                    kept.append((a, min(b, since)))
            self.stale = kept

    def _cover(self, lo: datetime, hi: datetime) -> None:
        if self._lo is None or lo < self._lo or hi < self._to:
            self.stale = stale_intervals(self._tail(lo), self.rule, lo, hi)
            self._lo, self._to = lo, hi
            return
        if hi > self._to:
            tail = stale_intervals(self._tail(self._to), self.rule, self._to, hi)
            if tail and self.stale and self.stale[-1][1] == tail[0][0]:
                self.stale[-1] = (self.stale[-1][0], tail[0][1])
                tail = tail[1:]
            self.stale.extend(tail)
            self._to = hi
        if lo > self._lo:
            self.stale = [(max(a, lo), b) for a, b in self.stale if b > lo]
            self._lo = lo
            keep_from = max(bisect_right(self.updates, lo) - 1, 0)
            if keep_from > 64:  # now and then: forget writes no window can see any more
                oldest = self.updates[keep_from]
                del self.updates[:keep_from]
                self.by_run = {r: t for r, t in self.by_run.items() if t >= oldest}
                self._instants = {t: n for t, n in self._instants.items() if t >= oldest}

    def counts(self, now: datetime) -> dict[str, Counts]:
        """The same answer as `freshness_window_counts(slo, updates, now, active_from)`."""
        ranges = plan(self.slo, now)
        spans = {name: _slice_range(a, b, self.size, self.active_from) for name, (a, b) in ranges.items()}
        lo = min(first for first, _ in spans.values())
        hi = max(last for _, last in spans.values())
        self._cover(EPOCH + lo * self.size, EPOCH + hi * self.size)
        out = {}
        for name, (first, last) in spans.items():
            total = last - first
            out[name] = Counts(total - bad_slices(self.stale, first, last, self.size, self.target), total)
        return out

    def stale_in(self, start: datetime, end: datetime) -> list[Interval]:
        """Stale intervals within [start, end), for "what spent the budget"."""
        i = bisect_left([b for _, b in self.stale], start)
        return [(max(a, start), min(b, end)) for a, b in self.stale[i:] if a < end and b > start]
