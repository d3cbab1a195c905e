"""Folding a batch of events into the jobs, datasets and runs they name.

Every row a batch touches is loaded once (locked on PostgreSQL), every event is folded
into those in-memory rows in eventTime order, and child rows (versions, inputs, quality
results, column lineage) are collected for one bulk write each (see `persist`). A batch
of N events therefore costs a fixed number of statements, not N round trips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.ingest import facets as F
from app.ingest.edges import EdgeTracker
from app.ingest.identity import IdCache, IdResolver
from app.ingest.persist import write_children
from app.ingest.records import DatasetRecord, JobRecord, Record, RunRecord, write_back
from app.ingest.runstate import TERMINAL_STATES, apply_event
from app.ingest.schema import DatasetEvent, JobEvent, ParsedEvent, RunEvent
from app.store.dialect import is_postgres
from app.store.models import Dataset, Job, Run
from app.store.rowsets import insert_rows
from app.store.types import utcnow


@dataclass
class Pending:
    """Child rows collected while folding events, written in bulk at the end."""

    versions: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    inputs: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    assertions: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    column_edges: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    schemas: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    completed_runs: dict[int, datetime] = field(default_factory=dict)


class Folder:
    def __init__(self, session: Session, cache: IdCache) -> None:
        self.session = session
        self.ids = IdResolver(session, cache)
        self.pending = Pending()
        self.edges = EdgeTracker(session)
        self.jobs: dict[int, Record] = {}
        self.datasets: dict[int, Record] = {}
        self.runs: dict[tuple[str, int], Record] = {}

    def fold(self, events: list[ParsedEvent]) -> None:
        """Fold `events` (sorted by eventTime) and write everything they changed (flush only)."""
        self._load(events)
        for p in events:
            e = p.event
            if isinstance(e, RunEvent):
                self._run_event(e)
            elif isinstance(e, JobEvent):
                self._job_event(e)
            elif isinstance(e, DatasetEvent):
                self._merge_dataset(e.dataset.namespace, e.dataset.name, e.dataset.facets, e.eventTime)
        versions = write_children(self.session, self.pending, self.datasets)
        self.edges.flush(self.pending.completed_runs, self.runs_by_pk, self.jobs, versions)
        write_back(self.session, [*self.runs.values(), *self.jobs.values(), *self.datasets.values()])

    # -- loading ---------------------------------------------------------------------
    def _load(self, events: list[ParsedEvent]) -> None:
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
        lock = is_postgres(self.session)
        self.jobs = {j.id: j for j in JobRecord.load(self.session, Job.id.in_(ids.job_ids()), lock=lock)}
        dataset_ids = ids.dataset_ids()
        if dataset_ids:
            self.datasets = {
                d.id: d for d in DatasetRecord.load(self.session, Dataset.id.in_(dataset_ids), lock=lock)
            }
        if run_keys:
            wanted = {(uuid, ids.job(*job_key)) for uuid, job_key in run_keys}
            now = utcnow()
            insert_rows(self.session, Run,
                        [{"run_uuid": u, "job_id": j, "state": "NEW", "facets": {}, "facet_times": {},
                          "created_at": now, "updated_at": now} for u, j in sorted(wanted)],
                        conflict=["run_uuid", "job_id"])
            for run in RunRecord.load(self.session, Run.run_uuid.in_({u for u, _ in wanted}), lock=lock):
                if (run.run_uuid, run.job_id) in wanted:
                    self.runs[(run.run_uuid, run.job_id)] = run
        self.runs_by_pk = {r.id: r for r in self.runs.values()}

    # -- folding -----------------------------------------------------------------------
    def _job_event(self, e: JobEvent) -> None:
        job = self.jobs[self.ids.job(e.job.namespace, e.job.name)]
        self._merge_job(job, e.job.facets)
        for direction, datasets in (("in", e.inputs), ("out", e.outputs)):
            for ds in datasets:
                dataset_id = self._merge_dataset(ds.namespace, ds.name, ds.facets, e.eventTime)
                self.edges.touch(job, dataset_id, direction, e.eventTime)

    def _run_event(self, e: RunEvent) -> None:
        t = e.eventTime
        job_id = self.ids.job(e.job.namespace, e.job.name)
        job = self.jobs[job_id]
        run = self.runs[(str(e.run.runId), job_id)]
        self._merge_job(job, e.job.facets)
        was_terminal = run.state in TERMINAL_STATES
        apply_event(run, e.eventType, t)
        self._merge_run_facets(run, e.run.facets, t)
        self._link_parent(job, run, e.run.facets, t)
        if run.state == "COMPLETED" and (not was_terminal or run.ended_at == t):
            self.pending.completed_runs[run.id] = run.ended_at or t
        self._track_latest_run(job, run, t)
        run.updated_at = utcnow()

        run_tests = F.run_tests(e.run.facets)
        for ds in e.inputs:
            dataset_id = self._merge_dataset(ds.namespace, ds.name, ds.facets, t)
            self.pending.inputs.setdefault(
                (run.id, dataset_id),
                {"run_id": run.id, "dataset_id": dataset_id,
                 "dataset_version_id": self.datasets[dataset_id].current_version_id, "event_time": t},
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
            self._column_lineage(run, job, dataset_id, ds.facets, t)
            self.edges.touch(job, dataset_id, "out", t)

    def _link_parent(self, job: Record, run: Record, facets: dict[str, Any], t: datetime) -> None:
        parent = F.parent(facets)
        if not parent:
            return
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

    def _column_lineage(self, run: Record, job: Record, dataset_id: int, facets: dict[str, Any],
                        t: datetime) -> None:
        for edge in F.column_lineage(facets):
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

    @staticmethod
    def _track_latest_run(job: Record, run: Record, t: datetime) -> None:
        if job.latest_run_uuid == run.run_uuid or job.latest_run_at is None or t >= job.latest_run_at:
            job.latest_run_uuid = run.run_uuid
            job.latest_run_state = run.state
            if job.latest_run_at is None or t > job.latest_run_at:
                job.latest_run_at = t

    @staticmethod
    def _merge_run_facets(run: Record, facets: dict[str, Any], t: datetime) -> None:
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

    @staticmethod
    def _merge_job(job: Record, facets: dict[str, Any]) -> None:
        merged = {**(job.facets or {}), **facets}
        if not facets or merged == job.facets:
            return  # producers resend the same job facets on every event: no write
        job.facets = merged
        attrs = F.job_attributes(merged)
        for column in ("processing_type", "integration", "job_type", "sql",
                       "source_code_language", "source_code", "source_code_url"):
            value = getattr(attrs, column)
            if value is not None:
                setattr(job, column, value)
        _describe(job, facets)

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
        _describe(dataset, facets)
        dataset_type = facets.get("datasetType")
        if dataset_type:
            dataset.dataset_type = F._str(dataset_type.get("datasetType"), 64) or dataset.dataset_type
        dataset.lifecycle_state = F.lifecycle_state(facets) or dataset.lifecycle_state
        fields = F.schema_fields(facets)
        if fields is not None:
            self.pending.schemas[dataset_id] = fields
        return dataset_id

    def _output_version(self, run: Record, dataset_id: int, facets: dict[str, Any],
                        output_facets: dict[str, Any], t: datetime) -> None:
        version = self.pending.versions.setdefault(
            (dataset_id, run.id),
            {"dataset_id": dataset_id, "run_id": run.id, "event_time": t, "row_count": None,
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


def _describe(record: Record, facets: dict[str, Any]) -> None:
    """Description, owners and tags: a facet that says nothing keeps what an earlier one said."""
    record.description = F.description(facets) or record.description
    owners, tags = F.owners(facets), F.tags(facets)
    if owners is not None:
        record.owners = owners
    if tags is not None:
        record.tags = tags
    record.updated_at = utcnow()
