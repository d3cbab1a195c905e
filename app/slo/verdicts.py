"""From extracted rows to keyed verdicts, through the pure functions of the SLO core.

A verdict is what one counted thing says (good or bad) at one instant, under a key that
makes it "the same thing" when recomputed: the evaluator recomputes verdicts for a
stretch of time after new events and replaces what the keys said before, which is why
duplicated, reordered and retried events never count twice.

Every verdict also carries `ref_at`, when the thing belongs (a run group's schedule tick,
a run's start, a write): recomputing "everything of this SLO from ref_at T on" is how a
late event that regroups runs is handled, and is also how a full recomputation is done
(from the start of the period). A run group counts in the windows that contain its
final attempt's finish, provided the group itself (its tick, or its start when there is
no schedule) lies no earlier than a day before the period: a backfill of a partition
from months ago does not change this month's success rate.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.slo.definitions import DurationSLI, QualitySLI, SLODefinition, SuccessRateSLI, VolumeSLI
from app.slo.extract import Check, RunRow, Write
from app.slo.ledger import to_bucket
from app.slo.outcomes import RunRecord, duration_outcome, success_outcomes, volume_is_good
from app.slo.schedule import CronSchedule
from app.slo.windows import as_utc

# How far before the period a run group may belong and still count (see module doc).
GROUP_SLACK = timedelta(days=1)
# Key prefix of a write kept only as the history of later verdicts (see volume_verdicts).
HISTORY_ONLY = "h:"
# Outcomes dated this far past `now` (clock skew) are not kept.
FUTURE_LIMIT = timedelta(days=1)


@dataclass(frozen=True)
class Verdict:
    key: str
    bucket: int
    good: bool
    ref_at: datetime
    run_id: int | None = None
    missing: bool = False
    counted: bool = True


class CachedSchedule:
    """A `CronSchedule` whose ticks are computed once per span and then bisected.

    croniter costs tens of microseconds per tick; a pass that recomputes hundreds of
    run groups of the same hourly schedule would otherwise spend most of its time there.
    It answers exactly what the schedule answers (the tests compare them).
    """

    def __init__(self, schedule: CronSchedule) -> None:
        self.schedule = schedule
        self.expression, self.timezone = schedule.expression, schedule.timezone
        self._lo: datetime | None = None
        self._hi: datetime | None = None
        self._ticks: list[datetime] = []

    def _cover(self, start: datetime, end: datetime) -> None:
        if self._lo is None:
            self._lo, self._hi = start - timedelta(days=1), end + timedelta(days=1)
            self._ticks = self.schedule.ticks(self._lo, self._hi)
            return
        if start < self._lo:
            lo = min(start, self._lo - timedelta(days=1))
            self._ticks = self.schedule.ticks(lo, self._lo) + self._ticks
            self._lo = lo
        if end > self._hi:
            hi = max(end, self._hi + timedelta(days=1))
            self._ticks += self.schedule.ticks(self._hi, hi)
            self._hi = hi

    def ticks(self, start: datetime, end: datetime) -> list[datetime]:
        start, end = as_utc(start), as_utc(end)
        if end <= start:
            return []
        self._cover(start, end)
        return self._ticks[bisect_left(self._ticks, start) : bisect_left(self._ticks, end)]

    def previous(self, at: datetime) -> datetime | None:
        at = as_utc(at)
        self._cover(at, at + timedelta(microseconds=1))
        i = bisect_right(self._ticks, at) - 1
        return self._ticks[i] if i >= 0 else self.schedule.previous(at)

    def next_after(self, at: datetime) -> datetime | None:
        at = as_utc(at)
        self._cover(at, at + timedelta(microseconds=1))
        i = bisect_right(self._ticks, at)
        return self._ticks[i] if i < len(self._ticks) else self.schedule.next_after(at)


_schedules: dict[tuple[str, str], CachedSchedule] = {}


def cached(schedule: CronSchedule) -> CachedSchedule:
    key = (schedule.expression, schedule.timezone)
    found = _schedules.get(key)
    if found is None:
        if len(_schedules) > 5000:
            _schedules.clear()
        found = _schedules[key] = CachedSchedule(schedule)
    return found


_by_spec: dict[tuple, CachedSchedule] = {}


def _schedule_of(sli: SuccessRateSLI) -> CachedSchedule | None:
    """The cached schedule of an SLI, without re-validating its cron on every call."""
    if sli.schedule is None:
        return None
    key = (sli.schedule.cron, sli.schedule.timezone)
    found = _by_spec.get(key)
    if found is None:
        found = _by_spec[key] = cached(sli.schedule.schedule())
    return found


def _record(r: RunRow) -> RunRecord:
    return RunRecord(str(r.id), r.state, r.started_at, r.ended_at, r.nominal)


def _finish(r: RunRow) -> datetime | None:
    return r.ended_at or r.started_at or r.nominal


def success_verdicts(slo: SLODefinition, runs: list[RunRow], since: datetime, now: datetime,
                     active_from: datetime | None = None) -> list[Verdict]:
    """Verdicts of every run group of a job that belongs at or after `since`.

    `runs` must hold every run whose anchor is at or after `since` (all attempts of
    those groups). Finished groups are kept whenever they finished, missing ticks only
    once due (before `now`) and not before `active_from` (when the job was first seen):
    the windows take them in as the clock reaches them.
    """
    sli = slo.sli
    assert isinstance(sli, SuccessRateSLI)
    schedule = _schedule_of(sli)
    grace = sli.schedule.grace if sli.schedule is not None else timedelta(hours=1)
    limit = now + FUTURE_LIMIT
    finishes = [f for r in runs if (f := _finish(r)) is not None and f < limit]
    start = max(min([since - grace, *finishes]), since - grace - GROUP_SLACK)
    end = max([now, *finishes]) + timedelta(microseconds=1)
    anchors = {str(r.id): r.anchor for r in runs}
    out = []
    for o in success_outcomes([_record(r) for r in runs], start, end, schedule=schedule, grace=grace):
        if o.missing and (o.at >= now or (active_from is not None and o.at - grace < active_from)):
            continue
        ref = datetime.fromisoformat(o.key[5:]) if o.key.startswith("tick:") else anchors[o.key[4:]]
        if ref < since:
            continue
        out.append(Verdict(o.key, to_bucket(o.at), o.good, ref,
                           int(o.run_id) if o.run_id is not None else None, o.missing))
    return out


def duration_verdicts(slo: SLODefinition, runs: list[RunRow], now: datetime) -> dict[str, Verdict | None]:
    """Keyed by run: None for a run not judged (yet), so a stale verdict can be dropped."""
    sli = slo.sli
    assert isinstance(sli, DurationSLI)
    out: dict[str, Verdict | None] = {}
    for r in runs:
        key = f"run:{r.id}"
        o = duration_outcome(_record(r), sli.threshold, now)
        out[key] = None if o is None else Verdict(key, to_bucket(o.at), o.good, r.started_at, r.id)
    return out


def volume_verdicts(slo: SLODefinition, history: list[Write], writes: list[Write]) -> list[Verdict]:
    """Judge `writes` (oldest first); `history` holds the writes just before them."""
    sli = slo.sli
    assert isinstance(sli, VolumeSLI)
    rule = sli.rule()
    counts = [w.row_count for w in history if w.row_count is not None]
    out = []
    for w in writes:
        if w.row_count is None:
            continue
        good = volume_is_good(w.row_count, rule, counts[-sli.versions :])
        counts.append(w.row_count)
        if good is not None:
            out.append(Verdict(f"v:{w.version_id}", to_bucket(w.at), good, w.at, w.run_id))
        else:
            # The first write has nothing to compare with and is not judged, but it is
            # every later write's history: kept, never counted, so that a change to its
            # run (withdrawn, moved) is found like any other verdict's.
            out.append(Verdict(f"{HISTORY_ONLY}{w.version_id}", to_bucket(w.at), True, w.at, w.run_id,
                               counted=False))
    return out


def quality_verdicts(slo: SLODefinition, checks: list[Check]) -> list[Verdict]:
    sli = slo.sli
    assert isinstance(sli, QualitySLI)
    return [Verdict(f"q:{c.id}", to_bucket(c.at), c.success, c.at, c.run_id)
            for c in checks if sli.counts_assertion(c.assertion)]
