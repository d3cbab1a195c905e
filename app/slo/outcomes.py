"""Turning runs and writes into good/bad outcomes for occurrence SLIs.

Each outcome carries a key, the identity under which it is counted once: feeding
outcomes into a `KeyedLedger` makes duplicated, reordered and retried events
harmless, because a key recorded again replaces what it said before.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from typing import Any

from app.slo.schedule import CronSchedule
from app.slo.windows import as_utc

# OpenLineage event types and the run states the store keeps (Marquez's names).
GOOD_STATES = frozenset({"COMPLETE", "COMPLETED"})
BAD_STATES = frozenset({"FAIL", "FAILED", "ABORT", "ABORTED"})


@dataclass(frozen=True)
class RunRecord:
    """One attempt of a job run, as far as the SLIs care.

    `nominal_time` is the schedule tick the attempt belongs to. For orchestrators
    whose nominal start is the start of a data interval (Airflow), pass the nominal
    end instead: that is the tick at which the run is due.
    """

    run_id: str
    state: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    nominal_time: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state.upper() in GOOD_STATES | BAD_STATES

    @property
    def succeeded(self) -> bool:
        return self.state.upper() in GOOD_STATES


@dataclass(frozen=True)
class Outcome:
    key: str
    at: datetime
    good: bool
    # An expected run that never started: bad without any event having arrived.
    missing: bool = False
    attempts: int = 1
    run_id: str | None = None


@lru_cache(maxsize=65536)  # every pass keys the same recent ticks and nominal times again
def _tick_key(tick: datetime) -> str:
    return "tick:" + as_utc(tick).replace(microsecond=0).isoformat()


def _finish_time(run: RunRecord) -> datetime | None:
    at = run.ended_at or run.started_at or run.nominal_time
    return as_utc(at) if at is not None else None


def success_outcomes(
    runs: Iterable[RunRecord],
    start: datetime,
    end: datetime,
    *,
    schedule: CronSchedule | None = None,
    grace: timedelta = timedelta(hours=1),
) -> list[Outcome]:
    """Success-rate outcomes whose time falls in [start, end), sorted by time.

    Attempts of one scheduled run (same nominal time, or started within `grace` of
    the same tick) count once, by the state of the attempt that finished last. With a
    schedule, a tick with no run at all by `tick + grace` is a failed outcome at that
    instant. Unfinished runs count only once they finish.
    """
    start, end = as_utc(start), as_utc(end)
    runs = list(runs)
    ticks: list[datetime] = []
    if schedule is not None:
        earliest = min([start - grace] + [as_utc(r.started_at) - grace
                                           for r in runs if r.started_at is not None])
        ticks = schedule.ticks(earliest, end)
    groups: dict[str, list[RunRecord]] = {}
    for run in runs:
        groups.setdefault(_run_key(run, ticks, grace), []).append(run)

    out: list[Outcome] = []
    for key, attempts in groups.items():
        finished = [a for a in attempts if a.finished and _finish_time(a) is not None]
        if not finished:
            continue
        final = max(finished, key=lambda a: (_finish_time(a), a.succeeded, a.run_id))
        at = _finish_time(final)
        if start <= at < end:
            out.append(Outcome(key, at, final.succeeded, attempts=len({a.run_id for a in attempts}),
                               run_id=final.run_id))
    for tick in ticks:
        due = tick + grace
        if start <= due < end and _tick_key(tick) not in groups:
            out.append(Outcome(_tick_key(tick), due, False, missing=True, attempts=0))
    out.sort(key=lambda o: (o.at, o.key))
    return out


def _run_key(run: RunRecord, ticks: Sequence[datetime], grace: timedelta) -> str:
    if run.nominal_time is not None:
        return _tick_key(run.nominal_time)
    if run.started_at is not None and ticks:
        started = as_utc(run.started_at)
        # The latest tick at or before the start, if the start is within its grace.
        i = bisect_right(ticks, started) - 1
        if i >= 0 and started < ticks[i] + grace:
            return _tick_key(ticks[i])
    return "run:" + run.run_id


def duration_outcome(run: RunRecord, threshold: timedelta, now: datetime) -> Outcome | None:
    """Did the run finish within `threshold`? Known as soon as it overruns.

    A run still going at `started + threshold` is bad from that instant, before it
    ends: waiting for the end would hide exactly the runs that hang. Any finished run
    is judged by its duration alone; whether it succeeded is the success-rate SLI's
    business.
    """
    if run.started_at is None:
        return None
    started, now = as_utc(run.started_at), as_utc(now)
    deadline = started + threshold
    key = "run:" + run.run_id
    if run.finished and run.ended_at is not None:
        ended = as_utc(run.ended_at)
        if ended <= deadline:
            return Outcome(key, ended, True, run_id=run.run_id)
        return Outcome(key, deadline, False, run_id=run.run_id)
    if now >= deadline:
        return Outcome(key, deadline, False, run_id=run.run_id)
    return None


@dataclass(frozen=True)
class MinRows:
    min_rows: int


@dataclass(frozen=True)
class MedianFraction:
    """At least `fraction` of the median row count of the previous `versions` writes."""

    fraction: Fraction
    versions: int


VolumeRule = MinRows | MedianFraction


def median(values: Sequence[int]) -> Fraction:
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return Fraction(ordered[mid])
    return Fraction(ordered[mid - 1] + ordered[mid], 2)


def volume_is_good(row_count: int, rule: VolumeRule, history: Sequence[int] = ()) -> bool | None:
    """Judge one completed write; None when there is no history to compare with yet.

    `history` holds the row counts of earlier versions, oldest first; only the last
    `versions` are used, fewer while the dataset is young.
    """
    if isinstance(rule, MinRows):
        return row_count >= rule.min_rows
    recent = list(history)[-rule.versions:]
    if not recent:
        return None
    return row_count >= rule.fraction * median(recent)


def row_count(facets: Mapping[str, Any]) -> int | None:
    """Row count of a dataset from its OpenLineage facets, output statistics first."""
    for facet in ("outputStatistics", "dataQualityMetrics"):
        value = facets.get(facet)
        if isinstance(value, Mapping):
            count = value.get("rowCount")
            if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                return count
    return None
