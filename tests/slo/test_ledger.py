"""The incremental ledgers against brute-force recounts over random event streams."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.slo.burn import BucketSeries, Counts
from app.slo.ledger import KeyedLedger, RollingLedger, TimesliceLedger, slice_verdicts

# Small windows keep the streams short while exercising every edge: a rolling window,
# a longer one, and a "calendar" period that restarts every 50 buckets.
ROLLING = {"short": 5, "long": 30}


def calendar_start(end: int) -> int:
    return (end // 50) * 50


def reference_ranges(now: int) -> dict[str, tuple[int, int]]:
    return {"short": (now - 5, now), "long": (now - 30, now), "period": (calendar_start(now), now)}


def new_ledger(now: int) -> RollingLedger:
    return RollingLedger({**ROLLING, "period": calendar_start}, now)


# An operation: advance the clock by n buckets, or record an outcome for a key at an
# offset from "now" (negative: late; positive: ahead of the clock), or withdraw a key.
ops = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(min_value=0, max_value=40)),
        st.tuples(st.just("record"), st.integers(min_value=0, max_value=12),
                  st.integers(min_value=-60, max_value=5), st.booleans()),
        st.tuples(st.just("withdraw"), st.integers(min_value=0, max_value=12)),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(ops=ops, start=st.integers(min_value=0, max_value=200))
def test_keyed_ledger_matches_recount_of_latest_outcome_per_key(ops, start):
    ledger = KeyedLedger(new_ledger(start))
    now = start
    latest: dict[int, tuple[int, bool]] = {}
    for op in ops:
        if op[0] == "advance":
            now += op[1]
            ledger.advance(now)
        elif op[0] == "record":
            _, key, offset, good = op
            ledger.record(key, now + offset, good)
            latest[key] = (now + offset, good)
        else:
            ledger.record(op[1], 0, None)
            latest.pop(op[1], None)
        reference = BucketSeries()
        for bucket, good in latest.values():
            reference.add(bucket, int(good), 1)
        assert ledger.counts() == reference.windows(reference_ranges(now))


@settings(max_examples=300, deadline=None)
@given(
    stream=st.lists(
        st.tuples(st.integers(min_value=0, max_value=30), st.integers(min_value=-40, max_value=3),
                  st.integers(min_value=0, max_value=4), st.integers(min_value=0, max_value=4)),
        max_size=60,
    ),
    start=st.integers(min_value=0, max_value=200),
)
def test_rolling_ledger_matches_recount_after_every_step(stream, start):
    ledger = new_ledger(start)
    reference = BucketSeries()
    now = start
    for step, offset, good, extra in stream:
        now += step
        ledger.advance(now)
        ledger.add(now + offset, good, good + extra)
        reference.add(now + offset, good, good + extra)
        assert ledger.counts() == reference.windows(reference_ranges(now))
        assert ledger.ranges() == reference_ranges(now)
        assert all(b >= ledger.floor for b in ledger._buckets)


@settings(max_examples=200, deadline=None)
@given(
    stream=st.lists(
        st.tuples(st.integers(min_value=0, max_value=7), st.integers(min_value=0, max_value=9),
                  st.integers(min_value=-25, max_value=2), st.booleans()),
        max_size=60,
    ),
    slice_buckets=st.integers(min_value=1, max_value=4),
    target=st.sampled_from([Fraction(1), Fraction(1, 2), Fraction(9, 10)]),
)
def test_timeslice_ledger_matches_recomputed_slice_verdicts(stream, slice_buckets, target):
    ledger = TimesliceLedger(RollingLedger(ROLLING | {"period": 40}, 100), slice_buckets, target)
    latest: dict[int, tuple[int, bool]] = {}
    now = 100
    for step, key, offset, good in stream:
        now += step
        ledger.advance(now)
        ledger.record(key, now + offset, good)
        latest[key] = (now + offset, good)
        raw = BucketSeries()
        for bucket, ok in latest.values():
            raw.add(bucket, int(ok), 1)
        verdicts = slice_verdicts(raw, slice_buckets, target)
        ranges = {"short": (now - 5, now), "long": (now - 30, now), "period": (now - 40, now)}
        assert ledger.counts() == verdicts.windows(ranges)


def test_late_event_touches_only_windows_that_contain_it():
    ledger = RollingLedger({"5m": 5, "1h": 60}, now=1000)
    ledger.add(1000 - 30, 0, 1)  # 30 minutes late: inside 1h, outside 5m
    assert ledger.counts() == {"5m": Counts(0, 0), "1h": Counts(0, 1)}
    assert ledger.add(1000 - 61, 1, 1) is False  # older than every window: ignored
    ledger.add(1003, 1, 1)  # ahead of the clock: counted once the clock gets there
    assert ledger.counts()["5m"] == Counts(0, 0)
    ledger.advance(1004)
    assert ledger.counts() == {"5m": Counts(1, 1), "1h": Counts(1, 2)}


def test_advancing_past_a_long_gap_forgets_old_buckets():
    ledger = RollingLedger({"5m": 5, "1h": 60}, now=1000)
    for b in range(940, 1000):
        ledger.add(b, 1, 1)
    ledger.advance(10_000_000)
    assert ledger.counts() == {"5m": Counts(), "1h": Counts()}
    assert len(ledger) == 0


def test_clock_cannot_go_backwards_and_counts_cannot_go_negative():
    ledger = RollingLedger({"5m": 5}, now=100)
    with pytest.raises(ValueError):
        ledger.advance(99)
    with pytest.raises(ValueError):
        ledger.add(99, 0, -1)


def test_duplicates_and_reordering_do_not_double_count():
    ledger = KeyedLedger(RollingLedger({"1h": 60}, now=1000))
    for key, bucket, good in [("run-1", 990, False), ("run-2", 991, True), ("run-1", 990, False),
                              ("run-1", 995, True), ("run-2", 991, True)]:
        ledger.record(key, bucket, good)
    assert ledger.counts() == {"1h": Counts(2, 2)}
    assert len(ledger) == 2
