"""Breadth-first walks over the job–dataset graph.

Why breadth-first from Python rather than one recursive CTE: a CTE that tracks distance
cannot drop a node it already reached (only the last level is visible to the recursive
term), so on DAGs with many paths and on cycles it re-expands nodes once per distinct
path length. Here each node is expanded exactly once, cycles end by themselves, the node
limit stops the walk as soon as it is reached, and the same code runs on SQLite and
PostgreSQL over either adjacency source: the in-process graph cache for the current
graph (cache.py), or the database level by level (one indexed query per side and level
over the partial covering indexes) for history (`at=`) and estates too big to cache.

Edge semantics: (job, dataset, 'in') means the job reads the dataset, so data flows
dataset → job; 'out' means job → dataset. Downstream from a dataset follows its readers,
upstream follows its writers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from app.lineage.cache import GraphCache, current_graph
from app.lineage.sql import chunks, id_in, json_array, pg_array_literal
from app.store.dialect import is_postgres
from app.store.models import Job
from app.store.types import UTCDateTime

DOWNSTREAM = "downstream"
UPSTREAM = "upstream"
BOTH = "both"
DIRECTIONS = (DOWNSTREAM, UPSTREAM, BOTH)

# Which edge direction leads onwards from a dataset, and from a job, for each walk.
_FROM_DATASET = {DOWNSTREAM: "in", UPSTREAM: "out"}
_FROM_JOB = {DOWNSTREAM: "out", UPSTREAM: "in"}


@dataclass
class Walk:
    """Nodes reached with their distance in edges, and the edges crossed to reach them."""

    datasets: dict[int, int] = field(default_factory=dict)
    jobs: dict[int, int] = field(default_factory=dict)
    # (job_id, dataset_id, 'in'|'out'), only when the walk was asked to keep them.
    edges: set[tuple[int, int, str]] = field(default_factory=set)
    truncated: bool = False
    # (job ids, dataset ids) first reached at each hop, hop 0 being the seeds. A directed
    # walk records them as it goes, for free; after a union they are rebuilt on demand.
    by_hop: list[tuple[list[int], list[int]]] | None = None

    @property
    def size(self) -> int:
        return len(self.datasets) + len(self.jobs)

    def levels(self) -> list[tuple[list[int], list[int]]]:
        if self.by_hop is None:
            top = max(chain(self.datasets.values(), self.jobs.values()), default=0)
            self.by_hop = [([], []) for _ in range(top + 1)]
            for side, nodes in ((0, self.jobs), (1, self.datasets)):
                for node, hop in nodes.items():
                    self.by_hop[hop][side].append(node)
        return self.by_hop

    def merge(self, other: Walk) -> None:
        """Union of two walks (upstream and downstream), keeping the shorter distance."""
        for mine, theirs in ((self.datasets, other.datasets), (self.jobs, other.jobs)):
            for node, dist in theirs.items():
                if node not in mine or dist < mine[node]:
                    mine[node] = dist
        self.edges |= other.edges
        self.truncated = self.truncated or other.truncated
        self.by_hop = None


class _DatabaseAdjacency:
    """Neighbours of a frontier, one indexed query per side and level.

    The frontier is joined as an unnested array (PostgreSQL) or json_each (SQLite) rather
    than `= ANY(...)`, whose per-element selectivity estimate costs more planning time
    than the query itself once frontiers reach thousands of ids.
    """

    def __init__(self, session: Session, direction: str, at: datetime | None) -> None:
        self.session = session
        self.postgres = is_postgres(session)
        valid = "e.valid_to IS NULL" if at is None else (
            "e.valid_from <= :at AND (e.valid_to IS NULL OR e.valid_to > :at)")
        frontier = ("unnest(CAST(:ids AS BIGINT[])) AS f(id)" if self.postgres
                    else "(SELECT value AS id FROM json_each(:ids)) AS f")
        params = [bindparam("at", type_=UTCDateTime())] if at is not None else []
        self.at = at

        def query(key: str, edge_dir: str):
            return text(
                f"SELECT e.job_id, e.dataset_id FROM {frontier} JOIN lineage_edges e "
                f"ON e.{key} = f.id WHERE e.direction = '{edge_dir}' AND {valid}"
            ).bindparams(*params)

        self.from_ds_sql = query("dataset_id", _FROM_DATASET[direction])
        self.from_job_sql = query("job_id", _FROM_JOB[direction])

    def _rows(self, stmt, ids: list[int]) -> list[tuple[int, int]]:
        rows: list[tuple[int, int]] = []
        for part in chunks(ids):
            value = pg_array_literal(part) if self.postgres else json_array(part)
            params = {"ids": value} if self.at is None else {"ids": value, "at": self.at}
            rows.extend(self.session.connection().execute(stmt, params).tuples())
        return rows

    def from_datasets(self, ids: list[int]) -> dict[int, list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for job_id, ds_id in self._rows(self.from_ds_sql, ids):
            out[ds_id].append(job_id)
        return out

    def from_jobs(self, ids: list[int]) -> dict[int, list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for job_id, ds_id in self._rows(self.from_job_sql, ids):
            out[job_id].append(ds_id)
        return out


class _CachedAdjacency:
    """The in-process graph (see cache.py): the whole adjacency, no query per level."""

    def __init__(self, graph: GraphCache, direction: str) -> None:
        down = direction == DOWNSTREAM
        self.by_dataset = graph.readers if down else graph.writers
        self.by_job = graph.outputs if down else graph.inputs

    def from_datasets(self, ids: list[int]) -> dict[int, list[int]]:
        return self.by_dataset

    def from_jobs(self, ids: list[int]) -> dict[int, list[int]]:
        return self.by_job


def walk(
    session: Session,
    *,
    direction: str,
    datasets: Iterable[int] = (),
    jobs: Iterable[int] = (),
    max_hops: int | None = None,
    limit: int | None = None,
    at: datetime | None = None,
    keep_edges: bool = False,
    use_cache: bool = True,
) -> Walk:
    """Walk from the seeds (distance 0) up to `max_hops` edges and `limit` nodes.

    The current graph is walked in the process cache when it holds the estate; history
    (`at`) and estates too big to cache are walked in the database. Both give the same
    answer. When the limit cuts a level short, the nodes kept are the lowest ids of that
    level, so the same query over the same data always returns the same graph.

    `both` is ancestors plus descendants, never siblings. Marquez treats the graph as
    undirected, which pulls in every other consumer of every upstream table; on-call wants
    what feeds the node and what it feeds, so `both` is the union of the two directed
    walks. Each side may use the whole limit; if the union is larger, the nodes nearest
    the seeds are kept, as a single breadth-first walk would.
    """
    datasets, jobs = list(datasets), list(jobs)
    if direction == BOTH:
        kwargs = {"datasets": datasets, "jobs": jobs, "max_hops": max_hops, "limit": limit,
                  "at": at, "keep_edges": keep_edges, "use_cache": use_cache}
        union = walk(session, direction=UPSTREAM, **kwargs)
        union.merge(walk(session, direction=DOWNSTREAM, **kwargs))
        if limit is not None and union.size > limit:
            _keep_nearest(union, limit)
        return union
    if direction not in (DOWNSTREAM, UPSTREAM):
        raise ValueError(f"walk direction must be one of {', '.join(DIRECTIONS)}")
    if use_cache and at is None:
        with current_graph(session) as graph:
            if graph is not None:
                return _walk(_CachedAdjacency(graph, direction), direction, datasets, jobs,
                             max_hops, limit, keep_edges)
    return _walk(_DatabaseAdjacency(session, direction, at), direction, datasets, jobs,
                 max_hops, limit, keep_edges)


def _keep_nearest(result: Walk, limit: int) -> None:
    ranked = sorted(
        [(d, 0, i) for i, d in result.jobs.items()] + [(d, 1, i) for i, d in result.datasets.items()]
    )[:limit]
    result.jobs = {i: d for d, kind, i in ranked if kind == 0}
    result.datasets = {i: d for d, kind, i in ranked if kind == 1}
    result.edges = {e for e in result.edges if e[0] in result.jobs and e[1] in result.datasets}
    result.truncated = True
    result.by_hop = None


def _walk(adjacency, direction, datasets, jobs, max_hops, limit, keep_edges) -> Walk:
    result = Walk()
    result.datasets = {int(d): 0 for d in datasets}
    result.jobs = {int(j): 0 for j in jobs}
    seen_ds, seen_jobs = result.datasets, result.jobs
    ds_dir, job_dir = _FROM_DATASET[direction], _FROM_JOB[direction]
    edges = result.edges if keep_edges else None
    frontier_ds, frontier_jobs = list(seen_ds), list(seen_jobs)
    result.by_hop = [(frontier_jobs, frontier_ds)]
    hop = 0
    while (frontier_ds or frontier_jobs) and (max_hops is None or hop < max_hops):
        hop += 1
        new_jobs = _expand(frontier_ds, adjacency.from_datasets(frontier_ds), seen_jobs, hop,
                           edges, ds_dir, True) if frontier_ds else []
        new_ds = _expand(frontier_jobs, adjacency.from_jobs(frontier_jobs), seen_ds, hop,
                         edges, job_dir, False) if frontier_jobs else []
        room = None if limit is None else limit - len(seen_ds) - len(seen_jobs)
        if room is not None and room < 0:
            # Keep the level's lowest ids, jobs and datasets interleaved by id.
            ranked = sorted([(j, 0) for j in new_jobs] + [(d, 1) for d in new_ds])
            for node, kind in ranked[len(ranked) + room :]:
                del (seen_jobs if kind == 0 else seen_ds)[node]
            result.by_hop.append(([j for j in new_jobs if j in seen_jobs],
                                  [d for d in new_ds if d in seen_ds]))
            result.truncated = True
            break
        result.by_hop.append((new_jobs, new_ds))
        frontier_jobs, frontier_ds = new_jobs, new_ds
    if keep_edges:
        result.edges = {e for e in result.edges if e[0] in seen_jobs and e[1] in seen_ds}
    return result


def _expand(frontier: list[int], neighbours, seen: dict[int, int], hop: int,
            edges: set[tuple[int, int, str]] | None, edge_dir: str, from_datasets: bool) -> list[int]:
    """One side of a level: the neighbours of `frontier` not reached before, now at `hop`.
    Edges are kept as (job, dataset, direction) whichever side the walk came from."""
    new: list[int] = []
    for node in frontier:
        for other in neighbours.get(node, ()):
            if edges is not None:
                edges.add((other, node, edge_dir) if from_datasets else (node, other, edge_dir))
            if other not in seen:
                seen[other] = hop
                new.append(other)
    return new


def job_edges(
    session: Session, job_ids: Iterable[int], at: datetime | None = None
) -> dict[int, tuple[list[int], list[int]]]:
    """(inputs, outputs) dataset ids of each job, from the cache when it holds the graph."""
    ids = sorted(set(job_ids))
    if at is None:
        with current_graph(session) as graph:
            if graph is not None:
                return {j: (list(graph.inputs.get(j, ())), list(graph.outputs.get(j, ()))) for j in ids}
    ins = _DatabaseAdjacency(session, UPSTREAM, at).from_jobs(ids)
    outs = _DatabaseAdjacency(session, DOWNSTREAM, at).from_jobs(ids)
    return {j: (sorted(set(ins.get(j, ()))), sorted(set(outs.get(j, ())))) for j in ids}


def dataset_writers(
    session: Session, dataset_ids: Iterable[int], at: datetime | None = None
) -> dict[int, list[int]]:
    """Jobs writing each dataset, from the cache when it holds the graph."""
    ids = sorted(set(dataset_ids))
    if at is None:
        with current_graph(session) as graph:
            if graph is not None:
                return {d: list(graph.writers[d]) for d in ids if d in graph.writers}
    found = _DatabaseAdjacency(session, UPSTREAM, at).from_datasets(ids)
    return {d: sorted(set(jobs)) for d, jobs in found.items()}


def descendant_jobs(session: Session, job_id: int, limit: int = 10000) -> list[int]:
    """Child jobs, recursively (Airflow DAG → task → SQL query; Spark app → job).

    Parents carry no datasets themselves; their children's edges are what a parent touches.
    """
    postgres = is_postgres(session)
    seen = {job_id}
    frontier = [job_id]
    found: list[int] = []
    while frontier and len(found) < limit:
        rows = session.scalars(select(Job.id).where(id_in(Job.parent_job_id, frontier, postgres)))
        frontier = [r for r in rows if r not in seen]
        seen.update(frontier)
        found.extend(frontier)
    return found[:limit]
