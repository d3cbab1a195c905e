"""Brute-force window counts of one SLO, recomputed from the store alone.

No stored verdict, window sum or cache is used: this is the reference the incremental
evaluator is tested against, and a way to check a surprising number by hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction

from sqlalchemy.orm import Session

from app.slo import recompute
from app.slo.burn import BucketSeries, Counts
from app.slo.engine import freshness_window_counts, plan
from app.slo.extract import dataset_first_seen, job_first_seen, writes_before, writes_since
from app.slo.ledger import from_bucket, slice_verdicts, to_bucket
from app.slo.outcome_rows import Changes
from app.slo.store import definition_of
from app.slo.units import Unit
from app.slo.verdicts import HISTORY_ONLY
from app.slo.windows import as_utc
from app.store.slo_models import Slo, SloDefinitionRow


def recount(session: Session, slo_id: int, now: datetime) -> dict[str, Counts]:
    """Every window's good/total of SLO `slo_id` at `now`, from runs, writes and checks."""
    now = as_utc(now)
    row = session.get(Slo, slo_id)
    d = session.get(SloDefinitionRow, row.definition_id)
    unit = Unit(row.id, d.id, d.revision, d.name, definition_of(d), row.entity, row.entity_id,
                row.namespace, row.entity_name, materialized=False)
    ranges = plan(unit.slo, now)
    if unit.entity_id is None:
        return {name: Counts() for name in ranges}
    if unit.is_freshness:
        start = min(a for a, _ in ranges.values())
        updates = writes_before(session, {unit.entity_id: start}, 1).get(unit.entity_id, []) + \
            writes_since(session, {unit.entity_id: start}).get(unit.entity_id, [])
        created = dataset_first_seen(session, [unit.entity_id]).get(unit.entity_id)
        return freshness_window_counts(unit.slo, [w.at for w in updates], now, created)
    unit.new_tally(now)
    changes = Changes()
    by_kind = {"completeness": "volume"}.get(unit.kind, unit.kind)
    floor = from_bucket(unit.tally.floor)
    if by_kind == "success_rate":
        unit.active_from = job_first_seen(session, [unit.entity_id]).get(unit.entity_id)
        recompute.success(session, {unit: floor - recompute.GROUP_SLACK}, now, changes, replace=True)
    elif by_kind == "duration":
        recompute.duration_backfill(session, {unit: floor}, now, changes)
    elif by_kind == "volume":
        recompute.volume(session, {unit: floor}, changes, replace=True)
    else:
        recompute.quality(session, {unit: floor}, changes, replace=True)
    series = BucketSeries()
    for r in changes.inserts:
        if not r["key"].startswith(HISTORY_ONLY):
            series.add(r["bucket"], int(r["good"]), 1)
    if unit.sliced:
        series = slice_verdicts(series, unit.slo.time_slice.window // timedelta(minutes=1),
                                Fraction(unit.slo.time_slice.target))
    return series.windows({name: (to_bucket(a), to_bucket(b)) for name, (a, b) in ranges.items()})
