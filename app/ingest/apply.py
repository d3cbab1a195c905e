"""Persisting a batch of validated events in one transaction.

Set-based on purpose: a batch of N events costs a fixed number of statements (look up or
create the namespaces, jobs, datasets and runs it names, then bulk-write what changed),
not N round trips, which is what lets group commit and the batch endpoint reach their
throughput targets. The caller owns the transaction; this module only flushes.

Idempotency: the raw event row is inserted first, keyed by the hash of its canonical
JSON; events whose row already existed are duplicates and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session

from app.ingest import facets as F
from app.ingest.edges import EdgeTracker
from app.ingest.identity import IdCache, IdResolver
from app.ingest.runstate import apply_event
from app.ingest.schema import DatasetEvent, JobEvent, ParsedEvent, RunEvent
from app.store.dialect import insert_ignore, upsert
from app.store.models import (
    ColumnLineage,
    Dataset,
    DatasetField,
    DatasetVersion,
    Job,
    LineageEvent,
    QualityAssertion,
    QualityMetrics,
    Run,
    RunInput,
)
from app.store.types import utcnow

__all__ = ["BatchResult", "IdCache", "apply_batch"]


@dataclass
class _Pending:
    """Child rows collected while folding events, written in bulk at the end."""

    versions: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    inputs: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    assertions: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    column_edges: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    schemas: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    completed_runs: dict[int, datetime] = field(default_factory=dict)


@dataclass
class BatchResult:
    new: list[bool]  # per event: True if stored now, False if a duplicate
    learned: IdResolver | None  # ids to add to the shared cache once the transaction commits


def apply_batch(session: Session, events: list[ParsedEvent], cache: IdCache) -> BatchResult:
    """Store `events` (flush only: the caller commits)."""
    new_hashes = _insert_raw(session, events)
    fresh: list[ParsedEvent] = []
    seen: set[str] = set()
    for p in events:
        if p.hash in new_hashes and p.hash not in seen:
            seen.add(p.hash)
            fresh.append(p)
    learned = None
    if fresh:
        folder = _Folder(session, cache)
        folder.fold(sorted(fresh, key=lambda p: p.event.eventTime))
        learned = folder.ids
    result, claimed = [], set()
    for p in events:
        result.append(p.hash in new_hashes and p.hash not in claimed)
        claimed.add(p.hash)
    return BatchResult(result, learned)


def _insert_raw(session: Session, events: list[ParsedEvent]) -> set[str]:
    rows, seen = [], set()
    now = utcnow()
    for p in events:
        if p.hash in seen:
            continue
        seen.add(p.hash)
        e = p.event
        job = getattr(e, "job", None)
        run = getattr(e, "run", None)
        rows.append(
            {
                "event_hash": p.hash,
                "event_kind": p.kind,
                "event_type": getattr(e, "eventType", None),
                "event_time": e.eventTime,
                "run_uuid": str(run.runId) if run else None,
                "job_namespace": job.namespace if job else None,
                "job_name": job.name if job else None,
                "producer": e.producer,
                "received_at": now,
                "payload": p.raw,
            }
        )
    stmt = insert_ignore(session, LineageEvent, ["event_hash"]).returning(LineageEvent.event_hash)
    return set(session.scalars(stmt, rows)) if len(rows) > 1 else set(
        session.scalars(stmt.values(rows[0])) if rows else []
    )


class _Folder:
    def __init__(self, session: Session, cache: IdCache) -> None:
        self.session = session
        self.ids = IdResolver(session, cache)
        self.pending = _Pending()
        self.edges = EdgeTracker(session)

    # -- loading ---------------------------------------------------------------------
    def fold(self, events: list[ParsedEvent]) -> None:
        # No autoflush: entity changes are written once, at the end, in a few executemany
        # UPDATEs, instead of being flushed before every SELECT in between.
        with self.session.no_autoflush:
            self._fold(events)
            self._write_entities()

    def _write_entities(self) -> None:
        """One UPDATE per table for every changed run, job and dataset.

        The ORM would group changed rows by which columns changed, and only consecutive
        ones, emitting dozens of small UPDATEs per batch; one executemany over the union
        of changed columns does the same work in a single round trip per table.
        """
        for model, objects in ((Run, self.runs.values()), (Job, self.jobs.values()),
                               (Dataset, self.datasets.values())):
            changed: list[tuple[Any, set[str]]] = []
            columns: set[str] = set()
            for obj in objects:
                # committed_state holds exactly the attributes assigned since load.
                keys = set(inspect(obj).committed_state)
                if keys:
                    changed.append((obj, keys))
                    columns |= keys
            if changed:
                table = model.__table__
                ordered = sorted(columns)
                self.session.execute(
                    table.update().where(table.c.id == bindparam("_id"))
                    .values({c: bindparam(c) for c in ordered}),
                    [{"_id": obj.id, **{c: getattr(obj, c) for c in ordered}} for obj, _ in changed],
                )
            for obj in objects:
                self.session.expunge(obj)  # written above; the ORM must not write it again

    def _fold(self, events: list[ParsedEvent]) -> None:
        self._resolve(events)
        for p in events:
            e = p.event
            if isinstance(e, RunEvent):
                self._run_event(e)
            elif isinstance(e, JobEvent):
                job = self.jobs[self.ids.job(e.job.namespace, e.job.name)]
                self._merge_job(job, e.job.facets, e.eventTime)
                for ds in [*e.inputs, *e.outputs]:
                    self._merge_dataset(ds.namespace, ds.name, ds.facets, e.eventTime)
                for direction, dss in (("in", e.inputs), ("out", e.outputs)):
                    for ds in dss:
                        self.edges.touch(job, self.ids.dataset(ds.namespace, ds.name), direction, e.eventTime)
            elif isinstance(e, DatasetEvent):
                self._merge_dataset(e.dataset.namespace, e.dataset.name, e.dataset.facets, e.eventTime)
        versions = self._write_children()
        self.edges.flush(self.pending.completed_runs, self.runs_by_pk, self.jobs, versions)

    def _resolve(self, events: list[ParsedEvent]) -> None:
        ids = self.ids
        run_keys: set[tuple[str, tuple[str, str]]] = set()
        for p in events:
            e = p.event
            if isinstance(e, DatasetEvent):
                ids.want_dataset(e.dataset.namespace, e.dataset.name, F.symlinks(e.dataset.facets))
                continue
            ids.want_job(e.job.namespace, e.job.name)
            for ds in [*e.inputs, *e.outputs]:
                ids.want_dataset(ds.namespace, ds.name, F.symlinks(ds.facets))
            for ds in e.outputs:
                for edge in F.column_lineage(ds.facets):
                    ids.want_dataset(edge.input_namespace, edge.input_name, [])
            if isinstance(e, RunEvent):
                run_keys.add((str(e.run.runId), (e.job.namespace, e.job.name)))
                parent = F.parent(e.run.facets)
                if parent:
                    ids.want_job(parent.job_namespace, parent.job_name)
                    run_keys.add((parent.run_uuid, (parent.job_namespace, parent.job_name)))
        ids.resolve()
        # On PostgreSQL, concurrent writers (group-commit threads, other replicas) lock the
        # rows they merge into, always in id order, so facet merges and latest-run fields
        # are never lost to a concurrent read-modify-write.
        locking = self.session.get_bind().dialect.name == "postgresql"
        job_query = select(Job).where(Job.id.in_(ids.job_ids())).order_by(Job.id)
        self.jobs: dict[int, Job] = {
            j.id: j for j in self.session.scalars(job_query.with_for_update() if locking else job_query)
        }
        dataset_ids = ids.dataset_ids()
        dataset_query = select(Dataset).where(Dataset.id.in_(dataset_ids)).order_by(Dataset.id)
        self.datasets: dict[int, Dataset] = (
            {d.id: d for d in self.session.scalars(dataset_query.with_for_update() if locking else dataset_query)}
            if dataset_ids
            else {}
        )
        self.runs: dict[tuple[str, int], Run] = {}
        if run_keys:
            wanted = {(uuid, ids.job(*job_key)) for uuid, job_key in run_keys}
            insert_rows = [
                {"run_uuid": u, "job_id": j, "state": "NEW", "facets": {}, "facet_times": {},
                 "created_at": utcnow(), "updated_at": utcnow()}
                for u, j in sorted(wanted)
            ]
            self.session.execute(insert_ignore(self.session, Run, ["run_uuid", "job_id"]), insert_rows)
            query = select(Run).where(Run.run_uuid.in_({u for u, _ in wanted})).order_by(Run.id)
            if locking:
                query = query.with_for_update()
            for run in self.session.scalars(query):
                if (run.run_uuid, run.job_id) in wanted:
                    self.runs[(run.run_uuid, run.job_id)] = run
        self.runs_by_pk = {r.id: r for r in self.runs.values()}

    # -- folding -----------------------------------------------------------------------
    def _run_event(self, e: RunEvent) -> None:
        t = e.eventTime
        job_id = self.ids.job(e.job.namespace, e.job.name)
        job = self.jobs[job_id]
        run = self.runs[(str(e.run.runId), job_id)]
        self._merge_job(job, e.job.facets, t)
        was_terminal = run.state in ("COMPLETED", "FAILED", "ABORTED")
        apply_event(run, e.eventType, t)
        self._merge_run_facets(run, e.run.facets, t)
        parent = F.parent(e.run.facets)
        if parent:
            parent_job_id = self.ids.job(parent.job_namespace, parent.job_name)
            parent_run = self.runs.get((parent.run_uuid, parent_job_id))
            if parent_run is not None and parent_run.id != run.id:
                run.parent_run_id = parent_run.id
                parent_job = self.jobs[parent_job_id]
                if parent_job.latest_run_uuid is None:
                    # A parent known only through its children still has a (NEW) latest run.
                    self._track_latest_run(parent_job, parent_run, t)
            if parent_job_id != job.id and job.parent_job_id is None:
                job.parent_job_id = parent_job_id
        if run.state == "COMPLETED" and (not was_terminal or run.ended_at == t):
            self.pending.completed_runs[run.id] = run.ended_at or t
        self._track_latest_run(job, run, t)
        run.updated_at = utcnow()

        run_tests = F.run_tests(e.run.facets)
        for ds in e.inputs:
            dataset_id = self._merge_dataset(ds.namespace, ds.name, ds.facets, t)
            dataset = self.datasets[dataset_id]
            self.pending.inputs.setdefault(
                (run.id, dataset_id),
                {"run_id": run.id, "dataset_id": dataset_id,
                 "dataset_version_id": dataset.current_version_id, "event_time": t},
            )
            metrics = F.quality_metrics(ds.inputFacets)
            if metrics:
                self.pending.metrics[(run.id, dataset_id)] = {
                    "run_id": run.id, "dataset_id": dataset_id, "event_time": t, **metrics
                }
            self._assertions(run.id, dataset_id, F.assertions(ds.facets, ds.inputFacets), t)
            self._assertions(run.id, dataset_id, run_tests, t)
            self.edges.touch(job, dataset_id, "in", t)
        if run_tests and not e.inputs:
            self._assertions(run.id, None, run_tests, t)
        for ds in e.outputs:
            dataset_id = self._merge_dataset(ds.namespace, ds.name, ds.facets, t)
            self._output_version(run, dataset_id, ds.facets, ds.outputFacets, t)
            self._assertions(run.id, dataset_id, F.assertions(ds.facets), t)
            for edge in F.column_lineage(ds.facets):
                input_id = self.ids.dataset(edge.input_namespace, edge.input_name)
                key = (run.id, dataset_id, edge.output_field, input_id, edge.input_field,
                       edge.transformation_type, edge.transformation_subtype)
                self.pending.column_edges[key] = {
                    "run_id": run.id, "job_id": job.id, "output_dataset_id": dataset_id,
                    "output_field": edge.output_field, "input_dataset_id": input_id,
                    "input_field": edge.input_field,
                    "transformation_type": edge.transformation_type,
                    "transformation_subtype": edge.transformation_subtype,
                    "description": edge.description, "masking": edge.masking, "event_time": t,
                }
            self.edges.touch(job, dataset_id, "out", t)

    def _track_latest_run(self, job: Job, run: Run, t: datetime) -> None:
        if job.latest_run_uuid == run.run_uuid or job.latest_run_at is None or t >= job.latest_run_at:
            job.latest_run_uuid = run.run_uuid
            job.latest_run_state = run.state
            if job.latest_run_at is None or t > job.latest_run_at:
                job.latest_run_at = t

    def _merge_run_facets(self, run: Run, facets: dict[str, Any], t: datetime) -> None:
        if not facets:
            return
        merged, times = dict(run.facets or {}), dict(run.facet_times or {})
        stamp = t.isoformat()
        for name, value in facets.items():
            if name not in times or times[name] <= stamp:
                merged[name] = value
                times[name] = stamp
        run.facets, run.facet_times = merged, times
        start, end = F.nominal_time(merged)
        run.nominal_start_time, run.nominal_end_time = start or run.nominal_start_time, end or run.nominal_end_time
        message, language, stack = F.error_message(merged)
        if message:
            run.error_message, run.error_language, run.stack_trace = message, language, stack

    def _merge_job(self, job: Job, facets: dict[str, Any], t: datetime) -> None:
        merged = {**(job.facets or {}), **facets}
        if not facets or merged == job.facets:
            return  # producers resend the same job facets on every event: no write
        job.facets = merged
        attrs = F.job_attributes(job.facets)
        for column in ("processing_type", "integration", "job_type", "sql",
                       "source_code_language", "source_code", "source_code_url"):
            value = getattr(attrs, column)
            if value is not None:
                setattr(job, column, value)
        job.description = F.description(facets) or job.description
        owners, tags = F.owners(facets), F.tags(facets)
        if owners is not None:
            job.owners = owners
        if tags is not None:
            job.tags = tags
        job.updated_at = utcnow()

    def _merge_dataset(self, namespace: str, name: str, facets: dict[str, Any], t: datetime) -> int:
        dataset_id = self.ids.dataset(namespace, name)
        if not facets:
            return dataset_id
        dataset = self.datasets[dataset_id]
        merged = {**(dataset.facets or {}), **facets}
        if merged == dataset.facets:
            return dataset_id  # nothing new (Spark resends schema and source on every event)
        dataset.facets = merged
        source = facets.get("dataSource")
        if source:
            dataset.source_name = F._str(source.get("name"), 1024) or dataset.source_name
            dataset.source_uri = F._str(source.get("uri")) or dataset.source_uri
        dataset.description = F.description(facets) or dataset.description
        owners, tags = F.owners(facets), F.tags(facets)
        if owners is not None:
            dataset.owners = owners
        if tags is not None:
            dataset.tags = tags
        dataset_type = facets.get("datasetType")
        if dataset_type:
            dataset.dataset_type = F._str(dataset_type.get("datasetType"), 64) or dataset.dataset_type
        dataset.lifecycle_state = F.lifecycle_state(facets) or dataset.lifecycle_state
        fields = F.schema_fields(facets)
        if fields is not None:
            self.pending.schemas[dataset_id] = fields
        dataset.updated_at = utcnow()
        return dataset_id

    def _output_version(self, run: Run, dataset_id: int, facets: dict[str, Any],
                        output_facets: dict[str, Any], t: datetime) -> None:
        key = (dataset_id, run.id)
        version = self.pending.versions.setdefault(
            key, {"dataset_id": dataset_id, "run_id": run.id, "event_time": t, "row_count": None,
                  "byte_size": None, "file_count": None, "fields": None, "lifecycle_state": None,
                  "created_at": utcnow()},
        )
        stats = F.output_statistics(output_facets)
        if stats:
            for column in ("row_count", "byte_size", "file_count"):
                if getattr(stats, column) is not None:
                    version[column] = getattr(stats, column)
        fields = F.schema_fields(facets)
        if fields is not None:
            version["fields"] = fields
        version["lifecycle_state"] = F.lifecycle_state(facets) or version["lifecycle_state"]

    def _assertions(self, run_id: int, dataset_id: int | None, items: list[F.Assertion], t: datetime) -> None:
        for a in items:
            self.pending.assertions[(run_id, dataset_id, a.assertion, a.column)] = {
                "run_id": run_id, "dataset_id": dataset_id, "assertion": a.assertion,
                "column_name": a.column, "success": a.success, "severity": a.severity, "event_time": t,
            }

    # -- writing -----------------------------------------------------------------------
    def _write_children(self) -> list[Any]:
        """Bulk-write collected rows; return the batch's runs' versions (used by edges too)."""
        s, p = self.session, self.pending
        if p.versions:
            stmt = upsert(
                s, DatasetVersion, ("dataset_id", "run_id"),
                coalesce=("row_count", "byte_size", "file_count", "fields", "lifecycle_state"),
            )
            s.execute(stmt, list(p.versions.values()))
        if p.inputs:
            s.execute(insert_ignore(s, RunInput, ("run_id", "dataset_id")), list(p.inputs.values()))
        if p.metrics:
            s.execute(
                upsert(s, QualityMetrics, ("run_id", "dataset_id"),
                       overwrite=("row_count", "byte_size", "file_count", "column_metrics", "event_time")),
                list(p.metrics.values()),
            )
        if p.assertions:
            s.execute(
                upsert(s, QualityAssertion, ("run_id", "dataset_id", "assertion", "column_name"),
                       overwrite=("success", "severity", "event_time")),
                list(p.assertions.values()),
            )
        if p.column_edges:
            s.execute(
                insert_ignore(s, ColumnLineage, (
                    "run_id", "output_dataset_id", "output_field", "input_dataset_id", "input_field",
                    "transformation_type", "transformation_subtype")),
                list(p.column_edges.values()),
            )
        if p.schemas:
            self._replace_fields(p.schemas)
        run_ids = {r for _, r in p.versions} | set(p.completed_runs)
        versions = s.execute(
            select(DatasetVersion.id, DatasetVersion.dataset_id, DatasetVersion.run_id, DatasetVersion.event_time)
            .where(DatasetVersion.run_id.in_(run_ids))
        ).all() if run_ids else []
        if p.versions:
            self._advance_current_versions([v for v in versions if (v.dataset_id, v.run_id) in p.versions])
        if p.completed_runs:
            self._mark_fresh([v for v in versions if v.run_id in p.completed_runs])
        return versions

    def _advance_current_versions(self, rows: list[Any]) -> None:
        """Point each written dataset at its newest version by eventTime, so a late event
        for an old run never moves `current_version_id` backwards."""
        current_ids = {self.datasets[r.dataset_id].current_version_id for r in rows} - {None}
        current = dict(
            self.session.execute(
                select(DatasetVersion.id, DatasetVersion.event_time).where(DatasetVersion.id.in_(current_ids))
            ).all()
        ) if current_ids else {}
        for r in sorted(rows, key=lambda r: (r.event_time, r.id)):
            dataset = self.datasets[r.dataset_id]
            cur = dataset.current_version_id
            if cur is None or (r.event_time, r.id) >= (current.get(cur, r.event_time), cur):
                if dataset.current_version_id != r.id:
                    dataset.current_version_id = r.id
                current[r.id] = r.event_time

    def _replace_fields(self, schemas: dict[int, list[dict[str, Any]]]) -> None:
        current: dict[int, list[tuple]] = {}
        for dataset_id, name, type_, desc in self.session.execute(
            select(DatasetField.dataset_id, DatasetField.name, DatasetField.type, DatasetField.description)
            .where(DatasetField.dataset_id.in_(schemas))
            .order_by(DatasetField.dataset_id, DatasetField.position)
        ):
            current.setdefault(dataset_id, []).append((name, type_, desc))
        stale, rows = [], []
        for dataset_id, fields in schemas.items():
            unique = list({f["name"]: f for f in fields}.values())
            if current.get(dataset_id, []) == [(f["name"], f["type"], f["description"]) for f in unique]:
                continue
            if dataset_id in current:
                stale.append(dataset_id)
            rows.extend({"dataset_id": dataset_id, "name": f["name"], "type": f["type"],
                         "description": f["description"], "position": i} for i, f in enumerate(unique))
        if stale:
            self.session.execute(DatasetField.__table__.delete().where(DatasetField.dataset_id.in_(stale)))
        if rows:
            self.session.execute(DatasetField.__table__.insert(), rows)

    def _mark_fresh(self, rows: list[Any]) -> None:
        """A completed run makes every dataset it wrote fresh as of its end time, including
        outputs it announced only on START."""
        missing = {r.dataset_id for r in rows} - set(self.datasets)
        if missing:
            self.datasets.update({d.id: d for d in self.session.scalars(select(Dataset).where(Dataset.id.in_(missing)))})
        for r in rows:
            dataset = self.datasets[r.dataset_id]
            ended = self.pending.completed_runs[r.run_id]
            if dataset.last_modified_at is None or ended > dataset.last_modified_at:
                dataset.last_modified_at = ended
