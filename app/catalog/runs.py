"""Runs, Marquez-shaped, with the dataset versions each one read and wrote.

A runId is not a run: one integration reuses a runId across several jobs of one run, and
those stay separate runs (one per job). `get_run` answers with the most recently updated
of them and lists every job the runId belongs to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.catalog import lookup
from app.catalog.page import Page, iso, listing, ref
from app.errors import NotFound
from app.store.models import Dataset, DatasetVersion, Job, Namespace, Run, RunInput

RUN_STATES = ("NEW", "RUNNING", "COMPLETED", "FAILED", "ABORTED")

# "Newest first" means by when the run happened (eventTime), not when its events arrived:
# a backfill or a replay must not scramble the history. A run seen only through its end
# event (Airflow sends DAG-level COMPLETE without START) sorts by that end.
RUN_TIME = func.coalesce(Run.started_at, Run.ended_at, Run.created_at)


def _duration_ms(run: Run) -> int | None:
    if run.started_at is None or run.ended_at is None:
        return None
    return (run.ended_at - run.started_at) // timedelta(milliseconds=1)


def job_refs(session: Session, job_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """{job id: {namespace, name}} in one statement."""
    wanted = set(job_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(Job.id, Namespace.name, Job.name)
        .join(Namespace, Namespace.id == Job.namespace_id)
        .where(Job.id.in_(wanted))
    )
    return {job_id: ref(ns, name) for job_id, ns, name in rows}


def _version_entry(ns: str, name: str, version_id: int | None, row_count, byte_size, file_count):
    return {
        "datasetVersionId": {
            "namespace": ns,
            "name": name,
            "version": str(version_id) if version_id is not None else None,
        },
        "facets": {},
        "rowCount": row_count,
        "byteSize": byte_size,
        "fileCount": file_count,
    }


def _dataset_versions(
    session: Session, run_ids: list[int]
) -> tuple[dict[int, list[dict[str, Any]]], dict[int, list[dict[str, Any]]]]:
    """Inputs (with the version that was current when read) and outputs of each run."""
    inputs: dict[int, list[dict[str, Any]]] = defaultdict(list)
    outputs: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not run_ids:
        return inputs, outputs
    read = session.execute(
        select(
            RunInput.run_id, Namespace.name, Dataset.name, RunInput.dataset_version_id,
            DatasetVersion.row_count, DatasetVersion.byte_size, DatasetVersion.file_count,
        )
        .join(Dataset, Dataset.id == RunInput.dataset_id)
        .join(Namespace, Namespace.id == Dataset.namespace_id)
        .outerjoin(DatasetVersion, DatasetVersion.id == RunInput.dataset_version_id)
        .where(RunInput.run_id.in_(run_ids))
        .order_by(RunInput.run_id, Namespace.name, Dataset.name)
    )
    for run_id, ns, name, version_id, rows_, size, files in read:
        inputs[run_id].append(_version_entry(ns, name, version_id, rows_, size, files))
    written = session.execute(
        select(
            DatasetVersion.run_id, Namespace.name, Dataset.name, DatasetVersion.id,
            DatasetVersion.row_count, DatasetVersion.byte_size, DatasetVersion.file_count,
        )
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .join(Namespace, Namespace.id == Dataset.namespace_id)
        .where(DatasetVersion.run_id.in_(run_ids))
        .order_by(DatasetVersion.run_id, Namespace.name, Dataset.name)
    )
    for run_id, ns, name, version_id, rows_, size, files in written:
        outputs[run_id].append(_version_entry(ns, name, version_id, rows_, size, files))
    return inputs, outputs


def run_views(session: Session, runs: list[Run]) -> list[dict[str, Any]]:
    """Marquez run objects for `runs`, in order, with a fixed number of statements."""
    if not runs:
        return []
    parent_ids = {r.parent_run_id for r in runs} - {None}
    parents = {
        pid: (uuid, job_id)
        for pid, uuid, job_id in session.execute(
            select(Run.id, Run.run_uuid, Run.job_id).where(Run.id.in_(parent_ids))
        )
    } if parent_ids else {}
    jobs = job_refs(session, {r.job_id for r in runs} | {j for _, j in parents.values()})
    inputs, outputs = _dataset_versions(session, [r.id for r in runs])
    views = []
    for r in runs:
        parent = parents.get(r.parent_run_id) if r.parent_run_id is not None else None
        views.append(
            {
                "id": r.run_uuid,
                "createdAt": iso(r.created_at),
                "updatedAt": iso(r.updated_at),
                "nominalStartTime": iso(r.nominal_start_time),
                "nominalEndTime": iso(r.nominal_end_time),
                "state": r.state,
                "startedAt": iso(r.started_at),
                "endedAt": iso(r.ended_at),
                "durationMs": _duration_ms(r),
                "args": {},
                "jobVersion": None,
                "inputDatasetVersions": inputs.get(r.id, []),
                "outputDatasetVersions": outputs.get(r.id, []),
                "context": {},
                "facets": r.facets or {},
                "job": jobs.get(r.job_id),
                "parentRunId": parent[0] if parent else None,
                "parentJob": jobs.get(parent[1]) if parent else None,
                "errorMessage": r.error_message,
            }
        )
    return views


def list_runs(session: Session, namespace: str, job: str, page: Page) -> dict[str, Any]:
    """Runs of one job, newest first (by start, else end, time)."""
    job_row = lookup.job(session, namespace, job)
    total = session.scalar(select(func.count()).select_from(Run).where(Run.job_id == job_row.id)) or 0
    runs = session.execute(
        select(Run.__table__)
        .where(Run.job_id == job_row.id)
        .order_by(RUN_TIME.desc(), Run.id.desc())
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return listing("runs", run_views(session, runs), total)


def get_run(session: Session, run_uuid: str) -> dict[str, Any]:
    runs = session.execute(
        select(Run.__table__)
        .where(Run.run_uuid == run_uuid.lower())
        .order_by(Run.updated_at.desc(), Run.id.desc())
    ).all()
    if not runs:
        raise NotFound(f"run '{run_uuid}' not found")
    view = run_views(session, runs[:1])[0]
    refs = job_refs(session, {r.job_id for r in runs})
    view["jobs"] = [refs[r.job_id] for r in runs]
    return view
