"""SLI extraction: the queries that read what ingestion wrote.

- runs (success rate, duration): state, start, end, and the nominal time of the
  schedule tick a run belongs to (the nominal end when the producer sends one: Airflow's
  nominal start is the start of the data interval, its run is due at the end);
- completed writes (volume, freshness): a `dataset_versions` row whose run is COMPLETED,
  at the run's end, which is also what `datasets.last_modified_at` is made of; the row
  count is the version's outputStatistics, else the dataQualityMetrics the same run
  reported for that dataset;
- quality assertions of a dataset, with their result and time.

Every query takes many SLOs' entities at once: a pass issues a handful of queries,
not one per SLO.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, func, literal_column, or_, select
from sqlalchemy.orm import Session

from app.slo.bulk import in_, in_probed
from app.store.models import (
    Dataset,
    DatasetVersion,
    Job,
    LineageEvent,
    Namespace,
    QualityAssertion,
    QualityMetrics,
    Run,
)

TERMINAL = ("COMPLETED", "FAILED", "ABORTED")
CHUNK = 500

# The instant a run is filed under for grouping; indexed by migration 0004_slo.
ANCHOR = literal_column("coalesce(nominal_end_time, nominal_start_time, started_at, ended_at)")


@dataclass(frozen=True)
class RunRow:
    id: int
    job_id: int
    state: str
    started_at: datetime | None
    ended_at: datetime | None
    nominal: datetime | None

    @property
    def anchor(self) -> datetime | None:
        return self.nominal or self.started_at or self.ended_at


def _run_columns():
    return (Run.id, Run.job_id, Run.state, Run.started_at, Run.ended_at,
            func.coalesce(Run.nominal_end_time, Run.nominal_start_time))


def _run_rows(result) -> list[RunRow]:
    return [RunRow(*row) for row in result]


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def runs_by_id(session: Session, ids: Iterable[int]) -> list[RunRow]:
    out: list[RunRow] = []
    for chunk in _chunks(sorted(set(ids))):
        out += _run_rows(session.execute(select(*_run_columns()).where(in_(session, Run.id, chunk))))
    return out


def runs_by_anchor(session: Session, since: dict[int, datetime]) -> dict[int, list[RunRow]]:
    """Runs of each job whose anchor is at or after that job's instant."""
    out: dict[int, list[RunRow]] = defaultdict(list)
    if not since:
        return out
    ordered = sorted(since.items(), key=lambda kv: kv[1])
    # Jobs whose instants lie within a day of each other share one query.
    groups: list[list[tuple[int, datetime]]] = []
    for job_id, at in ordered:
        if groups and len(groups[-1]) < CHUNK and (at - groups[-1][0][1]).total_seconds() <= 86400:
            groups[-1].append((job_id, at))
        else:
            groups.append([(job_id, at)])
    for group in groups:
        lo = group[0][1]
        wanted = dict(group)
        rows = session.execute(
            select(*_run_columns()).where(in_(session, Run.job_id, list(wanted)), ANCHOR >= lo)
        )
        for r in _run_rows(rows):
            if r.anchor is not None and r.anchor >= wanted[r.job_id]:
                out[r.job_id].append(r)
    return out


def runs_started_since(session: Session, since: dict[int, datetime]) -> dict[int, list[RunRow]]:
    """Runs of each job started at or after that job's instant (duration SLIs)."""
    out: dict[int, list[RunRow]] = defaultdict(list)
    if not since:
        return out
    lo = min(since.values())
    for chunk in _chunks(list(since)):
        rows = session.execute(select(*_run_columns()).where(in_(session, Run.job_id, chunk), Run.started_at >= lo))
        for r in _run_rows(rows):
            if r.started_at >= since[r.job_id]:
                out[r.job_id].append(r)
    return out


def running_started_between(
    session: Session, job_ids: Iterable[int], lo: datetime, hi: datetime
) -> list[RunRow]:
    """Unfinished runs started in [lo, hi): those that may overrun a duration threshold."""
    out: list[RunRow] = []
    for chunk in _chunks(sorted(set(job_ids))):
        out += _run_rows(session.execute(
            select(*_run_columns()).where(
                in_(session, Run.state, ("NEW", "RUNNING")), Run.started_at >= lo, Run.started_at < hi,
                in_(session, Run.job_id, chunk),
            )
        ))
    return out


@dataclass(frozen=True)
class Write:
    """A completed write of a dataset."""

    version_id: int
    dataset_id: int
    run_id: int
    at: datetime
    row_count: int | None


def _writes_query():
    return (
        select(DatasetVersion.id, DatasetVersion.dataset_id, Run.id, Run.ended_at,
               func.coalesce(DatasetVersion.row_count, QualityMetrics.row_count))
        .join(Run, Run.id == DatasetVersion.run_id)
        .outerjoin(QualityMetrics, and_(QualityMetrics.run_id == DatasetVersion.run_id,
                                        QualityMetrics.dataset_id == DatasetVersion.dataset_id))
        .where(Run.state == "COMPLETED", Run.ended_at.is_not(None))
    )


def writes_since(session: Session, since: dict[int, datetime], rows: bool = True) -> dict[int, list[Write]]:
    """Completed writes of each dataset at or after its instant, oldest first (without
    `rows`, row counts are left out, which spares a join: freshness needs only times)."""
    out: dict[int, list[Write]] = defaultdict(list)
    if not since:
        return out
    lo = min(since.values())
    query = _writes_query() if rows else (
        select(DatasetVersion.id, DatasetVersion.dataset_id, Run.id, Run.ended_at, literal_column("NULL"))
        .join(Run, Run.id == DatasetVersion.run_id)
        .where(Run.state == "COMPLETED", Run.ended_at.is_not(None)))
    for chunk in _chunks(list(since)):
        rows = session.execute(query.where(in_(session, DatasetVersion.dataset_id, chunk), Run.ended_at >= lo))
        for row in rows:
            w = Write(*row)
            if w.at >= since[w.dataset_id]:
                out[w.dataset_id].append(w)
    for writes in out.values():
        writes.sort(key=lambda w: (w.at, w.version_id))
    return out


def writes_before(
    session: Session, before: dict[int, datetime], count: int, with_rows: bool = False
) -> dict[int, list[Write]]:
    """The last `count` completed writes of each dataset before its instant, oldest first
    (with `with_rows`, only writes that reported a row count)."""
    out: dict[int, list[Write]] = defaultdict(list)
    if not before:
        return out
    hi = max(before.values())
    for chunk in _chunks(list(before)):
        # Each dataset has its own cut-off, so rank within the dataset below it.
        cutoffs = or_(*[and_(DatasetVersion.dataset_id == d, Run.ended_at < before[d]) for d in chunk])
        inner = _writes_query().where(in_(session, DatasetVersion.dataset_id, chunk), Run.ended_at < hi, cutoffs)
        if with_rows:
            inner = inner.where(func.coalesce(DatasetVersion.row_count, QualityMetrics.row_count).is_not(None))
        ranked = inner.add_columns(
            func.row_number().over(partition_by=DatasetVersion.dataset_id,
                                   order_by=(Run.ended_at.desc(), DatasetVersion.id.desc())).label("rn")
        ).subquery()
        rows = session.execute(select(*list(ranked.c)[:5]).where(ranked.c.rn <= count))
        for row in rows:
            w = Write(*row)
            out[w.dataset_id].append(w)
    for writes in out.values():
        writes.sort(key=lambda w: (w.at, w.version_id))
    return out


@dataclass(frozen=True)
class Check:
    id: int
    dataset_id: int
    run_id: int
    assertion: str
    success: bool
    at: datetime


def checks_since(session: Session, since: dict[int, datetime]) -> dict[int, list[Check]]:
    out: dict[int, list[Check]] = defaultdict(list)
    if not since:
        return out
    lo = min(since.values())
    for chunk in _chunks(list(since)):
        rows = session.execute(
            select(QualityAssertion.id, QualityAssertion.dataset_id, QualityAssertion.run_id,
                   QualityAssertion.assertion, QualityAssertion.success, QualityAssertion.event_time)
            .where(in_(session, QualityAssertion.dataset_id, chunk), QualityAssertion.event_time >= lo)
        )
        for row in rows:
            c = Check(*row)
            if c.at >= since[c.dataset_id]:
                out[c.dataset_id].append(c)
    return out


@dataclass(frozen=True)
class Touched:
    """What a stretch of new events changed: runs, and the datasets those runs touched."""

    run_ids: set[int]
    job_ids: set[int]
    dataset_ids: set[int]
    max_event_id: int
    seen_event_ids: set[int]
    _writes: list[list[Write]] = field(default_factory=list, compare=False, repr=False)
    # The changed runs' quality assertions, read with the datasets they name.
    checks: list[Check] = field(default_factory=list, compare=False, repr=False)

    def writes(self, session: Session) -> list[Write]:
        """The completed writes of the changed runs, read once per pass."""
        if not self._writes:
            self._writes.append(writes_of_runs(session, self.run_ids))
        return self._writes[0]


def touched_by_events(session: Session, after: int, also: Iterable[int] = ()) -> Touched:
    """Runs named by raw events with id > `after` (plus the ids in `also`)."""
    cond = LineageEvent.id > after
    extra = sorted(set(also))
    if extra:
        cond = or_(cond, in_(session, LineageEvent.id, extra))
    rows = session.execute(
        select(LineageEvent.id, LineageEvent.run_uuid, LineageEvent.job_namespace, LineageEvent.job_name)
        .where(cond)
    ).all()
    seen = {r[0] for r in rows}
    wanted = {(r[1], r[2], r[3]) for r in rows if r[1] is not None}
    run_ids: set[int] = set()
    job_ids: set[int] = set()
    by_uuid: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for uuid, ns, name in wanted:
        by_uuid[uuid].add((ns, name))
    for chunk in _chunks(sorted(by_uuid)):
        for run_id, job_id, uuid, ns, name in session.execute(
            select(Run.id, Run.job_id, Run.run_uuid, Namespace.name, Job.name)
            .join(Job, Job.id == Run.job_id).join(Namespace, Namespace.id == Job.namespace_id)
            .where(in_(session, Run.run_uuid, chunk))
        ):
            if (ns, name) in by_uuid[uuid]:
                run_ids.add(run_id)
                job_ids.add(job_id)
    dataset_ids: set[int] = set()
    for chunk in _chunks(sorted(run_ids)):
        dataset_ids.update(session.scalars(select(DatasetVersion.dataset_id).where(in_(session, DatasetVersion.run_id, chunk))))
    checks = checks_of_runs(session, run_ids)
    dataset_ids.update(c.dataset_id for c in checks)
    return Touched(run_ids, job_ids, dataset_ids, max(seen, default=after), seen, checks=checks)


def max_event_id(session: Session) -> int:
    return session.scalar(select(func.max(LineageEvent.id))) or 0


def writes_of_runs(session: Session, run_ids: Iterable[int]) -> list[Write]:
    out: list[Write] = []
    for chunk in _chunks(sorted(set(run_ids))):
        out += [Write(*row) for row in session.execute(_writes_query().where(in_(session, DatasetVersion.run_id, chunk)))]
    return out


def writes_by_version(session: Session, ids: Iterable[int]) -> list[Write]:
    """Completed writes by version id (a version whose run is not COMPLETED is left out)."""
    out: list[Write] = []
    for chunk in _chunks(sorted(set(ids))):
        out += [Write(*row) for row in session.execute(_writes_query().where(in_(session, DatasetVersion.id, chunk)))]
    return out


def checks_of_runs(session: Session, run_ids: Iterable[int]) -> list[Check]:
    out: list[Check] = []
    for chunk in _chunks(sorted(set(run_ids))):
        out += [Check(*row) for row in session.execute(
            select(QualityAssertion.id, QualityAssertion.dataset_id, QualityAssertion.run_id,
                   QualityAssertion.assertion, QualityAssertion.success, QualityAssertion.event_time)
            .where(in_probed(session, QualityAssertion.run_id, chunk), QualityAssertion.dataset_id.is_not(None))
        )]
    return out


def dataset_first_seen(session: Session, ids: Iterable[int]) -> dict[int, datetime]:
    """When each dataset began to exist for dataslo: its first version's event time, or
    the row's creation when nothing wrote it yet (events replayed from history create
    rows today for data written long ago, so creation alone would be too late).

    A correlated min per dataset: one index probe each, not a scan of the versions."""
    first = (select(func.min(DatasetVersion.event_time))
             .where(DatasetVersion.dataset_id == Dataset.id).scalar_subquery())
    out: dict[int, datetime] = {}
    for chunk in _chunks(sorted(set(ids))):
        for i, created, at in session.execute(
            select(Dataset.id, Dataset.created_at, first).where(in_(session, Dataset.id, chunk))
        ):
            out[i] = min(created, aware(at)) if at is not None else created
    return out


def aware(at) -> datetime:
    """A timestamp from a raw aggregate: SQLite hands back text, and no zone."""
    at = at if isinstance(at, datetime) else datetime.fromisoformat(at)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def job_first_seen(session: Session, ids: Iterable[int]) -> dict[int, datetime]:
    """When each job began to exist for dataslo: its earliest run anchor, or the row's
    creation. Schedule ticks before it are not missing runs: nobody was watching.
    (A correlated min per job, answered from the anchor index.)"""
    first = select(func.min(ANCHOR)).select_from(Run).where(Run.job_id == Job.id).scalar_subquery()
    out: dict[int, datetime] = {}
    for chunk in _chunks(sorted(set(ids))):
        for i, created, at in session.execute(select(Job.id, Job.created_at, first).where(in_(session, Job.id, chunk))):
            out[i] = min(created, aware(at)) if at is not None else created
    return out
