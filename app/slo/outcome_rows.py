"""Stored verdict rows (`slo_outcomes`): reading the rows of a region, and writing back
only what a recomputation changed.

Apart from the recomputation itself (`recompute`) because freshness, the brute-force
reference and the evaluator all diff and write rows the same way, whatever computed them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session

from app.slo.bulk import in_
from app.slo.units import Unit
from app.slo.verdicts import Verdict
from app.store.rowsets import insert_rows
from app.store.slo_models import SloOutcome

CHUNK = 500
COLUMNS = (SloOutcome.id, SloOutcome.slo_id, SloOutcome.key, SloOutcome.bucket, SloOutcome.good,
           SloOutcome.counted, SloOutcome.run_id, SloOutcome.ref_at, SloOutcome.missing)


@dataclass(frozen=True)
class Stored:
    id: int
    slo_id: int
    key: str
    bucket: int
    good: bool
    counted: bool
    run_id: int | None
    ref_at: datetime
    missing: bool

    def same(self, v: Verdict) -> bool:
        return (self.bucket, self.good, self.counted, self.run_id, self.ref_at, self.missing) == (
            v.bucket, v.good, v.counted, v.run_id, v.ref_at, v.missing)


def chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def stored_since(session: Session, regions: Mapping[int, datetime]) -> dict[int, dict[str, Stored]]:
    """Stored rows of each SLO with ref_at at or after its instant."""
    out: dict[int, dict[str, Stored]] = {slo_id: {} for slo_id in regions}
    # SLOs whose instants lie within a day of each other share a query; one SLO with
    # an old instant must not make the others read their whole history.
    groups: list[list[int]] = []
    for slo_id in sorted(regions, key=regions.get):
        if groups and len(groups[-1]) < CHUNK and regions[slo_id] - regions[groups[-1][0]] <= timedelta(days=1):
            groups[-1].append(slo_id)
        else:
            groups.append([slo_id])
    for chunk in groups:
        lo = regions[chunk[0]]
        rows = session.execute(select(*COLUMNS).where(in_(session, SloOutcome.slo_id, chunk), SloOutcome.ref_at >= lo))
        for row in rows:
            s = Stored(*row)
            if s.ref_at >= regions[s.slo_id]:
                out[s.slo_id][s.key] = s
    return out


def stored_keys(session: Session, keys: Mapping[int, set[str]]) -> dict[int, dict[str, Stored]]:
    out: dict[int, dict[str, Stored]] = {slo_id: {} for slo_id in keys}
    pairs = [(slo_id, key) for slo_id, ks in keys.items() for key in ks]
    for chunk in chunks(pairs):
        ids, names = {p[0] for p in chunk}, {p[1] for p in chunk}
        rows = session.execute(select(*COLUMNS).where(in_(session, SloOutcome.slo_id, ids), in_(session, SloOutcome.key, names)))
        for row in rows:
            s = Stored(*row)
            if s.key in keys[s.slo_id]:
                out[s.slo_id][s.key] = s
    return out


def stored_by_runs(session: Session, slo_ids: Iterable[int], run_ids: Iterable[int]) -> list[Stored]:
    """Rows decided by any of these runs: where a changed run's old verdicts lie.

    Looked up by run alone (a handful of rows per run, by index) and filtered here: with
    the SLO ids in the query too, the planner may intersect with the index of every row
    of those SLOs."""
    wanted, run_ids = set(slo_ids), sorted(set(run_ids))
    out: list[Stored] = []
    if not wanted:
        return out
    for chunk in chunks(run_ids):
        rows = session.execute(select(*COLUMNS).where(in_(session, SloOutcome.run_id, chunk)))
        out += [Stored(*r) for r in rows if r.slo_id in wanted]
    return out


class Changes:
    """Outcome rows to write in one pass, with the window-sum deltas applied as found."""

    def __init__(self) -> None:
        self.upserts: list[dict[str, Any]] = []
        self.inserts: list[dict[str, Any]] = []
        self.deletes: list[int] = []
        self.slices: dict[int, set[int]] = defaultdict(set)
        self.count = 0

    @staticmethod
    def _row(unit: Unit, v: Verdict) -> dict[str, Any]:
        return {"slo_id": unit.id, "key": v.key, "bucket": v.bucket, "good": v.good,
                "counted": v.counted, "run_id": v.run_id, "ref_at": v.ref_at, "missing": v.missing}

    def diff(self, unit: Unit, old: Mapping[str, Stored], fresh: Mapping[str, Verdict | None]) -> None:
        tally = unit.tally
        for key in old.keys() | fresh.keys():
            o, n = old.get(key), fresh.get(key)
            if o is None and n is None or (o is not None and n is not None and o.same(n)):
                continue
            self.count += 1
            if o is not None:
                if o.counted and tally is not None:
                    tally.add(o.bucket, -int(o.good), -1)
                if not o.counted and unit.sliced:
                    self.slices[unit.id].add(o.bucket)
            if n is not None:
                if n.counted and tally is not None:
                    tally.add(n.bucket, int(n.good), 1)
                if not n.counted and unit.sliced:
                    self.slices[unit.id].add(n.bucket)
            if n is None:
                self.deletes.append(o.id)
            else:
                self.upserts.append(self._row(unit, n))

    def insert_all(self, unit: Unit, fresh: Iterable[Verdict]) -> None:
        """Rows of a unit whose stored rows were all deleted (full recomputation)."""
        for v in fresh:
            self.inserts.append(self._row(unit, v))
            self.count += 1
            if not v.counted and unit.sliced:
                self.slices[unit.id].add(v.bucket)

    def flush(self, session: Session) -> None:
        for chunk in chunks(self.deletes):
            session.execute(delete(SloOutcome).where(in_(session, SloOutcome.id, chunk)))
        for chunk in chunks(self.inserts, 50_000):
            insert_rows(session, SloOutcome, chunk)
        # One statement may not update a row twice: the last write of a key wins.
        upserts = list({(r["slo_id"], r["key"]): r for r in self.upserts}.values())
        for chunk in chunks(upserts, 50_000):
            insert_rows(session, SloOutcome, chunk, conflict=("slo_id", "key"),
                        overwrite=("bucket", "good", "counted", "run_id", "ref_at", "missing"))
        self.upserts, self.inserts, self.deletes = [], [], []


def prune(session: Session, floors: Mapping[int, int]) -> int:
    """Drop rows below every window of their SLO: they can never count again."""
    removed = 0
    by_floor: dict[int, list[int]] = defaultdict(list)
    for slo_id, floor in floors.items():
        by_floor[floor].append(slo_id)
    for floor, ids in by_floor.items():
        for chunk in chunks(ids):
            result = session.execute(delete(SloOutcome).where(
                and_(in_(session, SloOutcome.slo_id, chunk), SloOutcome.bucket < floor)))
            removed += result.rowcount or 0
    return removed


def outcome_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(SloOutcome)) or 0
