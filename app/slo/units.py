"""The in-memory side of one evaluated SLO: its definition, target, window sums or
freshness state, and its last report.

A `Unit` mirrors a row of `slos`. Event SLIs keep a `Tally` (window sums over the
outcome table); freshness keeps its stale stretches (`FreshSpans`). Both are rebuilt from the database
whenever the evaluator cannot vouch for them (start-up, another replica evaluated,
a pass rolled back), so losing them costs time, never correctness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.slo.burn import BurnReport, Condition, Counts
from app.slo.definitions import FreshnessSLI, SLODefinition, SuccessRateSLI
from app.slo.engine import assess, clock, ledger_windows, windows_for
from app.slo.fresh_spans import FreshSpans
from app.slo.tally import Tally
from app.slo.verdicts import CachedSchedule, cached
from app.slo.windows import PERIOD


@dataclass(eq=False)  # identity: units are dict keys within a pass
class Unit:
    id: int
    definition_id: int
    revision: int
    name: str
    slo: SLODefinition
    entity: str
    entity_id: int | None
    namespace: str
    entity_name: str
    materialized: bool
    owner: str | None = None
    tier: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    active_from: datetime | None = None
    tally: Tally | None = None
    fresh: FreshSpans | None = None
    # The next schedule tick whose run would be missing once its grace has passed.
    next_tick: datetime | None = None
    report: BurnReport | None = None
    report_key: tuple | None = None
    _schedule: CachedSchedule | None = None
    # Digest of the numbers of the latest stored evaluation (slos.report_key).
    stored_key: str | None = None
    _conditions: tuple[timedelta, tuple[Condition, ...]] | None = None
    # (tally version, period length) when last judged: unchanged means the same report.
    tally_seen: tuple[int, timedelta] | None = None

    @property
    def kind(self) -> str:
        return self.slo.sli.kind

    @property
    def is_freshness(self) -> bool:
        return isinstance(self.slo.sli, FreshnessSLI)

    @property
    def sliced(self) -> bool:
        """An event SLI budgeted in time slices: raw verdicts are kept, slices counted."""
        return not self.is_freshness and self.slo.budgeting == "timeslices"

    @property
    def target(self) -> str:
        """The lineage node id of the target, e.g. dataset:warehouse:orders."""
        return f"{self.entity}:{self.namespace}:{self.entity_name}"

    @property
    def ready(self) -> bool:
        return self.entity_id is not None and self.materialized

    def new_tally(self, now: datetime) -> Tally:
        self.tally = Tally(ledger_windows(self.slo, now), clock(self.slo, now))
        return self.tally

    def counts(self, now: datetime) -> dict[str, Counts]:
        if self.entity_id is None:
            return {name: Counts() for name in [*windows_for(self.slo, now), PERIOD]}
        if self.fresh is not None:
            return self.fresh.counts(now)
        assert self.tally is not None
        return self.tally.counts()

    def assess(self, counts: dict[str, Counts], now: datetime, length: timedelta | None = None) -> BurnReport:
        """`engine.assess`, with the alert conditions kept while the period length stays
        (`length`: the period's nominal length at `now`, when the caller has it)."""
        if length is None:
            length = self.slo.period().nominal_length(now)
        if self._conditions is None or self._conditions[0] != length:
            self._conditions = (length, self.slo.conditions(now))
        return assess(self.slo, counts, now, self._conditions[1], length=length)

    def grace(self) -> timedelta:
        sli = self.slo.sli
        if isinstance(sli, SuccessRateSLI) and sli.schedule is not None:
            return sli.schedule.grace
        return timedelta(0)

    def first_tick_due_from(self, at: datetime) -> datetime | None:
        """The earliest tick whose due time (tick + grace) is at or after `at`."""
        sli = self.slo.sli
        if not isinstance(sli, SuccessRateSLI) or sli.schedule is None:
            return None
        if self._schedule is None:
            self._schedule = cached(sli.schedule.schedule())
        return self._schedule.next_after(at - sli.schedule.grace - timedelta(microseconds=1))
