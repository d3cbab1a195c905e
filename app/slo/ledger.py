"""Incremental window counts: evaluating never rescans the period.

A `RollingLedger` keeps per-bucket counts plus one running sum per window. Moving
the clock forward adds the buckets that enter each window and subtracts the ones
that leave it; an event (even a late one) touches only the windows that contain its
bucket. Work is proportional to what changed, not to the length of the period.

`KeyedLedger` sits on top for outcomes that can be revised: a retried run, a
duplicated or out-of-order event, or a time slice whose verdict changes when a late
event lands. Each key counts once, with its latest verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from datetime import datetime, timedelta
from fractions import Fraction

from app.slo.burn import BucketSeries, Counts
from app.slo.windows import EPOCH, MINUTE, as_utc

# A window is either a fixed number of buckets (rolling), or a function giving its
# first bucket for a given end bucket (a calendar period); starts never move back.
WindowStart = int | Callable[[int], int]


def to_bucket(at: datetime, bucket: timedelta = MINUTE) -> int:
    return (as_utc(at) - EPOCH) // bucket


def from_bucket(index: int, bucket: timedelta = MINUTE) -> datetime:
    return EPOCH + index * bucket


class RollingLedger:
    """Per-bucket counts and running window sums, for one SLO.

    `now` is the exclusive end of every window (`engine.clock`: for occurrence SLIs
    the bucket after the current minute, so the current minute counts). Buckets older
    than every window's start are forgotten; events for them are ignored (they could
    not count anywhere). Buckets at or after `now` are kept and enter the sums when
    the clock reaches them, so clock skew loses nothing.
    """

    def __init__(self, windows: Mapping[str, WindowStart], now: int) -> None:
        if not windows:
            raise ValueError("a ledger needs at least one window")
        self._specs = dict(windows)
        self._now = now
        self._buckets: dict[int, list[int]] = {}
        self._starts = {name: self._start_of(name, now) for name in self._specs}
        self._sums = {name: [0, 0] for name in self._specs}
        self._floor = min(self._starts.values())

    @property
    def now(self) -> int:
        return self._now

    @property
    def floor(self) -> int:
        """The oldest bucket any window can still see."""
        return self._floor

    def _start_of(self, name: str, now: int) -> int:
        spec = self._specs[name]
        start = now - spec if isinstance(spec, int) else spec(now)
        return min(start, now)

    def _range_sum(self, start: int, end: int) -> tuple[int, int]:
        # Walk whichever is smaller: the bucket range, or the buckets actually held.
        good = total = 0
        if end - start <= len(self._buckets):
            for b in range(start, end):
                c = self._buckets.get(b)
                if c is not None:
                    good += c[0]
                    total += c[1]
        else:
            for b, c in self._buckets.items():
                if start <= b < end:
                    good += c[0]
                    total += c[1]
        return good, total

    def add(self, bucket: int, good: int, total: int) -> bool:
        """Add (or, with negative numbers, retract) counts; False if too old to matter."""
        if bucket < self._floor:
            return False
        cell = self._buckets.get(bucket, [0, 0])
        if not 0 <= cell[0] + good <= cell[1] + total:
            raise ValueError(f"bucket {bucket} would hold invalid counts")
        self._buckets[bucket] = cell
        cell[0] += good
        cell[1] += total
        if cell[1] == 0:
            del self._buckets[bucket]
        for name, start in self._starts.items():
            if start <= bucket < self._now:
                s = self._sums[name]
                s[0] += good
                s[1] += total
        return True

    def advance(self, now: int) -> None:
        if now < self._now:
            raise ValueError("the ledger clock cannot go backwards")
        old_now = self._now
        for name, old_start in self._starts.items():
            new_start = max(self._start_of(name, now), old_start)
            s = self._sums[name]
            g, t = self._range_sum(max(old_now, new_start), now)
            s[0] += g
            s[1] += t
            g, t = self._range_sum(old_start, min(new_start, old_now))
            s[0] -= g
            s[1] -= t
            self._starts[name] = new_start
        self._now = now
        new_floor = min(self._starts.values())
        if new_floor > self._floor:
            if new_floor - self._floor <= len(self._buckets):
                for b in range(self._floor, new_floor):
                    self._buckets.pop(b, None)
            else:
                for b in [b for b in self._buckets if b < new_floor]:
                    del self._buckets[b]
            self._floor = new_floor

    def counts(self) -> dict[str, Counts]:
        return {name: Counts(s[0], s[1]) for name, s in self._sums.items()}

    def ranges(self) -> dict[str, tuple[int, int]]:
        """Each window's [start, end) in buckets, for checking against a recount."""
        return {name: (start, self._now) for name, start in self._starts.items()}

    def __len__(self) -> int:
        return len(self._buckets)


class KeyedLedger:
    """Outcomes keyed by identity: recording a key again replaces its old outcome.

    The key is what makes an outcome "the same": a scheduled run's nominal time, a
    run id, an assertion of a run, a time slice. Recording None withdraws the key.
    """

    def __init__(self, ledger: RollingLedger) -> None:
        self.ledger = ledger
        self._outcomes: dict[Hashable, tuple[int, bool]] = {}
        self._by_bucket: dict[int, set[Hashable]] = {}
        self._pruned_to = ledger.floor

    def record(self, key: Hashable, bucket: int, good: bool | None) -> None:
        previous = self._outcomes.pop(key, None)
        if previous is not None:
            old_bucket, old_good = previous
            self.ledger.add(old_bucket, -int(old_good), -1)
            keys = self._by_bucket.get(old_bucket)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_bucket[old_bucket]
        if good is None or not self.ledger.add(bucket, int(good), 1):
            return
        self._outcomes[key] = (bucket, good)
        self._by_bucket.setdefault(bucket, set()).add(key)

    def advance(self, now: int) -> None:
        self.ledger.advance(now)
        floor = self.ledger.floor
        if floor - self._pruned_to <= len(self._by_bucket):
            stale = [b for b in range(self._pruned_to, floor) if b in self._by_bucket]
        else:
            stale = [b for b in self._by_bucket if b < floor]
        for b in stale:
            for key in self._by_bucket.pop(b):
                del self._outcomes[key]
        self._pruned_to = max(self._pruned_to, floor)

    def counts(self) -> dict[str, Counts]:
        return self.ledger.counts()

    def __len__(self) -> int:
        return len(self._outcomes)


class TimesliceLedger:
    """Occurrence outcomes turned into time-slice verdicts as they arrive.

    A slice of `slice_buckets` buckets is good when good/total in it reaches
    `target`; a slice with no events is not counted at all. Its verdict is filed
    under the slice's last bucket, so a slice enters a window once it is complete,
    and a late outcome revises the verdict of its slice in place.
    """

    def __init__(self, ledger: RollingLedger, slice_buckets: int, target: Fraction) -> None:
        if slice_buckets < 1:
            raise ValueError("a slice spans at least one bucket")
        if not 0 < target <= 1:
            raise ValueError("a time-slice target lies in (0, 1]")
        self.slice_buckets = slice_buckets
        self.target = Fraction(target)
        self.verdicts = KeyedLedger(ledger)
        self._raw: dict[int, list[int]] = {}
        self._keys: dict[Hashable, tuple[int, bool]] = {}
        self._keys_kept = 0
        self._pruned_to = ledger.floor // slice_buckets

    def _last_bucket(self, index: int) -> int:
        return (index + 1) * self.slice_buckets - 1

    def record(self, key: Hashable, bucket: int, good: bool | None) -> None:
        """Keyed like `KeyedLedger.record`: a key seen again replaces its outcome."""
        previous = self._keys.pop(key, None)
        if previous is not None:
            self.add(previous[0], -int(previous[1]), -1)
        if good is not None and self._last_bucket(bucket // self.slice_buckets) >= self.floor:
            self._keys[key] = (bucket, good)
            self.add(bucket, int(good), 1)

    @property
    def floor(self) -> int:
        return self.verdicts.ledger.floor

    def add(self, bucket: int, good: int, total: int) -> None:
        """Unkeyed counts (or retractions, with negative numbers) for one bucket."""
        index = bucket // self.slice_buckets
        last = self._last_bucket(index)
        if last < self.floor:
            return
        cell = self._raw.get(index, [0, 0])
        if not 0 <= cell[0] + good <= cell[1] + total:
            raise ValueError(f"slice {index} would hold invalid counts")
        self._raw[index] = cell
        cell[0] += good
        cell[1] += total
        if cell[1] == 0:
            del self._raw[index]
            self.verdicts.record(index, last, None)
        else:
            self.verdicts.record(index, last, cell[0] >= self.target * cell[1])

    def advance(self, now: int) -> None:
        self.verdicts.advance(now)
        # Slices whose last bucket fell below the floor can no longer count anywhere.
        first_live = self.floor // self.slice_buckets
        if first_live - self._pruned_to <= len(self._raw):
            dead = [i for i in range(self._pruned_to, first_live) if i in self._raw]
        else:
            dead = [i for i in self._raw if i < first_live]
        for index in dead:
            del self._raw[index]
        self._pruned_to = max(self._pruned_to, first_live)
        # Forget keys of dead slices now and then; doubling keeps it amortised O(1).
        if len(self._keys) > 2 * self._keys_kept + 64:
            self._keys = {k: v for k, v in self._keys.items()
                          if self._last_bucket(v[0] // self.slice_buckets) >= self.floor}
            self._keys_kept = len(self._keys)

    def counts(self) -> dict[str, Counts]:
        return self.verdicts.counts()


def slice_verdicts(series: BucketSeries, slice_buckets: int, target: Fraction) -> BucketSeries:
    """Brute-force reference for `TimesliceLedger`: recompute every slice's verdict."""
    raw: dict[int, Counts] = {}
    for bucket, c in series.buckets.items():
        index = bucket // slice_buckets
        raw[index] = raw.get(index, Counts()) + c
    out = BucketSeries()
    for index, c in raw.items():
        if c.total:
            out.add((index + 1) * slice_buckets - 1, int(c.good >= target * c.total), 1)
    return out
