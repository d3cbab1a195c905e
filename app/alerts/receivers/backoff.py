"""Retry pacing and per-receiver rate limits for the delivery worker.

Both are pure, clock-injected building blocks so the worker's behaviour during
an outage (many notifications queued, a receiver answering 429) can be tested
without sleeping.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# 2**64 times any sane base is already far beyond any cap; clamping the
# exponent keeps a long-failing notification from overflowing float math.
_MAX_EXPONENT = 64


class _Random(Protocol):
    def random(self) -> float: ...


def backoff_delay(
    attempt: int,
    base: float = 1.0,
    cap: float = 300.0,
    retry_after: float | None = None,
    rng: _Random | None = None,
) -> float:
    """Seconds to wait before retry number `attempt` (0 for the first retry).

    Full jitter (uniform in ``[0, min(cap, base * 2**attempt))``) rather than
    plain exponential: after a receiver outage every queued notification would
    otherwise retry in lock-step and knock it over again. A server-provided
    ``Retry-After`` is a floor, not a suggestion: retrying earlier only earns
    another 429, and it is not capped because the server knows its own limits.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    if base <= 0 or cap <= 0:
        raise ValueError("base and cap must be positive")
    ceiling = min(cap, base * 2.0 ** min(attempt, _MAX_EXPONENT))
    source = rng if rng is not None else random
    delay = source.random() * ceiling
    if retry_after is not None:
        delay = max(delay, max(0.0, retry_after))
    return delay


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A sustained rate and the burst allowed on top of it."""

    per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.per_second <= 0:
            raise ValueError("per_second must be positive")
        if self.burst < 1:
            raise ValueError("burst must be >= 1")

    @classmethod
    def per_minute(cls, count: float, burst: int = 1) -> RateLimit:
        return cls(count / 60.0, burst)


class RateLimiter:
    """Token bucket for one receiver (or one PagerDuty routing key).

    Tokens refill continuously at ``limit.per_second`` up to ``limit.burst``.
    The worker asks `time_until_available()` to know how long to park a
    receiver's queue instead of hammering it and collecting 429s, and calls
    `defer()` when a 429 still arrives, so every notification to that
    receiver waits, not only the one that was rejected. Thread-safe because a
    worker may deliver to several receivers from a pool.
    """

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._tokens = float(limit.burst)
        self._updated = clock()
        self._blocked_until = self._updated
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.limit.burst), self._tokens + elapsed * self.limit.per_second)
        self._updated = max(self._updated, now)

    def _wait(self, now: float, tokens: float) -> float:
        if tokens > self.limit.burst:
            raise ValueError("cannot request more tokens than the burst size")
        self._refill(now)
        blocked = max(0.0, self._blocked_until - now)
        missing = max(0.0, tokens - self._tokens)
        return max(blocked, missing / self.limit.per_second)

    def try_acquire(self, tokens: float = 1.0) -> bool:
        """Take `tokens` if available now; never blocks."""
        with self._lock:
            if self._wait(self._clock(), tokens) > 0:
                return False
            self._tokens -= tokens
            return True

    def time_until_available(self, tokens: float = 1.0) -> float:
        """Seconds until `try_acquire(tokens)` would succeed (0 if it would now)."""
        with self._lock:
            return self._wait(self._clock(), tokens)

    def defer(self, seconds: float) -> None:
        """Hold all sends for `seconds` (a 429's Retry-After), then allow one.

        The bucket is left with a single token at the end of the hold rather
        than a full burst: spending the burst the instant the block lifts is
        exactly the pattern that earned the 429.
        """
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._blocked_until = max(self._blocked_until, now + max(0.0, seconds))
            self._tokens = 1.0
            self._updated = max(self._updated, self._blocked_until)
