"""Upstream run lineage: which runs produced the data a run read, and so on upstream.

"Why is this table stale?" is answered by following versions, not the job graph: a run
read specific versions of its inputs (run_inputs.dataset_version_id), each written by one
run (dataset_versions.run_id), which read its own inputs. Each input also says whether a
newer version exists now, and the producing run's state shows a failed or stuck refresh.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.lineage import meta
from app.lineage.nodes import resolve_run
from app.lineage.params import check_depth, check_limit
from app.lineage.sql import chunks, id_in
from app.store.dialect import is_postgres
from app.store.models import Dataset, DatasetVersion, Run, RunInput

DEFAULT_RUN_LIMIT = 1000


def _inputs(session: Session, run_ids: list[int], postgres: bool) -> list[tuple]:
    producer = aliased(Run)
    rows: list[tuple] = []
    for part in chunks(run_ids, 5000):
        stmt = (
            select(
                RunInput.run_id, RunInput.dataset_id, RunInput.dataset_version_id,
                DatasetVersion.run_id, DatasetVersion.event_time, Dataset.current_version_id,
                producer.run_uuid,
            )
            .join(Dataset, Dataset.id == RunInput.dataset_id)
            .outerjoin(DatasetVersion, DatasetVersion.id == RunInput.dataset_version_id)
            .outerjoin(producer, producer.id == DatasetVersion.run_id)
            .where(id_in(RunInput.run_id, part, postgres))
            .order_by(RunInput.run_id, RunInput.dataset_id)
        )
        rows.extend(session.execute(stmt).tuples())
    return rows


def upstream_runs(
    session: Session, run_uuid: str, *, depth: int = 20, limit: int | None = None
) -> dict[str, Any]:
    """The run(s) with this runId at depth 0, then the producers of what they read."""
    check_depth(depth)
    limit = check_limit(limit, DEFAULT_RUN_LIMIT)
    postgres = is_postgres(session)
    seeds = resolve_run(session, run_uuid)
    found: dict[int, int] = {r.id: 0 for r in seeds}
    inputs_of: dict[int, list[tuple]] = defaultdict(list)
    frontier = [r.id for r in seeds]
    truncated = False
    level = 0
    while frontier:
        rows = _inputs(session, frontier, postgres)
        nxt: list[int] = []
        for row in rows:
            inputs_of[row[0]].append(row)
            producer = row[3]
            if level < depth and producer is not None and producer not in found:
                if len(found) >= limit:
                    truncated = True
                    continue
                found[producer] = level + 1
                nxt.append(producer)
        level += 1
        frontier = nxt if level <= depth else []
    producers = {row[3] for rows in inputs_of.values() for row in rows if row[3] is not None}
    runs = {
        r.id: r for part in chunks(sorted(set(found) | producers), 5000)
        for r in session.scalars(select(Run).where(id_in(Run.id, part, postgres)))
    }
    jobs = meta.load_job_names(session, list({r.job_id for r in runs.values()}))
    ds_ids = {row[1] for rows in inputs_of.values() for row in rows}
    datasets = meta.load_datasets(session, list(ds_ids))
    out = []
    for run_id, dist in sorted(found.items(), key=lambda kv: (kv[1], kv[0])):
        run = runs[run_id]
        ns, name = jobs[run.job_id]
        inputs = []
        for _, ds_id, version_id, producer, version_time, current_version, producer_uuid in inputs_of[run_id]:
            info = datasets[ds_id]
            produced_by = None
            if producer is not None:
                job_ref = jobs[runs[producer].job_id]
                produced_by = {"runId": producer_uuid,
                               "job": {"namespace": job_ref[0], "name": job_ref[1]}}
            inputs.append({
                "namespace": info.namespace, "name": info.name,
                "version": str(version_id) if version_id is not None else None,
                "versionCreatedAt": version_time,
                "latestVersion": str(current_version) if current_version is not None else None,
                "isLatest": None if version_id is None or current_version is None
                else version_id == current_version,
                "lastModifiedAt": info.last_modified_at,
                "producedBy": produced_by,
            })
        out.append({
            "depth": dist,
            "run": {"id": run.run_uuid, "state": run.state, "startedAt": run.started_at,
                    "endedAt": run.ended_at, "nominalStartTime": run.nominal_start_time,
                    "errorMessage": run.error_message},
            "job": {"namespace": ns, "name": name},
            "inputs": inputs,
        })
    return {"runId": run_uuid, "depth": depth, "limit": limit, "truncated": truncated, "runs": out}
