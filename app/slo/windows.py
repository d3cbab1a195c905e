"""Durations, SLO periods and the evaluation windows cut from them.

All instants are aware UTC datetimes. Calendar periods are defined on the wall clock
of an IANA zone and only then converted to UTC, so a "month in Europe/Berlin" starts
at local midnight and is an hour shorter in March and an hour longer in October.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTE = timedelta(minutes=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The windows every status report carries, shortest first; "period" is added to them.
REPORT_WINDOWS: dict[str, timedelta] = {
    "5m": timedelta(minutes=5),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
}
PERIOD = "period"

_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION_RE = re.compile(r"^(?:\d+[wdhms])+$")
_PART_RE = re.compile(r"(\d+)([wdhms])")

CalendarUnit = Literal["d", "w", "M", "Q", "Y"]
_MONTHS_PER_UNIT = {"M": 1, "Q": 3, "Y": 12}


def parse_duration(text: str) -> timedelta:
    """Parse "5m", "1h30m", "30d" or "2w".

    Month, quarter and year are deliberately not durations here: their length depends
    on where they fall, so they only exist as calendar periods.
    """
    if not isinstance(text, str):
        # ValueError, not TypeError: pydantic only turns ValueError into a field error.
        raise ValueError(f"expected a duration like 5m, 6h, 30d or 1h30m, got {text!r}")  # noqa: TRY004
    return _parse_duration(text.strip())


@lru_cache(maxsize=1024)
def _parse_duration(text: str) -> timedelta:
    """Every definition spells the same few windows: parsed once each."""
    if not _DURATION_RE.match(text):
        raise ValueError(f"expected a duration like 5m, 6h, 30d or 1h30m, got {text!r}")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART_RE.findall(text))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Shortest single-unit spelling (d, h, m, s), as used for window names and OpenSLO.

    A single unit keeps names such as "30m" and "3d" stable, and OpenSLO accepts
    exactly one unit per duration.
    """
    seconds = value // timedelta(seconds=1)
    if timedelta(seconds=seconds) != value or seconds <= 0:
        raise ValueError(f"durations must be a positive whole number of seconds: {value}")
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: every whole number of seconds has a unit")


def as_utc(at: datetime) -> datetime:
    """Reject naive datetimes: guessing their zone is how deadlines drift by an hour."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()}: give an aware datetime")
    return at.astimezone(UTC)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc


def local_to_utc(naive: datetime, tz: ZoneInfo) -> datetime:
    """Wall-clock time to UTC with PEP 495 fold=0.

    A repeated wall time (autumn) resolves to its first occurrence; a skipped one
    (spring) keeps the pre-change offset and so lands just after the gap.
    """
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def floor_time(at: datetime, step: timedelta) -> datetime:
    at = as_utc(at)
    return EPOCH + ((at - EPOCH) // step) * step


def ceil_time(at: datetime, step: timedelta) -> datetime:
    floored = floor_time(at, step)
    return floored if floored == as_utc(at) else floored + step


@dataclass(frozen=True)
class RollingWindow:
    """The last `length` before evaluation: budget spent long ago falls out gradually."""

    length: timedelta

    def __post_init__(self) -> None:
        if self.length <= timedelta(0):
            raise ValueError("a rolling window needs a positive length")

    def period(self, at: datetime) -> tuple[datetime, datetime]:
        at = as_utc(at)
        return at - self.length, at

    def nominal_length(self, at: datetime) -> timedelta:
        return self.length


@dataclass(frozen=True)
class CalendarWindow:
    """Consecutive periods of `count` x `unit` on a zone's wall clock, from `anchor`.

    `anchor` is a naive local datetime: OpenSLO's `calendar.startTime` is written that
    way, and it has to stay local so every period starts at the same wall time.
    """

    unit: CalendarUnit
    count: int
    timezone: str
    anchor: datetime

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("a calendar window needs a count of at least 1")
        if self.unit not in ("d", "w", "M", "Q", "Y"):
            raise ValueError(f"unknown calendar unit {self.unit!r}")
        if self.anchor.tzinfo is not None:
            raise ValueError("the calendar anchor is a local wall time, without a zone")
        zone(self.timezone)

    def _local_start(self, k: int) -> datetime:
        if self.unit in ("d", "w"):
            days = self.count * (7 if self.unit == "w" else 1)
            return self.anchor + timedelta(days=k * days)
        months = k * self.count * _MONTHS_PER_UNIT[self.unit]
        return _add_months(self.anchor, months)

    def _start(self, k: int) -> datetime:
        return local_to_utc(self._local_start(k), zone(self.timezone))

    def _index(self, at: datetime) -> int:
        at = as_utc(at)
        local = at.astimezone(zone(self.timezone)).replace(tzinfo=None)
        if self.unit in ("d", "w"):
            days = self.count * (7 if self.unit == "w" else 1)
            k = (local - self.anchor) // timedelta(days=days)
        else:
            months = (local.year - self.anchor.year) * 12 + local.month - self.anchor.month
            k = months // (self.count * _MONTHS_PER_UNIT[self.unit])
        # The wall-clock estimate can be one off around DST changes and clamped days.
        while self._start(k) > at:
            k -= 1
        while self._start(k + 1) <= at:
            k += 1
        return k

    def period(self, at: datetime) -> tuple[datetime, datetime]:
        """The whole calendar period containing `at` (start inclusive, end exclusive)."""
        k = self._index(at)
        return self._start(k), self._start(k + 1)

    def nominal_length(self, at: datetime) -> timedelta:
        start, end = self.period(at)
        return end - start


Period = RollingWindow | CalendarWindow


def _add_months(naive: datetime, months: int) -> datetime:
    """Calendar month arithmetic that clamps the day (Jan 31 + 1 month = Feb 28/29)."""
    index = naive.year * 12 + (naive.month - 1) + months
    year, month = divmod(index, 12)
    day = min(naive.day, calendar.monthrange(year, month + 1)[1])
    return naive.replace(year=year, month=month + 1, day=day)


def evaluation_ranges(
    at: datetime,
    period: Period,
    windows: dict[str, timedelta] | None = None,
    bucket: timedelta = MINUTE,
    *,
    current: bool = False,
) -> dict[str, tuple[datetime, datetime]]:
    """The [start, end) range of every window evaluated at `at`, plus "period".

    With `current` (occurrence SLIs) the end is the end of the bucket holding `at`: an
    event already stored in this minute counts now, so a failure can page seconds after
    it lands instead of when its minute closes, and a w-minute window is the w buckets
    ending with the current one. Without it (time slices) the end is `at` floored: the
    slice still filling is not judged until it is complete.
    For a calendar period the range runs from the start of the period holding `at`.
    """
    floored = floor_time(at, bucket)
    end = floored + bucket if current else floored
    windows = REPORT_WINDOWS if windows is None else windows
    ranges = {name: (end - length, end) for name, length in windows.items()}
    if isinstance(period, RollingWindow):
        ranges[PERIOD] = (end - period.length, end)
    else:
        start, _ = period.period(floored)
        ranges[PERIOD] = (min(ceil_time(start, bucket), end), end)
    return ranges
