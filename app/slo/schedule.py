"""Cron schedules evaluated on the wall clock of an IANA time zone.

croniter is run on naive local times and each tick is converted with zoneinfo, so
"0 6 * * 1-5" in Europe/Berlin means 06:00 Berlin time in winter and in summer.
A tick in the hour skipped in spring falls due just after the gap; a tick in the hour
repeated in autumn fires once, at its first occurrence (PEP 495, fold=0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from croniter import croniter

from app.slo.windows import as_utc, local_to_utc, zone

# Largest UTC offset change of any zone (Lord Howe is 30 min, most are 1 h): scanning
# this much further on the wall clock guarantees no tick is missed around a change.
_SLACK = timedelta(hours=3)


@lru_cache(maxsize=4096)
def _valid(expression: str) -> bool:
    """croniter parses an expression in ~0.3 ms; definitions repeat a handful of them."""
    return croniter.is_valid(expression)


@dataclass(frozen=True)
class CronSchedule:
    """A five-field cron expression interpreted in `timezone`."""

    expression: str
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if not isinstance(self.expression, str) or len(self.expression.split()) != 5:
            raise ValueError(
                f"expected a five-field cron expression such as '0 6 * * 1-5', "
                f"got {self.expression!r}"
            )
        if not _valid(self.expression):
            raise ValueError(f"invalid cron expression {self.expression!r}")
        zone(self.timezone)

    def ticks(self, start: datetime, end: datetime) -> list[datetime]:
        """Every tick t with start <= t < end, in UTC, sorted and without duplicates.

        Sub-hourly schedules can map two wall times onto one instant, or out of order,
        around a DST change; sorting the converted ticks keeps the result monotonic.
        """
        start, end = as_utc(start), as_utc(end)
        if end <= start:
            return []
        tz = zone(self.timezone)
        local_from = (start - _SLACK).astimezone(tz).replace(tzinfo=None)
        local_to = (end + _SLACK).astimezone(tz).replace(tzinfo=None)
        it = croniter(self.expression, local_from - timedelta(seconds=1))
        found: set[datetime] = set()
        while True:
            local = it.get_next(datetime)
            if local > local_to:
                break
            tick = local_to_utc(local, tz)
            if start <= tick < end:
                found.add(tick)
        return sorted(found)

    def previous(self, at: datetime) -> datetime | None:
        """The latest tick at or before `at` (None for a schedule that never fired)."""
        at = as_utc(at)
        for window in _search_windows():
            ticks = self.ticks(at - window, at + timedelta(microseconds=1))
            if ticks:
                return ticks[-1]
        return None

    def next_after(self, at: datetime) -> datetime | None:
        """The earliest tick strictly after `at`."""
        at = as_utc(at)
        for window in _search_windows():
            ticks = self.ticks(at + timedelta(microseconds=1), at + window)
            if ticks:
                return ticks[0]
        return None


def _search_windows() -> list[timedelta]:
    """Widening look-ups (1 d, 4 d, ... up to 8 years, which holds a 29 February):
    most schedules tick daily or more, so the first is usually enough."""
    out, window, limit = [], timedelta(days=1), timedelta(days=366 * 8)
    while window < limit:
        out.append(window)
        window *= 4
    return [*out, limit]
