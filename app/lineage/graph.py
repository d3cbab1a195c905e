"""The lineage graph in Marquez's shape, so tools written for Marquez's endpoint work.

`{"graph": [{"id", "type", "data", "inEdges", "outEdges"}]}` with nodes sorted by id, plus
what Marquez lacks: a direction, a node limit with `truncated`, and `at` for the graph as
it stood at a past time. `depth` counts jobs as Marquez does: depth N reaches N jobs away
from the node and the datasets those jobs touch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.lineage import meta
from app.lineage.nodes import ResolvedNode, dataset_node_id, job_node_id, resolve
from app.lineage.params import check_direction, check_limit, max_hops_for
from app.lineage.traverse import Walk, descendant_jobs, job_edges, walk

DEFAULT_DEPTH = 20


def seeds_for(session: Session, node: ResolvedNode) -> tuple[list[int], list[int]]:
    """(dataset ids, job ids) to start from; a parent job starts from its children too."""
    if node.kind in ("dataset", "datasetField"):
        return [node.id], []
    return [], [node.id, *descendant_jobs(session, node.id)]


def dataset_data(info: meta.DatasetInfo, fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": {"namespace": info.namespace, "name": info.name},
        "type": info.dataset_type or "DB_TABLE",
        "name": info.name,
        "physicalName": info.name,
        "namespace": info.namespace,
        "sourceName": info.source_name,
        "fields": fields,
        "tags": info.tags,
        "owners": info.owners,
        "description": info.description,
        "lastModifiedAt": info.last_modified_at,
        "createdAt": info.created_at,
        "updatedAt": info.updated_at,
    }


def job_data(
    info: meta.JobInfo,
    io: dict[str, list[dict[str, str]]],
    parent: tuple[str, str] | None,
    children: list[str],
) -> dict[str, Any]:
    latest = None
    if info.latest_run_uuid:
        latest = {"id": info.latest_run_uuid, "state": info.latest_run_state,
                  "updatedAt": info.latest_run_at}
    return {
        "id": {"namespace": info.namespace, "name": info.name},
        "type": info.processing_type or "BATCH",
        "jobType": info.job_type,
        "integration": info.integration,
        "name": info.name,
        "simpleName": info.name.rsplit(".", 1)[-1],
        "namespace": info.namespace,
        "parentJobName": f"{parent[1]}" if parent else None,
        "parentJob": job_node_id(*parent) if parent else None,
        "childJobs": children,
        "inputs": io.get("inputs", []),
        "outputs": io.get("outputs", []),
        "owners": info.owners,
        "tags": info.tags,
        "description": info.description,
        "location": info.source_code_url,
        "latestRun": latest,
        "createdAt": info.created_at,
        "updatedAt": info.updated_at,
    }


def render(session: Session, result: Walk, at: datetime | None = None) -> list[dict[str, Any]]:
    """Marquez-shape nodes for everything the walk reached, edges limited to those nodes.

    Five statements whatever the size: datasets, their fields, jobs (with their parents),
    and the names of datasets the jobs touch outside the graph; each job's inputs and
    outputs come from the graph cache (or the database for `at`).
    """
    io_ids = job_edges(session, list(result.jobs), at)
    jobs = meta.load_jobs(session, list(result.jobs))
    parent_ids = {j.parent_job_id for j in jobs.values() if j.parent_job_id} - set(jobs)
    parents = meta.load_job_names(session, list(parent_ids)) if parent_ids else {}
    parents.update({i: (j.namespace, j.name) for i, j in jobs.items()})
    datasets = meta.load_datasets(session, list(result.datasets))
    fields = meta.load_fields(session, list(datasets))
    outside = {d for ins, outs in io_ids.values() for d in (*ins, *outs)} - set(datasets)
    names = meta.dataset_names(session, list(outside)) if outside else {}
    names.update({i: (d.namespace, d.name) for i, d in datasets.items()})

    def refs(ids: list[int]) -> list[dict[str, str]]:
        found = sorted(names[i] for i in ids if i in names)
        return [{"namespace": ns, "name": name} for ns, name in found]

    io = {j: {"inputs": refs(ins), "outputs": refs(outs)} for j, (ins, outs) in io_ids.items()}
    ds_ids = {i: dataset_node_id(d.namespace, d.name) for i, d in datasets.items()}
    job_ids = {i: job_node_id(j.namespace, j.name) for i, j in jobs.items()}
    children: dict[int, list[str]] = {}
    for job_id, info in jobs.items():
        if info.parent_job_id in job_ids:
            children.setdefault(info.parent_job_id, []).append(job_ids[job_id])
    in_edges: dict[str, list[dict[str, str]]] = {n: [] for n in (*ds_ids.values(), *job_ids.values())}
    out_edges: dict[str, list[dict[str, str]]] = {n: [] for n in in_edges}
    for job_id, ds_id, direction in result.edges:
        if job_id not in job_ids or ds_id not in ds_ids:
            continue
        origin, dest = (ds_ids[ds_id], job_ids[job_id]) if direction == "in" else (
            job_ids[job_id], ds_ids[ds_id])
        edge = {"origin": origin, "destination": dest}
        out_edges[origin].append(edge)
        in_edges[dest].append(edge)
    nodes: list[dict[str, Any]] = []
    for ds_id, info in datasets.items():
        nid = ds_ids[ds_id]
        nodes.append({"id": nid, "type": "DATASET", "data": dataset_data(info, fields.get(ds_id, [])),
                      "inEdges": in_edges[nid], "outEdges": out_edges[nid]})
    for job_id, info in jobs.items():
        nid = job_ids[job_id]
        parent = parents.get(info.parent_job_id) if info.parent_job_id else None
        nodes.append({"id": nid, "type": "JOB",
                      "data": job_data(info, io.get(job_id, {}), parent, sorted(children.get(job_id, []))),
                      "inEdges": in_edges[nid], "outEdges": out_edges[nid]})
    for node in nodes:
        node["inEdges"].sort(key=lambda e: (e["origin"], e["destination"]))
        node["outEdges"].sort(key=lambda e: (e["origin"], e["destination"]))
    nodes.sort(key=lambda n: n["id"])
    return nodes


def lineage_graph(
    session: Session,
    node_id: str,
    *,
    depth: int = DEFAULT_DEPTH,
    direction: str = "both",
    limit: int | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The graph around `node_id`; see the module docstring for the parameters."""
    direction = check_direction(direction)
    limit = check_limit(limit)
    node = resolve(session, node_id)
    if node.kind == "datasetField":
        raise InvalidInput("datasetField nodes are answered by /api/v1/column-lineage")
    seed_ds, seed_jobs = seeds_for(session, node)
    result = walk(
        session, direction=direction, datasets=seed_ds, jobs=seed_jobs,
        max_hops=max_hops_for(depth, node.kind == "job"), limit=limit, at=at, keep_edges=True,
    )
    graph = render(session, result, at)
    return {
        "graph": graph,
        "nodeId": node.node_id,
        "direction": direction,
        "depth": depth,
        "at": at,
        "limit": limit,
        "nodeCount": len(graph),
        "truncated": result.truncated,
    }
