"""Freshness SLOs in the database: their writes as `w:` rows, their stale stretches.

Each freshness SLO keeps, in `slo_outcomes`, one row per write it counts (key
`w:<run id>`, never counted in a window: its only use is telling which instant a changed
run wrote at before), and in `slo_fresh_spans` its closed stale stretches (see
`app.slo.fresh_spans`). With those, a pass never reloads a dataset's history:

- build (a new or changed SLO, or one whose stored state starts too late): every write
  from the horizon on, and the last one before it, read from the store once;
- load (after a restart): the stretches, the latest `w:` row, `slos.fresh_from`;
- touched runs: the stored rows of those runs against what they write now; when an
  instant changed, the stretches are recomputed from the last write before it (nearly
  always the SLO's last write, known in memory, so no query at all).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from app.slo.bulk import in_
from app.slo.extract import (
    Touched,
    aware,
    dataset_first_seen,
    writes_before,
    writes_since,
)
from app.slo.fresh_spans import FreshSpans, earliest_change, horizon
from app.slo.freshness import Interval
from app.slo.ledger import to_bucket
from app.slo.outcome_rows import Changes, Stored, stored_by_runs
from app.slo.units import Unit
from app.slo.verdicts import Verdict
from app.slo.windows import as_utc
from app.store.slo_models import Slo, SloFreshSpan, SloOutcome

CHUNK = 500


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _verdict(run_id: int, at: datetime) -> Verdict:
    return Verdict(f"w:{run_id}", to_bucket(at), True, at, run_id, counted=False)


def _span_rows(unit: Unit, spans: Iterable[Interval]) -> list[dict]:
    return [{"slo_id": unit.id, "start_at": a, "end_at": b} for a, b in spans]


def build(session: Session, units: list[Unit], now: datetime, changes: Changes) -> None:
    """Rebuild the state of these SLOs from the store (stored rows and stretches replaced)."""
    if not units:
        return
    since = {u: horizon(u.slo, now) for u in units}
    by_ds: dict[int, datetime] = {}
    for u, s in since.items():
        by_ds[u.entity_id] = min(s, by_ds.get(u.entity_id, s))
    writes = writes_since(session, by_ds, rows=False)
    before = writes_before(session, by_ds, 1)
    first_seen = dataset_first_seen(session, by_ds)
    ids = [u.id for u in units]
    for chunk in _chunks(ids):
        session.execute(delete(SloOutcome).where(in_(session, SloOutcome.slo_id, chunk)))
        session.execute(delete(SloFreshSpan).where(in_(session, SloFreshSpan.slo_id, chunk)))
    spans: list[dict] = []
    for u in units:
        found = before.get(u.entity_id, []) + writes.get(u.entity_id, [])
        s = since[u]
        earlier = [w for w in found if w.at < s]
        last_before = max(earlier, key=lambda w: (w.at, w.run_id), default=None)
        mine = [w for w in found if w.at >= s]
        u.fresh = FreshSpans(u.slo, first_seen.get(u.entity_id), s)
        spans += _span_rows(u, u.fresh.reset(s, last_before.at if last_before else None, [w.at for w in mine]))
        kept = mine + ([last_before] if last_before is not None else [])
        changes.insert_all(u, [_verdict(w.run_id, w.at) for w in kept])
    if spans:
        session.execute(insert(SloFreshSpan), spans)
    session.execute(update(Slo), [{"id": u.id, "fresh_from": since[u]} for u in units])


def load(session: Session, units: list[Unit], now: datetime) -> list[Unit]:
    """State of materialised SLOs from the database; returns those that need a build
    instead (nothing stored, or stored from later than their windows now reach)."""
    if not units:
        return []
    ids = [u.id for u in units]
    spans: dict[int, list[Interval]] = defaultdict(list)
    latest: dict[int, tuple[datetime | None, datetime | None]] = {}
    o = aliased(SloOutcome)
    last = select(func.max(o.ref_at)).where(o.slo_id == Slo.id).scalar_subquery()
    for chunk in _chunks(ids):
        for slo_id, a, b in session.execute(
            select(SloFreshSpan.slo_id, SloFreshSpan.start_at, SloFreshSpan.end_at)
            .where(in_(session, SloFreshSpan.slo_id, chunk)).order_by(SloFreshSpan.start_at)
        ):
            spans[slo_id].append((a, b))
        for slo_id, fresh_from, at in session.execute(select(Slo.id, Slo.fresh_from, last).where(in_(session, Slo.id, chunk))):
            latest[slo_id] = (fresh_from, at)
    first_seen = dataset_first_seen(session, {u.entity_id for u in units})
    rebuild = []
    for u in units:
        fresh_from, at = latest.get(u.id, (None, None))
        if fresh_from is None:
            rebuild.append(u)
            continue
        u.fresh = FreshSpans(u.slo, first_seen.get(u.entity_id), fresh_from, spans.get(u.id, []),
                             aware(at) if at is not None else None)
        if not u.fresh.covers(now):
            rebuild.append(u)
    return rebuild


def apply_touched(session: Session, units: list[Unit], touched: Touched, now: datetime,
                  changes: Changes, stored: Mapping[int, list[Stored]] | None = None) -> None:
    """Bring the state of these SLOs up to date with the runs that changed (`stored`:
    their stored verdicts of those runs by SLO, when the caller read them already)."""
    if not units:
        return
    new_by_ds: dict[int, dict[int, datetime]] = defaultdict(dict)
    for w in touched.writes(session):
        new_by_ds[w.dataset_id][w.run_id] = as_utc(w.at)
    if stored is None:
        stored = defaultdict(list)
        for s in stored_by_runs(session, [u.id for u in units], touched.run_ids):
            stored[s.slo_id].append(s)
    old_rows: dict[int, dict[str, Stored]] = defaultdict(dict)
    for u in units:
        for s in stored.get(u.id, ()):
            old_rows[u.id][s.key] = s
    first_seen = dataset_first_seen(session, {u.entity_id for u in units})
    spans: list[dict] = []
    rebuild = []
    for u in units:
        u.fresh.active_from = first_seen.get(u.entity_id)  # a late write may predate all
        old = {s.run_id: as_utc(s.ref_at) for s in old_rows[u.id].values()}
        new = new_by_ds.get(u.entity_id, {})
        changed = earliest_change(old, new)
        if changed is None:
            continue
        moved = {r for r in old.keys() | new.keys() if old.get(r) != new.get(r)}
        if u.fresh.last is not None and u.fresh.last < changed:
            start = u.fresh.last  # the common case: writes after the last one
            ups = [start, *(new[r] for r in moved if r in new)]
        else:
            start = _last_before(session, u.id, changed)
            if start is None:
                rebuild.append(u)
                continue
            stored = _rows_since(session, u.id, start)
            ups = [t for r, t in stored.items() if r not in moved] + [new[r] for r in moved if r in new]
        if u.fresh.stale_from(start):
            session.execute(delete(SloFreshSpan).where(SloFreshSpan.slo_id == u.id, SloFreshSpan.start_at >= start))
        spans += _span_rows(u, u.fresh.replace_from(start, ups))
        changes.diff(u, {k: v for k, v in old_rows[u.id].items() if v.run_id in moved},
                     {f"w:{r}": (_verdict(r, new[r]) if r in new else None) for r in moved})
    if spans:
        session.execute(insert(SloFreshSpan), spans)
    build(session, rebuild, now, changes)


def _last_before(session: Session, slo_id: int, at: datetime) -> datetime | None:
    found = session.scalar(select(func.max(SloOutcome.ref_at)).where(
        SloOutcome.slo_id == slo_id, SloOutcome.ref_at < at))
    return aware(found) if found is not None else None


def _rows_since(session: Session, slo_id: int, at: datetime) -> dict[int, datetime]:
    rows = session.execute(select(SloOutcome.run_id, SloOutcome.ref_at).where(
        SloOutcome.slo_id == slo_id, SloOutcome.ref_at >= at))
    return {run_id: as_utc(aware(t)) for run_id, t in rows}


def prune(session: Session, units: Mapping[int, Unit], now: datetime) -> int:
    """Drop rows and stretches no window can reach, keeping each SLO's last write
    before its horizon (the open stretch and the next recomputation start there)."""
    removed = 0
    by_horizon: dict[datetime, list[int]] = defaultdict(list)
    for u in units.values():
        if u.fresh is not None:
            by_horizon[horizon(u.slo, now)].append(u.id)
    o = aliased(SloOutcome)
    for at, ids in by_horizon.items():
        for chunk in _chunks(ids):
            keep = select(func.max(o.ref_at)).where(o.slo_id == SloOutcome.slo_id, o.ref_at < at).scalar_subquery()
            result = session.execute(delete(SloOutcome).where(
                in_(session, SloOutcome.slo_id, chunk), SloOutcome.ref_at < at, SloOutcome.ref_at < keep))
            removed += result.rowcount or 0
            session.execute(delete(SloFreshSpan).where(in_(session, SloFreshSpan.slo_id, chunk), SloFreshSpan.end_at < at))
    return removed
