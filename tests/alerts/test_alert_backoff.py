"""Retry pacing, Retry-After parsing and token buckets, driven by fake clocks."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.alerts.receivers import RateLimit, RateLimiter, backoff_delay, parse_retry_after


class FixedRandom:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


@settings(deadline=None)
@given(
    attempt=st.integers(min_value=0, max_value=10_000),
    base=st.floats(min_value=1e-3, max_value=100),
    cap=st.floats(min_value=1e-3, max_value=1e4),
    retry_after=st.none() | st.floats(min_value=-10, max_value=1e5),
    seed=st.integers(),
)
def test_backoff_stays_within_bounds(attempt, base, cap, retry_after, seed):
    delay = backoff_delay(attempt, base, cap, retry_after, random.Random(seed))

    ceiling = min(cap, base * 2.0 ** min(attempt, 64))
    assert delay >= 0
    if retry_after is None:
        assert delay <= ceiling
    else:
        assert delay >= retry_after
        assert delay <= max(ceiling, retry_after)


@settings(deadline=None)
@given(attempt=st.integers(min_value=0, max_value=50), value=st.floats(0, 0.999999))
def test_backoff_ceiling_doubles_until_the_cap(attempt, value):
    delay = backoff_delay(attempt, 0.5, 60.0, rng=FixedRandom(value))

    assert delay == pytest.approx(value * min(60.0, 0.5 * 2**attempt))


def test_backoff_examples_and_full_jitter():
    half = FixedRandom(0.5)
    assert backoff_delay(0, 1.0, 300.0, rng=half) == 0.5
    assert backoff_delay(3, 1.0, 300.0, rng=half) == 4.0
    assert backoff_delay(100, 1.0, 300.0, rng=half) == 150.0
    # Retry-After is a floor and is not capped: the server knows its limits.
    assert backoff_delay(0, 1.0, 300.0, retry_after=900.0, rng=half) == 900.0
    assert backoff_delay(10, 1.0, 300.0, retry_after=2.0, rng=half) == 150.0
    delays = {backoff_delay(5, 1.0, 300.0) for _ in range(50)}
    assert len(delays) > 40  # jittered, not lock-step


@pytest.mark.parametrize(("attempt", "base", "cap"), [(-1, 1, 1), (0, 0, 1), (0, 1, 0)])
def test_backoff_rejects_nonsense(attempt, base, cap):
    with pytest.raises(ValueError):
        backoff_delay(attempt, base, cap)


NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("1.5", 1.5),
        ("-5", 0.0),
        ("0", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("inf", None),
        ("Wed, 01 May 2024 12:02:00 GMT", 120.0),
        ("Wed, 01 May 2024 11:00:00 GMT", 0.0),
        ("Wednesday, 01-May-24 12:00:10 GMT", 10.0),
    ],
)
def test_parse_retry_after(header, expected):
    assert parse_retry_after(header, NOW) == expected


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=10**6))
def test_parse_retry_after_http_date_round_trip(seconds):
    header = format_datetime(NOW + timedelta(seconds=seconds), usegmt=True)

    assert parse_retry_after(header, NOW) == seconds


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_burst_then_rate():
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(per_second=1.0, burst=2), clock)

    assert limiter.try_acquire() and limiter.try_acquire()
    assert not limiter.try_acquire()
    assert limiter.time_until_available() == pytest.approx(1.0)
    clock.advance(0.5)
    assert limiter.time_until_available() == pytest.approx(0.5)
    assert not limiter.try_acquire()
    clock.advance(0.5)
    assert limiter.try_acquire()
    clock.advance(3600)  # a long idle refills only up to the burst
    assert [limiter.try_acquire() for _ in range(3)] == [True, True, False]


def test_defer_holds_every_send_then_allows_one():
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(per_second=10.0, burst=5), clock)

    limiter.defer(30.0)

    assert not limiter.try_acquire()
    assert limiter.time_until_available() == pytest.approx(30.0)
    clock.advance(29.9)
    assert not limiter.try_acquire()
    clock.advance(0.1)
    assert limiter.try_acquire()
    assert not limiter.try_acquire()
    assert limiter.time_until_available() == pytest.approx(0.1)


def test_more_tokens_than_the_burst_is_an_error():
    limiter = RateLimiter(RateLimit(per_second=1.0, burst=2), FakeClock())

    with pytest.raises(ValueError):
        limiter.try_acquire(3)


def _greedy_sends(limit: RateLimit, duration: float, step: float) -> list[float]:
    clock = FakeClock()
    start = clock.now
    limiter = RateLimiter(limit, clock)
    sent = []
    while clock.now - start < duration:
        while limiter.try_acquire():
            sent.append(clock.now - start)
        clock.advance(step)
    return sent


def test_pagerduty_default_never_exceeds_120_per_minute():
    sent = _greedy_sends(RateLimit.per_minute(100, burst=20), duration=300, step=0.01)

    worst = max(sum(1 for t in sent if window <= t < window + 60) for window in range(241))
    assert 115 <= worst <= 120


def test_slack_default_is_one_per_second():
    sent = _greedy_sends(RateLimit.per_minute(60, burst=1), duration=10, step=0.01)

    assert len(sent) == 10
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) == pytest.approx(1.0, abs=0.011)


@settings(deadline=None)
@given(
    per_second=st.floats(min_value=0.01, max_value=100),
    burst=st.integers(min_value=1, max_value=50),
    steps=st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=200),
)
def test_token_bucket_never_exceeds_burst_plus_rate(per_second, burst, steps):
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(per_second, burst), clock)
    acquired = 0
    for step in steps:
        clock.advance(step)
        while limiter.try_acquire():
            acquired += 1
            assert acquired <= burst + per_second * sum(steps) + 1e-6

    assert acquired <= burst + per_second * sum(steps) + 1e-6


def test_rate_limit_validation():
    with pytest.raises(ValueError):
        RateLimit(0)
    with pytest.raises(ValueError):
        RateLimit(1.0, burst=0)
