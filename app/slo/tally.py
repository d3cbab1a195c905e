"""Window sums over `slo_outcomes`, kept in memory and moved incrementally.

This is `app.slo.ledger.RollingLedger` with its buckets in the database instead of a
dict: the per-bucket verdicts live in `slo_outcomes` (durable, shared by replicas),
and only the running good/total of each window stays in memory, a few integers per SLO.

- Cold start: one aggregate per group of SLOs sharing window starts
  (`SUM(CASE WHEN bucket >= start ...)`), i.e. one scan of the period's outcomes.
- Clock moves from t0 to t1: for each window, the buckets entering ([t0, t1)) are added
  and those leaving (from the old start to the new one) subtracted. SLOs with the same
  windows need the same ranges, so a pass issues one small range query per distinct
  range, answered from the bucket index; its cost follows the minutes that passed, not
  the length of the period.
- A verdict inserted, changed or withdrawn adjusts exactly the windows containing its
  bucket (`add`), as `RollingLedger.add` does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from sqlalchemy import Integer, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from app.slo.bulk import in_
from app.slo.burn import Counts
from app.slo.ledger import WindowStart
from app.store.slo_models import SloOutcome

# Past this many minutes since the last pass, one cold aggregate beats many ranges.
MAX_INCREMENTAL_MINUTES = 6 * 60
CHUNK = 500
# Distinct window starts one cold aggregate sums over (two sums each).
MAX_STARTS = 40


class Tally:
    def __init__(self, specs: Mapping[str, WindowStart], now: int) -> None:
        self.specs = dict(specs)
        # What `_shape` needs of the specs, which never change: built once, not per pass.
        self.spec_key = tuple((n, s if isinstance(s, int) else id(s)) for n, s in self.specs.items())
        self.now = now
        self.starts = {name: self._start_of(name, now) for name in self.specs}
        self.sums = {name: [0, 0] for name in self.specs}
        # Bumped whenever a sum changes: a pass re-judges only tallies that moved.
        self.version = 0

    def _start_of(self, name: str, now: int) -> int:
        spec = self.specs[name]
        start = now - spec if isinstance(spec, int) else spec(now)
        return min(start, now)

    @property
    def floor(self) -> int:
        return min(self.starts.values())

    def add(self, bucket: int, good: int, total: int) -> None:
        for name, start in self.starts.items():
            if start <= bucket < self.now:
                s = self.sums[name]
                s[0] += good
                s[1] += total
                self.version += 1

    def counts(self) -> dict[str, Counts]:
        return {name: Counts(g, t) for name, (g, t) in self.sums.items()}

    def moves(self, now: int) -> tuple[dict[str, int], list[tuple[str, int, int, int]]]:
        """New starts, and (window, lo, hi, sign) bucket ranges to add (+1) or drop (-1)."""
        starts, ranges = {}, []
        for name, old_start in self.starts.items():
            new_start = max(self._start_of(name, now), old_start)
            starts[name] = new_start
            lo = max(self.now, new_start)
            if lo < now:
                ranges.append((name, lo, now, 1))
            hi = min(new_start, self.now)
            if old_start < hi:
                ranges.append((name, old_start, hi, -1))
        return starts, ranges


def _good():
    return cast(SloOutcome.good, Integer)


def _counted():
    return SloOutcome.counted.is_(True)


def cold_sums(session: Session, tallies: Mapping[int, Tally]) -> None:
    """Set every tally's sums from the outcome table: one scan of the verdicts of the
    longest window, summing per SLO below each distinct window start (SLOs with the
    same windows share their starts, so there are few), filtered to the SLOs here.
    Past `MAX_STARTS` distinct starts (many calendar periods), one scan per shape."""
    if not tallies:
        return
    starts = sorted({s for t in tallies.values() for s in t.starts.values()})
    nows = {t.now for t in tallies.values()}
    if len(starts) > MAX_STARTS or len(nows) > 1:
        groups: dict[tuple, dict[int, Tally]] = defaultdict(dict)
        for slo_id, tally in tallies.items():
            groups[(tally.now, tuple(sorted(set(tally.starts.values()))))][slo_id] = tally
        for (now, group_starts), group in groups.items():
            _cold(session, group, list(group_starts), now, select_ids=True)
        return
    _cold(session, tallies, starts, nows.pop(), select_ids=len(tallies) <= CHUNK)


def _cold(session: Session, tallies: Mapping[int, Tally], starts: list[int], now: int, select_ids: bool) -> None:
    columns = []
    for start in starts:
        inside = SloOutcome.bucket >= start
        columns.append(func.sum(case((inside, _good()), else_=0)))
        columns.append(func.sum(case((inside, 1), else_=0)))
    query = (select(SloOutcome.slo_id, *columns)
             .where(_counted(), SloOutcome.bucket >= starts[0], SloOutcome.bucket < now)
             .group_by(SloOutcome.slo_id))
    by_start: dict[int, dict[int, tuple[int, int]]] = defaultdict(dict)
    batches = _chunks(list(tallies)) if select_ids else [None]
    for chunk in batches:
        rows = session.execute(query if chunk is None else query.where(in_(session, SloOutcome.slo_id, chunk)))
        for slo_id, *sums in rows:
            if slo_id in tallies:
                for i, start in enumerate(starts):
                    by_start[slo_id][start] = (int(sums[2 * i] or 0), int(sums[2 * i + 1] or 0))
    for slo_id, tally in tallies.items():
        found = by_start.get(slo_id, {})
        for name, start in tally.starts.items():
            tally.sums[name] = list(found.get(start, (0, 0)))
        tally.version += 1


def _shape(tally: Tally) -> tuple:
    """Tallies with equal clocks, starts and rolling specs move alike: plan them once.
    (A calendar period's spec is a function of its own, so those are planned alone.)"""
    return (tally.now, tuple(tally.starts.values()), tally.spec_key)


def advance_all(session: Session, tallies: Mapping[int, Tally], nows: Mapping[int, int]) -> None:
    """Move every tally's clock to its new end bucket (`nows`, by SLO id: occurrence
    and time-slice SLIs end their windows one bucket apart), reading only the buckets
    that enter or leave."""
    plans: dict[tuple, tuple[dict[str, int], list[tuple[str, int, int, int]]]] = {}
    shapes: dict[int, tuple] = {}
    for slo_id, tally in tallies.items():
        now = nows[slo_id]
        if now < tally.now:
            raise ValueError("the tally clock cannot go backwards")
        shape = shapes[slo_id] = (_shape(tally), now)
        if shape not in plans:
            plans[shape] = tally.moves(now)
    ranges = sorted({(lo, hi) for _, moves in plans.values() for _, lo, hi, _ in moves})
    found = _range_sums(session, ranges)
    for slo_id, tally in tallies.items():
        starts, moves = plans[shapes[slo_id]]
        for name, lo, hi, sign in moves:
            g, t = found[(lo, hi)].get(slo_id, (0, 0))
            if t:
                s = tally.sums[name]
                s[0] += sign * g
                s[1] += sign * t
                tally.version += 1
        tally.starts = dict(starts)
        tally.now = nows[slo_id]


def _range_sums(session: Session, ranges: list[tuple[int, int]]) -> dict[tuple[int, int], dict[int, tuple[int, int]]]:
    """Good and total per SLO within each bucket range, from one query over the union of
    the ranges (they are the minutes that passed, at each window's two ends)."""
    out: dict[tuple[int, int], dict[int, tuple[int, int]]] = {r: {} for r in ranges}
    if not ranges:
        return out
    merged: list[list[int]] = []
    for lo, hi in ranges:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    inside = or_(*[and_(SloOutcome.bucket >= lo, SloOutcome.bucket < hi) for lo, hi in merged])
    per_bucket = session.execute(
        select(SloOutcome.slo_id, SloOutcome.bucket, func.sum(_good()), func.count())
        .where(_counted(), inside)
        .group_by(SloOutcome.slo_id, SloOutcome.bucket)
    ).all()
    holding = _holding(ranges)
    for slo_id, bucket, good, total in per_bucket:
        hits = holding.get(bucket, ()) if holding is not None else [r for r in ranges if r[0] <= bucket < r[1]]
        for r in hits:
            g, t = out[r].get(slo_id, (0, 0))
            out[r][slo_id] = (g + int(good or 0), t + int(total))
    return out


def _holding(ranges: list[tuple[int, int]]) -> dict[int, list[tuple[int, int]]] | None:
    """The ranges holding each bucket, in order, so that a row finds its ranges without
    testing every one; None when they span too many buckets (a calendar period that
    rolled over drops a whole period), where testing them all is cheaper."""
    if sum(hi - lo for lo, hi in ranges) > 4 * MAX_INCREMENTAL_MINUTES:
        return None
    out: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for r in ranges:
        for bucket in range(r[0], r[1]):
            out[bucket].append(r)
    return out


def _chunks(items: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]
