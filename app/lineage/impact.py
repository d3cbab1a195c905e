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
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from itertools import chain
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
                    if nodes is None:
                        return _from_database(session, head, walk_args, limit, offset)
                    reached = walk(session, **walk_args)
                    try:
                        return _answer(head, reached, nodes, graph.writers, graph.outputs, limit, offset)
                    except KeyError:
                        # Cannot happen while the node cache is refreshed after the graph
                        # (as above); if it ever does, read the missing rows and go again.
                        nodes.load(session, list(reached.datasets.keys() - nodes.datasets.keys()),
                                   list(reached.jobs.keys() - nodes.jobs.keys()))
                        return _answer(head, reached, nodes, graph.writers, graph.outputs, limit, offset)
    return _from_database(session, head, walk_args, limit, offset)


def _from_database(session: Session, head: dict[str, Any], walk_args: dict[str, Any], limit: int,
                   offset: int) -> dict[str, Any]:
    """History and estates too big to cache: the same answer from the tables."""
    reached = walk(session, **walk_args)
    ds_ids = list(reached.datasets)
    writers = dataset_writers(session, ds_ids, walk_args["at"])
    outputs: dict[int, list[int]] = {}
    for ds_id, jobs in writers.items():
        for job_id in jobs:
            outputs.setdefault(job_id, []).append(ds_id)
    store = NodeStore()
    store.load(session, ds_ids, sorted({*reached.jobs, *outputs}))
    return _answer(head, reached, store, writers, outputs, limit, offset)


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


def _owner_counts(ids: Iterable[int], owners: Mapping[int, int], owner_sets: Sequence[tuple[str, ...]],
                  into: Counter) -> None:
    # Nodes share a few distinct owner sets: count those (one C-level pass), then expand.
    for index, count in Counter(map(owners.__getitem__, ids)).items():
        for name in owner_sets[index]:
            into[name] += count


def _answer(
    head: dict[str, Any],
    reached: Walk,
    nodes: NodeStore,
    writers: Mapping[int, Sequence[int]],
    outputs: Mapping[int, Sequence[int]],
    limit: int,
    offset: int,
) -> dict[str, Any]:
    levels = reached.levels()[1:]  # distance 1 onwards: the seeds are not in the answer
    datasets = sum(len(ds) for _, ds in levels)
    jobs = sum(len(js) for js, _ in levels)
    # Failing: reached jobs whose last run failed, and reached datasets whose last writer's
    # did. Only datasets written by a failing job can be failing, so start from those.
    reached_ds = reached.datasets
    failing_jobs = [j for j in nodes.failing if reached.jobs.get(j, 0) > 0]
    suspects = {d for j in nodes.failing for d in outputs.get(j, ()) if reached_ds.get(d, 0) > 0}
    failing_ds = [d for d in suspects if _last_run(writers.get(d, ()), nodes.jobs)[0] in FAILING_STATES]
    owners: Counter = Counter()
    _owner_counts(chain.from_iterable(ds for _, ds in levels), nodes.dataset_owners, nodes.owner_sets, owners)
    _owner_counts(chain.from_iterable(js for js, _ in levels), nodes.job_owners, nodes.owner_sets, owners)
    return {
        **head,
        "truncated": reached.truncated,
        "totalCount": datasets + jobs,
        "limit": limit,
        "offset": offset,
        "summary": {
            "datasets": datasets,
            "jobs": jobs,
            "maxDistance": max((d for d, (j, ds) in enumerate(levels, 1) if j or ds), default=0),
            "failing": len(failing_jobs) + len(failing_ds),
            "owners": [{"name": n, "nodes": c} for n, c in sorted(owners.items())],
        },
        "nodes": [_entry(kind, i, dist, nodes, writers) for dist, kind, *_, i in
                  _page(levels, nodes, offset, limit)],
    }


def _page(levels: list[tuple[list[int], list[int]]], nodes: NodeStore, offset: int, limit: int) -> list[tuple]:
    """Rows `offset` to `offset + limit` in (distance, datasets first, namespace, name)
    order, sorting only the distances the page falls in rather than everything reached."""
    rows: list[tuple] = []
    start = None  # position of the first collected row in the whole ordering
    seen = 0
    ds_meta, job_meta = nodes.datasets, nodes.jobs
    for dist, (jobs, datasets) in enumerate(levels, 1):
        size = len(jobs) + len(datasets)
        if seen + size > offset:
            start = seen if start is None else start
            rows += [(dist, _DATASET, ds_meta[i].namespace, ds_meta[i].name, i) for i in datasets]
            rows += [(dist, _JOB, job_meta[i].namespace, job_meta[i].name, i) for i in jobs]
        seen += size
        if seen >= offset + limit:
            break
    if start is None:
        return []
    rows.sort()
    return rows[offset - start : offset - start + limit]


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
