"""Blast radius: everything reachable from a node, flat, with what a page needs.

An alert on a broken table wants "who is hit, how far away, who owns it, is it still
being refreshed" in one answer, not a graph to lay out. `distance` is counted in edges of
the job–dataset graph (a direct consumer job is 1, the table it writes is 2), so it orders
the list the way the breakage spreads.

A hub reaches tens of thousands of nodes; nobody reads such a list whole, and sending it
costs far more than computing it. So the summary covers everything reached (counts,
failing nodes, every owner with how many of the nodes they own) while the node list is a
page (`limit`, `offset`), nearest first. The current graph's answer comes from the
in-process caches of edges and node metadata, both caught up from their change logs
first, so it is never older than the last commit; history (`at`) and estates too big to
cache read the same data from the database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import chain
from operator import attrgetter
from typing import Any

from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.lineage.cache import current_graph
from app.lineage.graph import seeds_for
from app.lineage.nodecache import FAILING_STATES, NodeStore, current_nodes, parse_owners
from app.lineage.nodes import dataset_node_id, job_node_id, resolve
from app.lineage.params import check_direction, check_limit, max_hops_for
from app.lineage.traverse import Walk, dataset_writers, walk

DEFAULT_PAGE = 100
# The walk stops here; past it `truncated` is set and the summary counts are lower bounds.
MAX_REACH = 250_000

_DATASET, _JOB = 0, 1  # the page lists datasets before jobs at the same distance
_owners_of = attrgetter("owner_names")


def impact(
    session: Session,
    node_id: str,
    *,
    direction: str = "downstream",
    depth: int | None = None,
    limit: int | None = None,
    offset: int = 0,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Everything reachable from `node_id` (unbounded depth by default): totals and owners
    of all of it, and one page of the nodes, nearest first."""
    direction = check_direction(direction)
    limit = check_limit(limit, DEFAULT_PAGE)
    if offset < 0:
        raise InvalidInput("offset must be 0 or more")
    node = resolve(session, node_id)
    if node.kind == "datasetField":
        raise InvalidInput("impact starts from a dataset or job; for fields use column-lineage")
    seed_ds, seed_jobs = seeds_for(session, node)
    # The seeds are not part of the answer, so leave room for them under the cap.
    walk_args = {"direction": direction, "datasets": seed_ds, "jobs": seed_jobs, "at": at,
                 "max_hops": max_hops_for(depth, node.kind == "job"),
                 "limit": MAX_REACH + len(seed_ds) + len(seed_jobs)}
    head = {"nodeId": node.node_id, "direction": direction, "depth": depth, "at": at}
    if at is None:
        with current_graph(session) as graph:
            if graph is not None:
                with current_nodes(session) as nodes:
                    reached = walk(session, **walk_args)
                    return _answer(head, reached, _known(session, nodes, reached), graph.writers,
                                   graph.outputs, limit, offset)
    reached = walk(session, **walk_args)
    ds_ids = [i for i, d in reached.datasets.items() if d > 0]
    writers = dataset_writers(session, ds_ids, at)
    outputs: dict[int, list[int]] = {}
    for ds_id, jobs in writers.items():
        for job_id in jobs:
            outputs.setdefault(job_id, []).append(ds_id)
    store = NodeStore()
    store.load(session, ds_ids, sorted({*reached.jobs, *outputs}))
    return _answer(head, reached, store, writers, outputs, limit, offset)


def _known(session: Session, nodes: NodeStore, reached: Walk) -> NodeStore:
    """Make sure every reached node has metadata. The node cache is refreshed after the
    graph, so it already knows every node the graph holds; this only guards that order."""
    missing_ds = list(reached.datasets.keys() - nodes.datasets.keys())
    missing_jobs = list(reached.jobs.keys() - nodes.jobs.keys())
    if missing_ds or missing_jobs:
        nodes.load(session, missing_ds, missing_jobs)
    return nodes


def _last_run(writer_ids: Sequence[int], jobs: Mapping[int, Any]) -> tuple[str | None, datetime | None]:
    """A dataset's last run is that of its writer that ran last (ties: the lowest job id):
    is it still being refreshed?"""
    best, best_key = None, None
    for job_id in writer_ids:
        meta = jobs.get(job_id)
        if meta is None:
            continue
        key = (meta.run_at is not None, meta.run_at or datetime.min, -job_id)
        if best_key is None or key > best_key:
            best, best_key = meta, key
    return (best.run_state, best.run_at) if best is not None else (None, None)


def _answer(
    head: dict[str, Any],
    reached: Walk,
    nodes: NodeStore,
    writers: Mapping[int, Sequence[int]],
    outputs: Mapping[int, Sequence[int]],
    limit: int,
    offset: int,
) -> dict[str, Any]:
    ds_dist = {i: d for i, d in reached.datasets.items() if d > 0}
    job_dist = {i: d for i, d in reached.jobs.items() if d > 0}
    ds_meta, job_meta = nodes.datasets, nodes.jobs
    # Failing: reached jobs whose last run failed, and reached datasets whose last writer's
    # did. Only datasets written by a failing job can be failing, so start from those.
    failing_jobs = [j for j in nodes.failing if j in job_dist]
    suspects = {d for j in nodes.failing for d in outputs.get(j, ()) if d in ds_dist}
    failing_ds = [d for d in suspects if _last_run(writers.get(d, ()), job_meta)[0] in FAILING_STATES]
    owners = Counter(chain.from_iterable(map(_owners_of, map(ds_meta.__getitem__, ds_dist))))
    owners.update(chain.from_iterable(map(_owners_of, map(job_meta.__getitem__, job_dist))))
    total = len(ds_dist) + len(job_dist)
    page = _page(ds_dist, job_dist, nodes, offset, limit)
    return {
        **head,
        "truncated": reached.truncated,
        "totalCount": total,
        "limit": limit,
        "offset": offset,
        "summary": {
            "datasets": len(ds_dist),
            "jobs": len(job_dist),
            "maxDistance": max(chain(ds_dist.values(), job_dist.values()), default=0),
            "failing": len(failing_jobs) + len(failing_ds),
            "owners": [{"name": n, "nodes": c} for n, c in sorted(owners.items())],
        },
        "nodes": [_entry(kind, i, dist, nodes, writers) for dist, kind, *_, i in page],
    }


def _page(
    ds_dist: dict[int, int], job_dist: dict[int, int], nodes: NodeStore, offset: int, limit: int
) -> list[tuple]:
    """Rows `offset` to `offset + limit` in (distance, datasets first, namespace, name)
    order, sorting only the distances the page falls in rather than everything reached."""
    per_distance = Counter(ds_dist.values())
    per_distance.update(job_dist.values())
    wanted, seen = set(), 0
    for dist in sorted(per_distance):
        if seen + per_distance[dist] > offset:
            wanted.add(dist)
        seen += per_distance[dist]
        if seen >= offset + limit:
            break
    if not wanted:
        return []
    skipped = sum(n for dist, n in per_distance.items() if dist < min(wanted))
    ds_meta, job_meta = nodes.datasets, nodes.jobs
    rows = [(d, _DATASET, ds_meta[i].namespace, ds_meta[i].name, i)
            for i, d in ds_dist.items() if d in wanted]
    rows += [(d, _JOB, job_meta[i].namespace, job_meta[i].name, i)
             for i, d in job_dist.items() if d in wanted]
    rows.sort()
    return rows[offset - skipped : offset - skipped + limit]


def _entry(kind: int, node: int, distance: int, nodes: NodeStore,
           writers: Mapping[int, Sequence[int]]) -> dict[str, Any]:
    if kind == _DATASET:
        ds = nodes.datasets[node]
        state, run_at = _last_run(writers.get(node, ()), nodes.jobs)
        return {"id": dataset_node_id(ds.namespace, ds.name), "type": "DATASET",
                "namespace": ds.namespace, "name": ds.name, "distance": distance,
                "owners": parse_owners(ds.owners_json), "lastRunState": state,
                "lastRunAt": run_at, "lastUpdatedAt": ds.updated_at}
    job = nodes.jobs[node]
    return {"id": job_node_id(job.namespace, job.name), "type": "JOB", "namespace": job.namespace,
            "name": job.name, "distance": distance, "owners": parse_owners(job.owners_json),
            "lastRunState": job.run_state, "lastRunAt": job.run_at, "lastUpdatedAt": job.run_at}
