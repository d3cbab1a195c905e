"""Process-wide alerting state: the loaded routing file, built receivers, rate limiters and
the HTTP client the delivery worker owns.

Scheduled jobs have the signature `(session, now)`, so what they need besides the database
lives here: built once per process from the settings (or installed explicitly by tests
and by the application lifespan with `set_runtime`). Rate limiters are per process on
purpose: only the replica holding the delivery lease sends, so there is one bucket
per receiver that matters at any time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from app.alerts.receivers import RateLimiter, Receiver
from app.alerts.routing import RoutingConfig, load_routing_file
from app.settings import Settings, get_settings


@dataclass(frozen=True)
class AlertOptions:
    """The alerting settings, in the units the code uses."""

    stuck_run_after: timedelta = timedelta(hours=6)
    symptom_grace: timedelta = timedelta(hours=1)
    retry_base: float = 2.0
    retry_cap: float = 300.0
    max_age: timedelta = timedelta(days=1)
    http_timeout: float = 10.0
    base_url: str = "http://127.0.0.1:8000"
    # Longest a worker may hold a row in `sending` before another may retry it.
    claim_margin: timedelta = timedelta(seconds=30)
    # Rows looked at per delivery tick; the rest wait for the next tick.
    batch: int = 200

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertOptions:
        return cls(
            stuck_run_after=timedelta(seconds=settings.alert_stuck_run_after),
            symptom_grace=timedelta(seconds=settings.alert_symptom_grace),
            retry_base=settings.alert_retry_base,
            retry_cap=settings.alert_retry_cap,
            max_age=timedelta(seconds=settings.alert_delivery_max_age),
            http_timeout=settings.alert_http_timeout,
            base_url=settings.base_url.rstrip("/"),
        )


@dataclass
class AlertRuntime:
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    options: AlertOptions = field(default_factory=AlertOptions)
    _limiters: dict[str, RateLimiter] = field(default_factory=dict)
    _client: httpx.Client | None = None
    # The delivery tick's `now` (epoch seconds). Rate limiters run on it rather than on
    # the process clock, so a Retry-After deferral and the outbox's next_attempt_at are
    # measured on the same clock (and tests can drive both with simulated time).
    tick_time: float = 0.0

    def receiver(self, name: str) -> Receiver | None:
        return self.routing.receivers.get(name)

    def limiter(self, name: str) -> RateLimiter | None:
        receiver = self.receiver(name)
        if receiver is None or receiver.rate_limit is None:
            return None
        if name not in self._limiters:
            self._limiters[name] = RateLimiter(receiver.rate_limit, clock=lambda: self.tick_time)
        return self._limiters[name]

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.options.http_timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


_lock = threading.Lock()
_current: AlertRuntime | None = None


def runtime_from_settings(settings: Settings) -> AlertRuntime:
    routing = (
        load_routing_file(settings.alert_routes_file)
        if settings.alert_routes_file is not None
        else RoutingConfig()
    )
    return AlertRuntime(routing=routing, options=AlertOptions.from_settings(settings))


def get_runtime() -> AlertRuntime:
    """The installed runtime, or one built from the environment's settings on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = runtime_from_settings(get_settings())
        return _current


def set_runtime(runtime: AlertRuntime | None) -> AlertRuntime | None:
    """Install `runtime` (None: rebuild from settings on next use); returns the previous one."""
    global _current
    with _lock:
        previous, _current = _current, runtime
        return previous
