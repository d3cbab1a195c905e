"""Jobs, Marquez-shaped, plus what we know beyond Marquez (owners, tags, SQL, jobType).

`inputs`/`outputs` are the job's current lineage (open edges), `latestRun` the run that
`jobs.latest_run_uuid` points at. "Jobs whose last run failed" reads the denormalised
`jobs.latest_run_state`, an index scan rather than a scan of the runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.catalog import lookup
from app.catalog.page import Page, iso, listing, ref
from app.catalog.runs import RUN_STATES, run_views
from app.errors import InvalidInput
from app.store.models import Dataset, Job, LineageEdge, Namespace, Run


def parse_run_states(values: Iterable[str] | None) -> list[str]:
    """`lastRunStates` may repeat and may hold comma-separated states; case does not matter."""
    states: list[str] = []
    for value in values or []:
        for part in value.split(","):
            state = part.strip().upper()
            if not state:
                continue
            if state not in RUN_STATES:
                raise InvalidInput(
                    f"unknown run state {part.strip()!r}; expected one of {', '.join(RUN_STATES)}"
                )
            if state not in states:
                states.append(state)
    return states


def _simple_name(name: str, parent_name: str | None) -> str:
    """Marquez names a child job `<parent>.<child>`; its simple name drops the prefix."""
    if parent_name and name.startswith(parent_name + ".") and len(name) > len(parent_name) + 1:
        return name[len(parent_name) + 1 :]
    return name


def _job_type(processing_type: str | None) -> str:
    return "STREAM" if (processing_type or "").upper() == "STREAMING" else "BATCH"


def _edges(session: Session, job_ids: list[int]) -> dict[tuple[int, str], list[dict[str, str]]]:
    out: dict[tuple[int, str], list[dict[str, str]]] = defaultdict(list)
    rows = session.execute(
        select(LineageEdge.job_id, LineageEdge.direction, Namespace.name, Dataset.name)
        .join(Dataset, Dataset.id == LineageEdge.dataset_id)
        .join(Namespace, Namespace.id == Dataset.namespace_id)
        .where(LineageEdge.job_id.in_(job_ids), LineageEdge.valid_to.is_(None))
        .order_by(LineageEdge.job_id, LineageEdge.direction, Namespace.name, Dataset.name)
        .distinct()
    )
    for job_id, direction, ns, name in rows:
        out[(job_id, direction)].append(ref(ns, name))
    return out


def _latest_runs(session: Session, jobs: list[Job]) -> dict[int, dict[str, Any]]:
    pairs = {(j.latest_run_uuid, j.id) for j in jobs if j.latest_run_uuid}
    if not pairs:
        return {}
    # Two plain IN lists rather than a row-value IN: SQLite only uses the run_uuid index
    # for the former. A runId shared by several jobs may bring a row too many; drop it.
    runs = [
        r
        for r in session.execute(
            select(Run.__table__).where(Run.run_uuid.in_({u for u, _ in pairs}), Run.job_id.in_({j for _, j in pairs}))
        )
        if (r.run_uuid, r.job_id) in pairs
    ]
    return {r.job_id: view for r, view in zip(runs, run_views(session, runs), strict=True)}


def job_views(session: Session, jobs: list[Job]) -> list[dict[str, Any]]:
    """Marquez job objects for `jobs`, in order, with a fixed number of statements."""
    if not jobs:
        return []
    parent_ids = {j.parent_job_id for j in jobs} - {None}
    parents = (
        {pid: (ns_id, name) for pid, ns_id, name in session.execute(
            select(Job.id, Job.namespace_id, Job.name).where(Job.id.in_(parent_ids))
        )}
        if parent_ids
        else {}
    )
    namespaces = lookup.namespace_names(
        session, {j.namespace_id for j in jobs} | {ns_id for ns_id, _ in parents.values()}
    )
    edges = _edges(session, [j.id for j in jobs])
    latest = _latest_runs(session, jobs)
    views = []
    for j in jobs:
        ns = namespaces[j.namespace_id]
        parent = parents.get(j.parent_job_id) if j.parent_job_id is not None else None
        parent_name = parent[1] if parent else None
        views.append(
            {
                "id": ref(ns, j.name),
                "type": _job_type(j.processing_type),
                "name": j.name,
                "simpleName": _simple_name(j.name, parent_name),
                "parentJobName": parent_name,
                "parentJob": ref(namespaces[parent[0]], parent[1]) if parent else None,
                "createdAt": iso(j.created_at),
                "updatedAt": iso(j.updated_at),
                "namespace": ns,
                "inputs": edges.get((j.id, "in"), []),
                "outputs": edges.get((j.id, "out"), []),
                "location": j.source_code_url,
                "description": j.description,
                "facets": j.facets or {},
                "latestRun": latest.get(j.id),
                "owners": j.owners or [],
                "tags": j.tags or [],
                "sql": j.sql,
                "jobType": j.job_type,
                "processingType": j.processing_type,
                "integration": j.integration,
            }
        )
    return views


def list_jobs(session: Session, namespace: str, page: Page) -> dict[str, Any]:
    """Jobs of one namespace by name (the (namespace_id, name) unique index gives the order)."""
    ns = lookup.namespace(session, namespace)
    total = session.scalar(select(func.count()).select_from(Job).where(Job.namespace_id == ns.id)) or 0
    jobs = session.execute(
        select(Job.__table__)
        .where(Job.namespace_id == ns.id)
        .order_by(Job.name, Job.id)
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return listing("jobs", job_views(session, jobs), total)


def get_job(session: Session, namespace: str, name: str) -> dict[str, Any]:
    return job_views(session, [lookup.job(session, namespace, name)])[0]


def find_jobs(
    session: Session,
    page: Page,
    *,
    last_run_states: Iterable[str] | None = None,
    namespace: str | None = None,
) -> dict[str, Any]:
    """Jobs across namespaces, most recently run first, optionally only those whose latest
    run is in one of `last_run_states` (e.g. FAILED)."""
    states = parse_run_states(last_run_states)
    conditions = []
    if states:
        conditions.append(Job.latest_run_state.in_(states))
    if namespace is not None:
        conditions.append(Job.namespace_id == lookup.namespace(session, namespace).id)
    total = session.scalar(select(func.count()).select_from(Job).where(*conditions)) or 0
    jobs = session.execute(
        select(Job.__table__)
        .where(*conditions)
        .order_by(Job.latest_run_at.desc().nulls_last(), Job.id.desc())
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return listing("jobs", job_views(session, jobs), total)
