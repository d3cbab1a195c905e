"""Recomputing verdicts for a stretch of an SLO's history, and writing the difference.

A region is "every verdict of this SLO that belongs at or after `since`" (or, for
duration, a set of run keys). The evaluator recomputes a region from the store with the
same functions a full recomputation uses, compares with the stored rows of that region,
and writes only what changed, adjusting the window sums by exactly the old and new
contributions. A full recomputation is the same thing with `since` at the start of
the period and every stored row replaced.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Integer, cast, delete, select, text, union_all
from sqlalchemy.orm import Session

from app.slo.bulk import in_
from app.slo.definitions import DurationSLI, SuccessRateSLI, VolumeSLI
from app.slo.extract import (
    Touched,
    Write,
    checks_since,
    runs_by_anchor,
    runs_by_id,
    runs_started_since,
    writes_before,
    writes_by_version,
    writes_since,
)
from app.slo.ledger import from_bucket, to_bucket
from app.slo.outcome_rows import Changes, Stored, chunks, stored_keys, stored_since
from app.slo.outcomes import MedianFraction
from app.slo.units import Unit
from app.slo.verdicts import (
    GROUP_SLACK,
    HISTORY_ONLY,
    Verdict,
    duration_verdicts,
    quality_verdicts,
    success_verdicts,
    volume_verdicts,
)
from app.store.dialect import is_postgres
from app.store.slo_models import SloOutcome


def _raw(unit: Unit, stored: Mapping[str, Stored]) -> Mapping[str, Stored]:
    """The stored rows a recomputation of raw verdicts replaces: never the slices, which
    `refresh_slices` re-judges from the raw rows afterwards."""
    return {k: v for k, v in stored.items() if not v.counted} if unit.sliced else stored


def _sliced(unit: Unit, verdicts: Iterable[Verdict]) -> dict[str, Verdict]:
    if unit.sliced:
        return {v.key: Verdict(v.key, v.bucket, v.good, v.ref_at, v.run_id, v.missing, counted=False)
                for v in verdicts}
    return {v.key: v for v in verdicts}


def refresh_slices(session: Session, units: Mapping[int, Unit], changes: Changes) -> None:
    """Re-judge the time slices whose raw verdicts changed (after those were flushed)."""
    pending = {slo_id: buckets for slo_id, buckets in changes.slices.items() if buckets}
    changes.slices = defaultdict(set)
    for slo_id, buckets in pending.items():
        unit = units[slo_id]
        size = unit.slo.time_slice.window // timedelta(minutes=1)
        target = unit.slo.time_slice.target
        indices = {b // size for b in buckets}
        lo, hi = min(indices) * size, (max(indices) + 1) * size
        raw: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for bucket, good in session.execute(
            select(SloOutcome.bucket, cast(SloOutcome.good, Integer)).where(
                SloOutcome.slo_id == slo_id, SloOutcome.counted.is_(False),
                SloOutcome.key.not_like(f"{HISTORY_ONLY}%"),
                SloOutcome.bucket >= lo, SloOutcome.bucket < hi)
        ):
            cell = raw[bucket // size]
            cell[0] += good
            cell[1] += 1
        keys = {f"s:{i}" for i in indices}
        old = stored_keys(session, {slo_id: keys})[slo_id]
        fresh: dict[str, Verdict | None] = {}
        for i in indices:
            g, t = raw.get(i, (0, 0))
            fresh[f"s:{i}"] = None if t == 0 else Verdict(
                f"s:{i}", (i + 1) * size - 1, g >= target * t, from_bucket(i * size))
        changes.diff(unit, old, fresh)


# -- per SLI kind ----------------------------------------------------------------------


def success(session: Session, regions: Mapping[Unit, datetime], now: datetime, changes: Changes,
            replace: bool = False) -> None:
    since_by_job: dict[int, datetime] = {}
    for unit, since in regions.items():
        since_by_job[unit.entity_id] = min(since, since_by_job.get(unit.entity_id, since))
    runs = runs_by_anchor(session, since_by_job)
    old = {} if replace else stored_since(session, {u.id: s for u, s in regions.items()})
    for unit, since in regions.items():
        mine = [r for r in runs.get(unit.entity_id, []) if r.anchor >= since]
        fresh = _sliced(unit, success_verdicts(unit.slo, mine, since, now, unit.active_from))
        if replace:
            changes.insert_all(unit, fresh.values())
        else:
            changes.diff(unit, _raw(unit, old[unit.id]), fresh)


def duration(session: Session, runs_by_unit: Mapping[Unit, set[int]], now: datetime,
             changes: Changes) -> None:
    rows = {r.id: r for r in runs_by_id(session, {i for ids in runs_by_unit.values() for i in ids})}
    old = stored_keys(session, {u.id: {f"run:{i}" for i in ids} for u, ids in runs_by_unit.items()})
    for unit, ids in runs_by_unit.items():
        mine = [rows[i] for i in ids if i in rows and rows[i].job_id == unit.entity_id]
        fresh = duration_verdicts(unit.slo, mine, now)
        for i in ids:
            fresh.setdefault(f"run:{i}", None)
        if unit.sliced:
            fresh = {k: None if v is None else _sliced(unit, [v])[k] for k, v in fresh.items()}
        changes.diff(unit, _raw(unit, old[unit.id]), fresh)


def duration_backfill(session: Session, units: Mapping[Unit, datetime], now: datetime,
                      changes: Changes) -> None:
    since_by_job: dict[int, datetime] = {}
    for unit, floor in units.items():
        assert isinstance(unit.slo.sli, DurationSLI)
        since = floor - unit.slo.sli.threshold
        since_by_job[unit.entity_id] = min(since, since_by_job.get(unit.entity_id, since))
    runs = runs_started_since(session, since_by_job)
    for unit in units:
        fresh = duration_verdicts(unit.slo, runs.get(unit.entity_id, []), now)
        changes.insert_all(unit, _sliced(unit, [v for v in fresh.values() if v is not None]).values())


def volume(session: Session, regions: Mapping[Unit, datetime], changes: Changes,
           replace: bool = False, touched: Touched | None = None) -> None:
    """Volume verdicts from each SLO's instant on. After events (`touched` given),
    the writes come from the SLO's stored verdicts where they can (see `_known_writes`):
    finding a dataset's writes after an instant in the store ranks all its versions."""
    old = {} if replace else stored_since(session, {u.id: s for u, s in regions.items()})
    known = {} if replace or touched is None else _known_writes(session, regions, old, touched)
    rest = {u: s for u, s in regions.items() if u not in known}
    since_by_ds: dict[int, datetime] = {}
    history_by_ds: dict[int, int] = {}
    for unit, since in rest.items():
        since_by_ds[unit.entity_id] = min(since, since_by_ds.get(unit.entity_id, since))
        sli = unit.slo.sli
        assert isinstance(sli, VolumeSLI)
        if isinstance(sli.rule(), MedianFraction):
            history_by_ds[unit.entity_id] = max(sli.versions, history_by_ds.get(unit.entity_id, 0))
    writes = writes_since(session, since_by_ds)
    history = {}
    if history_by_ds:
        wanted = {d: since_by_ds[d] for d in history_by_ds}
        history = writes_before(session, wanted, max(history_by_ds.values()), with_rows=True)
    for unit, since in regions.items():
        if unit in known:
            all_writes = known[unit]
        else:
            all_writes = history.get(unit.entity_id, []) + writes.get(unit.entity_id, [])
        before = [w for w in all_writes if w.at < since]
        mine = [w for w in all_writes if w.at >= since]
        fresh = _sliced(unit, volume_verdicts(unit.slo, before, mine))
        if replace:
            changes.insert_all(unit, fresh.values())
        else:
            changes.diff(unit, _raw(unit, old[unit.id]), fresh)


# The last few volume verdicts of each SLO before its instant, one index walk each.
_LAST_VERDICTS = text("""
SELECT v.slo_id, o.ref_at, o.key
FROM unnest(CAST(:ids AS bigint[]), CAST(:befores AS timestamptz[]), CAST(:limits AS int[]))
     AS v(slo_id, before, n)
CROSS JOIN LATERAL (
    SELECT ref_at, key FROM slo_outcomes
    WHERE slo_id = v.slo_id AND ref_at < v.before AND key LIKE 'v:%'
    ORDER BY ref_at DESC LIMIT v.n
) AS o
""")


def _known_writes(session: Session, regions: Mapping[Unit, datetime], old: Mapping[int, Mapping[str, Stored]],
                  touched: Touched) -> dict[Unit, list[Write]]:
    """Writes of each SLO's dataset that its verdicts need, found through its stored
    verdicts: the last `versions` judged writes before the instant (history) and every
    judged write after it whose run did not change, plus the changed runs' writes now.

    Exact when `versions` judged writes lie before the instant and the instant is not
    below the tally floor: then the first write of the dataset (never judged) is older,
    every later write with a row count has a verdict, no verdict after the instant was
    pruned, and writes of unchanged runs are as they were. Other SLOs are left out.
    """
    wanted: dict[Unit, int] = {}
    for unit, since in regions.items():
        sli = unit.slo.sli
        if unit.tally is None or to_bucket(since) < unit.tally.floor:
            continue
        wanted[unit] = sli.versions if isinstance(sli.rule(), MedianFraction) else 0
    history: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    needing = [(u, n) for u, n in wanted.items() if n]
    # One more than needed: a tie at the cut would make the choice ambiguous.
    if needing and is_postgres(session):
        rows = session.execute(_LAST_VERDICTS, {
            "ids": [u.id for u, _ in needing], "befores": [regions[u] for u, _ in needing],
            "limits": [n + 1 for _, n in needing]})
        for slo_id, ref_at, key in rows:
            history[slo_id].append((ref_at, int(key[2:])))
    for chunk in chunks(needing if not is_postgres(session) else [], 200):
        parts = [select(SloOutcome.slo_id, SloOutcome.ref_at, SloOutcome.key).where(
            SloOutcome.slo_id == u.id, SloOutcome.ref_at < regions[u], SloOutcome.key.like("v:%"))
            .order_by(SloOutcome.ref_at.desc()).limit(n + 1).subquery().select()
            for u, n in chunk]
        for slo_id, ref_at, key in session.execute(union_all(*parts) if len(parts) > 1 else parts[0]):
            history[slo_id].append((ref_at, int(key[2:])))
    ids: dict[Unit, list[int]] = {}
    for unit, n in wanted.items():
        rows = sorted(history[unit.id], reverse=True)
        if len(rows) < n or (n and len(rows) > n and rows[n - 1][0] == rows[n][0]):
            continue
        after = [int(k[2:]) for k, v in old[unit.id].items() if k.startswith("v:") and v.run_id not in touched.run_ids]
        ids[unit] = [i for _, i in rows[:n]] + after
    found = {w.version_id: w for w in writes_by_version(session, {i for v in ids.values() for i in v})}
    changed = touched.writes(session) if ids else []
    out: dict[Unit, list[Write]] = {}
    for unit, versions in ids.items():
        mine = [found[i] for i in versions if i in found] + [w for w in changed if w.dataset_id == unit.entity_id]
        out[unit] = sorted(mine, key=lambda w: (w.at, w.version_id))
    return out


def quality(session: Session, regions: Mapping[Unit, datetime], changes: Changes,
            replace: bool = False) -> None:
    since_by_ds: dict[int, datetime] = {}
    for unit, since in regions.items():
        since_by_ds[unit.entity_id] = min(since, since_by_ds.get(unit.entity_id, since))
    checks = checks_since(session, since_by_ds)
    old = {} if replace else stored_since(session, {u.id: s for u, s in regions.items()})
    for unit, since in regions.items():
        mine = [c for c in checks.get(unit.entity_id, []) if c.at >= since]
        fresh = _sliced(unit, quality_verdicts(unit.slo, mine))
        if replace:
            changes.insert_all(unit, fresh.values())
        else:
            changes.diff(unit, _raw(unit, old[unit.id]), fresh)


def backfill(session: Session, units: list[Unit], now: datetime, changes: Changes) -> None:
    """Recompute every verdict of these SLOs over their whole period (stored rows dropped)."""
    for chunk in chunks([u.id for u in units]):
        session.execute(delete(SloOutcome).where(in_(session, SloOutcome.slo_id, chunk)))
    by_kind: dict[str, dict[Unit, datetime]] = defaultdict(dict)
    for unit in units:
        floor = from_bucket(unit.tally.floor)
        kind = unit.kind
        if kind == "success_rate":
            floor -= GROUP_SLACK
        by_kind["volume" if kind == "completeness" else kind][unit] = floor
    if by_kind["success_rate"]:
        success(session, by_kind["success_rate"], now, changes, replace=True)
    if by_kind["duration"]:
        duration_backfill(session, by_kind["duration"], now, changes)
    if by_kind["volume"]:
        volume(session, by_kind["volume"], changes, replace=True)
    if by_kind["quality"]:
        quality(session, by_kind["quality"], changes, replace=True)


def success_kind(unit: Unit) -> bool:
    return isinstance(unit.slo.sli, SuccessRateSLI)
