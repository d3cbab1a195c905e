"""Evaluating every SLO: the incremental pass, its stored results, and the signals.

One pass at `now` (under the scheduler's lease, so one replica at a time):

1. targets: new definitions and selector matches become rows of `slos`;
2. change feed: raw events with an id above the watermark name the runs that changed
   (plus ids that were missing from the sequence last time: a transaction that had not
   committed yet, which may still land);
3. the window sums move to `now`, reading only the minutes that entered or left each
   window (`tally.advance_all`);
4. regions are recomputed from the store: after a changed run, everything of its job's
   SLOs from that run's group on; after the clock passed a schedule tick's grace, from
   that tick on (a run that never came is a failure with no event); runs that overran a
   duration threshold while still running; writes and assertions of changed runs. Only
   the verdicts that differ are written, and the sums move by exactly those;
5. SLOs whose definition is new or changed are recomputed over their whole period;
   freshness SLOs apply the changed runs' writes to their stored stale stretches
   (`fresh_store`), and the clock extends an open stretch with no event;
6. every SLO is assessed (`engine.assess`); one whose sums did not move, or whose
   counts did not change, reuses the previous report and is not stored again.

When the in-memory state cannot be trusted (first pass, another replica evaluated in
between, a rolled-back pass, a clock jump) it is rebuilt from what passes stored: one
aggregate over `slo_outcomes` for the window sums, the stored stretches and last write
of each freshness SLO. Still no rescan of runs or writes.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.slo import fresh_store, recompute
from app.slo.bulk import store_evaluations
from app.slo.definitions import DurationSLI, SuccessRateSLI
from app.slo.engine import clock
from app.slo.evaluation import Evaluation, PassStats
from app.slo.extract import (
    job_first_seen,
    max_event_id,
    running_started_between,
    runs_by_id,
    touched_by_events,
)
from app.slo.ledger import to_bucket
from app.slo.outcome_rows import Changes, Stored, prune, stored_by_runs
from app.slo.report import history_document
from app.slo.store import definition_of, resolve_entities, sync_targets
from app.slo.tally import MAX_INCREMENTAL_MINUTES, advance_all, cold_sums
from app.slo.units import Unit
from app.slo.windows import as_utc
from app.store.slo_models import Slo, SloDefinitionRow, SloEvaluatorState

SELECTOR_REFRESH = timedelta(minutes=5)
PRUNE_EVERY = timedelta(hours=1)
GAP_TTL_SECONDS = 120.0
MAX_GAPS = 10_000


class Evaluator:
    """Holds the in-memory sums between passes; one per process (see module doc)."""

    def __init__(self) -> None:
        self.units: dict[int, Unit] = {}
        self.token: str | None = None
        self.now: datetime | None = None
        self.gaps: dict[int, float] = {}
        self.selectors_at: datetime | None = None
        self.pruned_at: datetime | None = None
        self.last: PassStats | None = None
        # Called inside the pass's transaction with every evaluation (alerting hooks in).
        self.listeners: list[Callable[[Session, list[Evaluation]], None]] = []
        self.removed: list[Unit] = []
        self.fingerprint: tuple | None = None

    # -- the pass --------------------------------------------------------------------

    def run(self, session: Session, now: datetime, *, full: bool = False) -> list[Evaluation]:
        """Evaluate every SLO at `now` (flush only: the caller commits). `full` recomputes
        every verdict from the store, as after a definition change."""
        started = time.perf_counter()
        phases: dict[str, float] = {}
        mark = [started]

        def lap(name: str) -> None:
            t = time.perf_counter()
            phases[name] = phases.get(name, 0.0) + t - mark[0]
            mark[0] = t

        now = as_utc(now)
        state = session.get(SloEvaluatorState, 1)
        if state is None:
            state = SloEvaluatorState(id=1, event_watermark=max_event_id(session), token="")
            session.add(state)
            session.flush()
        warm = (not full and self.token is not None and state.token == self.token
                and self.now is not None and self.now <= now
                and to_bucket(now) - to_bucket(self.now) <= MAX_INCREMENTAL_MINUTES)
        if not warm:
            self.units = {}
            self.gaps = {i: time.monotonic() for i in state.pending or []}
        prev = min(self.now if warm else (state.evaluated_at or now), now)

        if not warm or self.selectors_at is None or now - self.selectors_at >= SELECTOR_REFRESH \
                or now < self.selectors_at:
            sync_targets(session, now=now)
            self.selectors_at = now
        carried, loaded = self._load_units(session, now, full)
        lap("units")

        touched = touched_by_events(session, state.event_watermark, self.gaps)
        lap("events")
        advance_all(session, {u.id: u.tally for u in carried if u.tally is not None},
                    {u.id: clock(u.slo, now) for u in carried if u.tally is not None})
        lap("advance")
        changes = Changes()
        to_backfill = [u for u in loaded if not u.materialized and u.entity_id is not None
                       and not u.is_freshness]
        if to_backfill:
            recompute.backfill(session, to_backfill, now, changes)
        ready = [u for u in [*carried, *loaded] if u.ready and not u.is_freshness]
        old_rows = self._stored_of_touched(session, touched)
        self._recompute(session, ready, touched, prev, now, changes, old_rows)
        changes.flush(session)
        recompute.refresh_slices(session, self.units, changes)
        changes.flush(session)
        lap("recompute")
        cold = [u for u in loaded if u.tally is not None and u.entity_id is not None]
        cold_sums(session, {u.id: u.tally for u in cold})
        lap("cold_sums")
        self._refresh_freshness(session, loaded, touched, now, changes, old_rows)
        lap("freshness")
        materialized = [u for u in loaded if u.entity_id is not None and not u.materialized]
        for u in materialized:
            u.materialized = True
        if materialized:
            session.execute(update(Slo), [{"id": u.id, "materialized_revision": u.revision}
                                          for u in materialized])

        evaluations, rows = self._assess(now)
        lap("assess")
        store_evaluations(session, rows)
        lap("store")
        if self.pruned_at is None or now - self.pruned_at >= PRUNE_EVERY or now < self.pruned_at:
            prune(session, {u.id: u.tally.floor for u in self.units.values()
                                      if u.tally is not None and u.ready})
            fresh_store.prune(session, self.units, now)
            self.pruned_at = now
        lap("prune")
        for listener in self.listeners:
            listener(session, evaluations)
        lap("listeners")

        self._advance_watermark(state, touched)
        self.token = uuid.uuid4().hex
        state.token, state.evaluated_at, self.now = self.token, now, now
        session.flush()
        self.last = PassStats("incremental" if warm else "full", len(evaluations),
                              sum(e.changed for e in evaluations), len(to_backfill), changes.count,
                              len(touched.seen_event_ids), time.perf_counter() - started, phases)
        return evaluations

    # -- units -----------------------------------------------------------------------

    def _load_units(self, session: Session, now: datetime, full: bool) -> tuple[list[Unit], list[Unit]]:
        """Units kept from the last pass (carried) and units built now (loaded).

        When the definitions and SLO rows are as they were at the last pass (one small
        aggregate over each table says so), every unit is carried without reading them."""
        if any(u.entity_id is None for u in self.units.values()):
            resolve_entities(session)
        fingerprint = (
            tuple(session.execute(select(func.count(), func.max(SloDefinitionRow.id),
                                         func.sum(SloDefinitionRow.revision),
                                         func.max(SloDefinitionRow.updated_at))).one()),
            tuple(session.execute(select(func.count(), func.max(Slo.id), func.count(Slo.entity_id),
                                         func.sum(Slo.entity_id))).one()),
        )
        if self.units and fingerprint == self.fingerprint \
                and all(u.materialized or u.entity_id is None for u in self.units.values()):
            self.removed = []
            return list(self.units.values()), []
        self.fingerprint = fingerprint
        defs = {row.id: row for row in session.scalars(select(SloDefinitionRow))}
        columns = (Slo.id, Slo.definition_id, Slo.entity, Slo.namespace, Slo.entity_name,
                   Slo.entity_id, Slo.materialized_revision, Slo.report_key)
        rows = session.execute(select(*columns)).all()
        if any(r.entity_id is None for r in rows):
            resolve_entities(session)
            rows = session.execute(select(*columns)).all()
        carried, loaded, units = [], [], {}
        for r in rows:
            d = defs[r.definition_id]
            unit = self.units.get(r.id)
            if unit is not None and unit.revision == d.revision and unit.entity_id == r.entity_id \
                    and (unit.materialized or unit.entity_id is None):
                carried.append(unit)
            else:
                slo = definition_of(d)
                unit = Unit(r.id, d.id, d.revision, d.name, slo, r.entity, r.entity_id, r.namespace,
                            r.entity_name, materialized=not full and r.materialized_revision == d.revision,
                            owner=d.owner, tier=d.tier, labels=dict(d.labels or {}))
                unit.stored_key = r.report_key
                if not unit.is_freshness:
                    unit.new_tally(now)
                loaded.append(unit)
            units[r.id] = unit
        scheduled = [u for u in loaded if u.entity_id is not None and u.first_tick_due_from(now) is not None]
        if scheduled:
            seen = job_first_seen(session, {u.entity_id for u in scheduled})
            for u in scheduled:
                u.active_from = seen.get(u.entity_id)
        self.removed = [u for i, u in self.units.items() if i not in units]
        self.units = units
        return carried, loaded

    # -- regions ---------------------------------------------------------------------

    def _stored_of_touched(self, session: Session, touched) -> dict[int, list[Stored]]:
        """The stored verdicts of the changed runs, by SLO, for every SLO of a target they
        touched, in one query: event SLOs diff theirs in `_recompute`, freshness SLOs in
        `fresh_store.apply_touched`. Each SLO's rows are written only by the step that
        diffs them, so reading all of them first reads each before the pass changes it."""
        ids = [u.id for u in self.units.values() if u.entity_id is not None
               and u.entity_id in (touched.job_ids if u.entity == "job" else touched.dataset_ids)]
        out: dict[int, list[Stored]] = defaultdict(list)
        for s in stored_by_runs(session, ids, touched.run_ids):
            out[s.slo_id].append(s)
        return out

    def _recompute(self, session: Session, ready: list[Unit], touched, prev: datetime,
                   now: datetime, changes: Changes, old_rows: dict[int, list[Stored]]) -> None:
        by_job: dict[int, list[Unit]] = defaultdict(list)
        by_ds: dict[int, list[Unit]] = defaultdict(list)
        for u in ready:
            (by_job if u.entity == "job" else by_ds)[u.entity_id].append(u)
        success: dict[Unit, datetime] = {}
        durations: dict[Unit, set[int]] = defaultdict(set)
        datasets: dict[Unit, datetime] = {}

        def widen(region: dict[Unit, datetime], unit: Unit, at: datetime) -> None:
            region[unit] = min(at, region.get(unit, at))

        # Time: schedule ticks whose grace ran out, and runs that overran while running.
        for u in ready:
            if isinstance(u.slo.sli, SuccessRateSLI) and u.slo.sli.schedule is not None:
                if u.next_tick is None:
                    u.next_tick = u.first_tick_due_from(prev)
                if u.next_tick is not None and u.next_tick + u.grace() < now:
                    widen(success, u, u.next_tick)
                    u.next_tick = u.first_tick_due_from(now)
        timed = [u for u in ready if isinstance(u.slo.sli, DurationSLI)]
        if timed and prev < now:
            longest = max(u.slo.sli.threshold for u in timed)
            shortest = min(u.slo.sli.threshold for u in timed)
            for run in running_started_between(session, {u.entity_id for u in timed},
                                               prev - longest, now - shortest):
                for u in by_job.get(run.job_id, []):
                    if u in timed and prev <= run.started_at + u.slo.sli.threshold < now:
                        durations[u].add(run.id)

        # Events: what the changed runs did to their jobs' and datasets' SLOs.
        job_units = [u for j in touched.job_ids for u in by_job.get(j, [])]
        ds_units = [u for d in touched.dataset_ids for u in by_ds.get(d, [])]
        for unit in [*job_units, *ds_units]:
            for s in old_rows.get(unit.id, ()):
                if isinstance(unit.slo.sli, DurationSLI):
                    durations[unit].add(s.run_id)
                elif unit.entity == "job":
                    widen(success, unit, s.ref_at)
                else:
                    widen(datasets, unit, s.ref_at)
        if job_units:
            for run in runs_by_id(session, touched.run_ids):
                for u in by_job.get(run.job_id, []):
                    if isinstance(u.slo.sli, DurationSLI):
                        durations[u].add(run.id)
                    elif run.anchor is not None:
                        widen(success, u, run.anchor - u.grace())
                        if u.active_from is not None and run.anchor < u.active_from:
                            # Older than anything seen: the ticks in between now count.
                            widen(success, u, run.anchor - u.grace())
                            u.active_from = run.anchor
        if ds_units:
            quality_ds = {u.entity_id for u in ds_units if u.kind == "quality"}
            volume_ds = {u.entity_id for u in ds_units if u.kind != "quality"}
            events: list[tuple[int, datetime, bool]] = []
            if volume_ds:
                events += [(w.dataset_id, w.at, False) for w in touched.writes(session)
                           if w.dataset_id in volume_ds]
            if quality_ds:
                events += [(c.dataset_id, c.at, True) for c in touched.checks
                           if c.dataset_id in quality_ds]
            for dataset_id, at, is_check in events:
                for u in by_ds.get(dataset_id, []):
                    if (u.kind == "quality") == is_check:
                        widen(datasets, u, at)

        if success:
            recompute.success(session, success, now, changes)
        if durations:
            recompute.duration(session, durations, now, changes)
        volume = {u: s for u, s in datasets.items() if u.kind != "quality"}
        quality = {u: s for u, s in datasets.items() if u.kind == "quality"}
        if volume:
            recompute.volume(session, volume, changes, touched=touched)
        if quality:
            recompute.quality(session, quality, changes)

    def _refresh_freshness(self, session: Session, loaded: list[Unit], touched, now: datetime,
                           changes: Changes, old_rows: dict[int, list[Stored]]) -> None:
        """Build or load the state of freshness SLOs new to this evaluator, then apply
        the changed runs to every one whose dataset they wrote (see fresh_store)."""
        new = [u for u in loaded if u.is_freshness and u.entity_id is not None]
        built = [u for u in new if not u.materialized]
        built += fresh_store.load(session, [u for u in new if u.materialized], now)
        fresh_store.build(session, built, now, changes)
        skip = set(built)
        stale = [u for u in self.units.values() if u.fresh is not None and u not in skip
                 and u.entity_id in touched.dataset_ids]
        fresh_store.apply_touched(session, stale, touched, now, changes, old_rows)
        changes.flush(session)

    # -- results ---------------------------------------------------------------------

    def _assess(self, now: datetime) -> tuple[list[Evaluation], list[dict]]:
        """Every SLO's evaluation, and the rows to store for those whose numbers changed."""
        out, rows = [], []
        for u in self.units.values():
            length = u.slo.period().nominal_length(now)
            if u.tally is not None and u.report is not None and u.entity_id is not None:
                # Sums that did not move give the report they gave (same period length).
                seen = (u.tally.version, length)
                if seen == u.tally_seen:
                    out.append(Evaluation(u.id, u.name, u.entity, u.entity_id, u.namespace, u.entity_name,
                                          u.owner, u.tier, u.labels, now, u.report, False))
                    continue
                u.tally_seen = seen
            counts = u.counts(now)
            key = (tuple(sorted((n, c.good, c.total) for n, c in counts.items())),
                   length, u.definition_id, u.revision)
            changed = key != u.report_key or u.report is None
            if changed:
                u.report, u.report_key = u.assess(counts, now, length), key
            digest = hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
            if digest != u.stored_key:
                u.stored_key = digest
                rows.append({"slo_id": u.id, "evaluated_at": now, "state": u.report.state,
                             "severity": u.report.severity,
                             "budget_remaining": None if u.report.budget.no_data
                             else float(u.report.budget.remaining),
                             "report": history_document(u.report, u.revision), "key": digest})
            out.append(Evaluation(u.id, u.name, u.entity, u.entity_id, u.namespace, u.entity_name,
                                  u.owner, u.tier, u.labels, now, u.report, changed))
        return out, rows

    def _advance_watermark(self, state: SloEvaluatorState, touched) -> None:
        clock = time.monotonic()
        for i in touched.seen_event_ids:
            self.gaps.pop(i, None)
        if touched.max_event_id - state.event_watermark <= 10 * MAX_GAPS:
            for i in range(state.event_watermark + 1, touched.max_event_id):
                if i not in touched.seen_event_ids:
                    self.gaps[i] = clock
        self.gaps = {i: t for i, t in self.gaps.items() if clock - t < GAP_TTL_SECONDS}
        if len(self.gaps) > MAX_GAPS:
            self.gaps = dict(sorted(self.gaps.items())[-MAX_GAPS:])
        state.event_watermark = max(state.event_watermark, touched.max_event_id)
        state.pending = sorted(self.gaps) or None


def evaluate_all(session: Session, now: datetime, evaluator: Evaluator | None = None) -> list[Evaluation]:
    """Evaluate every SLO at `now` and store what changed (flush only).

    Without an evaluator the pass starts cold: window sums come from one aggregate over
    the stored verdicts, as after a restart. The service keeps one evaluator instead.
    """
    return (evaluator or Evaluator()).run(session, now)
