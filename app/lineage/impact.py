"""Blast radius: everything reachable from a node, flat, with what a page needs.

An alert on a broken table wants "who is hit, how far away, who owns it, is it still
being refreshed" in one answer, not a graph to lay out. `distance` is counted in edges of
the job–dataset graph (a direct consumer job is 1, the table it writes is 2), so it orders
the list the way the breakage spreads. Owners are also rolled up, ready for paging.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.lineage import meta
from app.lineage.graph import seeds_for
from app.lineage.nodes import dataset_node_id, job_node_id, resolve
from app.lineage.params import check_direction, check_limit, max_hops_for
from app.lineage.traverse import dataset_writers, walk_both

DEFAULT_IMPACT_LIMIT = 50_000


def _owner_names(owners: list[Any]) -> list[str]:
    names = []
    for owner in owners or []:
        name = owner.get("name") if isinstance(owner, dict) else owner
        if name:
            names.append(str(name))
    return names


def impact(
    session: Session,
    node_id: str,
    *,
    direction: str = "downstream",
    depth: int | None = None,
    limit: int | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Reachable datasets and jobs from `node_id`, nearest first; unbounded depth by default."""
    direction = check_direction(direction)
    limit = check_limit(limit, DEFAULT_IMPACT_LIMIT)
    node = resolve(session, node_id)
    if node.kind == "datasetField":
        raise InvalidInput("impact starts from a dataset or job; for fields use column-lineage")
    seed_ds, seed_jobs = seeds_for(session, node)
    seeds = len(seed_ds) + len(seed_jobs)
    # The seeds are not part of the answer, so leave room for them under the limit.
    result = walk_both(
        session, direction=direction, datasets=seed_ds, jobs=seed_jobs,
        max_hops=max_hops_for(depth, node.kind == "job"), limit=limit + seeds, at=at,
    )
    reached_ds = [i for i, d in result.datasets.items() if d > 0]
    reached_jobs = [i for i, d in result.jobs.items() if d > 0]
    writers = dataset_writers(session, reached_ds, at)
    datasets = meta.dataset_briefs(session, reached_ds)
    jobs = meta.job_briefs(session, list({*reached_jobs, *(j for js in writers.values() for j in js)}))
    entries: list[dict[str, Any]] = []
    owner_counts: dict[str, int] = {}
    for ds_id, (ns, name, owners, modified) in datasets.items():
        # A dataset's last run is that of the writer that ran last: is it still refreshed?
        state, run_at, chosen = None, None, False
        for job_id in writers.get(ds_id, ()):
            brief = jobs.get(job_id)
            if brief and (not chosen or (brief[4] is not None and (run_at is None or brief[4] > run_at))):
                state, run_at, chosen = brief[3], brief[4], True
        entries.append({
            "id": dataset_node_id(ns, name), "type": "DATASET", "namespace": ns, "name": name,
            "distance": result.datasets[ds_id], "owners": owners or [],
            "lastRunState": state, "lastRunAt": run_at, "lastUpdatedAt": modified,
        })
    for job_id in reached_jobs:
        ns, name, owners, state, run_at = jobs[job_id]
        entries.append({
            "id": job_node_id(ns, name), "type": "JOB", "namespace": ns, "name": name,
            "distance": result.jobs[job_id], "owners": owners or [],
            "lastRunState": state, "lastRunAt": run_at, "lastUpdatedAt": run_at,
        })
    for entry in entries:
        for owner in set(_owner_names(entry["owners"])):
            owner_counts[owner] = owner_counts.get(owner, 0) + 1
    entries.sort(key=lambda e: (e["distance"], e["type"], e["id"]))
    failing = sum(1 for e in entries if e["lastRunState"] in ("FAILED", "ABORTED"))
    return {
        "nodeId": node.node_id,
        "direction": direction,
        "depth": depth,
        "at": at,
        "limit": limit,
        "truncated": result.truncated,
        "summary": {
            "datasets": len(datasets),
            "jobs": len(reached_jobs),
            "maxDistance": max((e["distance"] for e in entries), default=0),
            "failing": failing,
            "owners": [{"name": n, "nodes": c} for n, c in sorted(owner_counts.items())],
        },
        "nodes": entries,
    }
