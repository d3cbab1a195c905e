"""Glue between an `SLODefinition` and the arithmetic: which windows to count, how to
keep them incrementally, and how to judge the counts.

A caller backed by a database does three things per SLO: build a ledger once
(`new_ledger`) and feed it outcomes as events arrive, or count windows directly
(`plan` + SQL, or `freshness_window_counts`); then call `assess`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from app.slo.burn import BurnReport, Condition, Counts, evaluate, required_windows
from app.slo.definitions import FreshnessSLI, SLODefinition
from app.slo.freshness import freshness_counts
from app.slo.ledger import (
    KeyedLedger,
    RollingLedger,
    TimesliceLedger,
    WindowStart,
    from_bucket,
    to_bucket,
)
from app.slo.windows import (
    MINUTE,
    PERIOD,
    REPORT_WINDOWS,
    RollingWindow,
    ceil_time,
    evaluation_ranges,
)


def windows_for(slo: SLODefinition, at: datetime) -> dict[str, timedelta]:
    """The report windows plus any window a custom alert condition needs."""
    return {**REPORT_WINDOWS, **required_windows(slo.conditions(at))}


def counts_current_minute(slo: SLODefinition) -> bool:
    """Whether the SLO's windows end at the evaluation instant (with the current minute).

    Occurrence SLIs do: an outcome is final once stored (a later revision replaces it
    in place), so the failure that tips an SLO counts in the pass right after it, not
    when its minute closes. Time slices do not: a slice is judged over its whole length
    (freshness by the clock, Timeslices budgeting by all the outcomes of the slice),
    so the slice still filling enters the windows once it is complete.
    """
    return not isinstance(slo.sli, FreshnessSLI) and slo.budgeting != "timeslices"


def clock(slo: SLODefinition, at: datetime) -> int:
    """The (exclusive) end bucket of every window of `slo` evaluated at `at`: the
    clock its ledger or tally is advanced to."""
    return to_bucket(at) + int(counts_current_minute(slo))


def plan(slo: SLODefinition, at: datetime) -> dict[str, tuple[datetime, datetime]]:
    """[start, end) of every window to count for an evaluation at `at`."""
    return evaluation_ranges(at, slo.period(), windows_for(slo, at),
                             current=counts_current_minute(slo))


def budget_basis(slo: SLODefinition, at: datetime, length: timedelta | None = None) -> int | None:
    """Time slices in the whole current period, or None to budget on events seen.

    With time slices the denominator is known in advance, so a bad hour early in a
    calendar month costs what it will cost at the month's end, not 30 times more.
    """
    if slo.budgeting != "timeslices":
        return None
    if length is None:
        length = slo.period().nominal_length(at)
    return length // slo.time_slice.window


def assess(slo: SLODefinition, counts: Mapping[str, Counts], at: datetime,
           conditions: tuple[Condition, ...] | None = None, *, length: timedelta | None = None) -> BurnReport:
    """Judge the counts; `conditions` (as `slo.conditions(at)` gives them) and `length`
    (the period's nominal length at `at`) may be passed by a caller that keeps them,
    since a pass judges hundreds of SLOs."""
    if length is None:
        length = slo.period().nominal_length(at)
    return evaluate(
        counts,
        objective=slo.objective,
        period=length,
        conditions=slo.conditions(at) if conditions is None else conditions,
        min_events=slo.min_events,
        budget_basis=budget_basis(slo, at, length),
    )


def freshness_window_counts(
    slo: SLODefinition,
    updates: Iterable[datetime],
    at: datetime,
    active_from: datetime | None = None,
) -> dict[str, Counts]:
    """Good/total minutes of every window, straight from the update history.

    `updates` must include the last update before the longest window; freshness
    needs no ledger, since its cost is the number of updates, not of minutes.
    """
    if not isinstance(slo.sli, FreshnessSLI):
        raise TypeError(f"{slo.name} is not a freshness SLO")
    return freshness_counts(
        updates,
        slo.sli.rule(),
        plan(slo, at),
        slice_size=slo.time_slice.window,
        slice_target=slo.time_slice.target,
        active_from=active_from,
    )


def ledger_windows(slo: SLODefinition, at: datetime) -> dict[str, WindowStart]:
    """Window starts in minute buckets, in the form `RollingLedger` takes."""
    specs: dict[str, WindowStart] = {
        name: length // MINUTE for name, length in windows_for(slo, at).items()
    }
    period = slo.period()
    if isinstance(period, RollingWindow):
        specs[PERIOD] = period.length // MINUTE
    else:
        # The period is the one holding the evaluation's minute, as in `plan`.
        offset = int(counts_current_minute(slo))

        def period_start(end: int) -> int:
            start, _ = period.period(from_bucket(end - offset))
            return to_bucket(ceil_time(start, MINUTE))

        specs[PERIOD] = period_start
    return specs


def new_ledger(slo: SLODefinition, at: datetime) -> KeyedLedger | TimesliceLedger:
    """An empty incremental ledger for an event-based SLO, with its clock at `at`.

    Feed it with `record(outcome.key, to_bucket(outcome.at), outcome.good)` as events
    arrive (both kinds of ledger take that), call `advance(clock(slo, now))`, then
    `assess(slo, ledger.counts(), now)`. Rebuilding one after a restart means
    recording the outcomes of the longest window once.
    """
    rolling = RollingLedger(ledger_windows(slo, at), clock(slo, at))
    if slo.budgeting == "timeslices":
        return TimesliceLedger(rolling, slo.time_slice.window // MINUTE, slo.time_slice.target)
    return KeyedLedger(rolling)
