"""Column lineage from the `columnLineage` facet, in Marquez's DATASET_FIELD graph shape.

Every run stores its own mappings, so the history piles up; what holds now is, for each
(output dataset, job), the mappings of that job's latest run that reported any, and only
while the job still writes the dataset. A job whose SQL changed, or that stopped writing
a table, therefore stops contributing stale column edges. Dataset-level dependencies
(the facet's `dataset` list, stored with an empty output field) affect every field of the
output: upstream they appear among each field's inputs, downstream they fan out to the
output's current fields.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.lineage import meta
from app.lineage.nodes import field_node_id, resolve
from app.lineage.params import check_depth, check_limit
from app.lineage.sql import chunks, id_in
from app.store.dialect import is_postgres
from app.store.models import ColumnLineage, LineageEdge

Field = tuple[int, str]  # (dataset id, field name)


@dataclass(frozen=True)
class Mapping:
    output: Field
    input: Field
    job_id: int | None
    type: str
    subtype: str
    description: str | None
    masking: bool | None


class CurrentMappings:
    """Current mappings per output dataset, loaded once per dataset within one request."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.postgres = is_postgres(session)
        self.by_output: dict[int, list[Mapping]] = {}

    def load(self, output_ids: set[int]) -> None:
        todo = sorted(i for i in output_ids if i not in self.by_output)
        for part in chunks(todo, 5000):
            self._load(part)

    def _load(self, ids: list[int]) -> None:
        cl = ColumnLineage
        ranked = (
            select(
                cl.output_dataset_id, cl.job_id, cl.run_id, cl.event_time,
                func.row_number().over(
                    partition_by=(cl.output_dataset_id, cl.job_id),
                    order_by=(cl.event_time.desc(), cl.run_id.desc()),
                ).label("rn"),
            )
            .where(id_in(cl.output_dataset_id, ids, self.postgres))
            .subquery()
        )
        latest = select(ranked).where(ranked.c.rn == 1).subquery()
        same_run = func.coalesce(cl.run_id, -1) == func.coalesce(latest.c.run_id, -1)
        stmt = select(
            cl.output_dataset_id, cl.output_field, cl.input_dataset_id, cl.input_field, cl.job_id,
            cl.transformation_type, cl.transformation_subtype, cl.description, cl.masking,
        ).join(
            latest,
            (cl.output_dataset_id == latest.c.output_dataset_id)
            & (func.coalesce(cl.job_id, -1) == func.coalesce(latest.c.job_id, -1))
            & same_run
            & (latest.c.run_id.is_not(None) | (cl.event_time == latest.c.event_time)),
        )
        rows = self.session.execute(stmt).all()
        writers = {
            (j, d)
            for j, d in self.session.execute(
                select(LineageEdge.job_id, LineageEdge.dataset_id).where(
                    id_in(LineageEdge.dataset_id, ids, self.postgres),
                    LineageEdge.direction == "out",
                    LineageEdge.valid_to.is_(None),
                )
            )
        }
        for ds_id in ids:
            self.by_output[ds_id] = []
        for out_ds, out_f, in_ds, in_f, job_id, t, st, desc, masking in rows:
            if job_id is not None and (job_id, out_ds) not in writers:
                continue  # the job no longer writes this dataset
            self.by_output[out_ds].append(Mapping((out_ds, out_f), (in_ds, in_f), job_id, t, st, desc, masking))

    def inputs_of(self, field: Field) -> list[Mapping]:
        return [m for m in self.by_output.get(field[0], []) if m.output[1] in (field[1], "")]

    def consumers_of(self, fields: set[Field]) -> set[int]:
        """Output datasets whose stored mappings (any run) read one of these fields."""
        by_ds: dict[int, set[str]] = defaultdict(set)
        for ds_id, name in fields:
            by_ds[ds_id].add(name)
        found: set[int] = set()
        for part in chunks(sorted(by_ds), 5000):
            stmt = select(ColumnLineage.output_dataset_id, ColumnLineage.input_dataset_id,
                          ColumnLineage.input_field).distinct().where(
                id_in(ColumnLineage.input_dataset_id, part, self.postgres))
            found |= {out for out, ds, f in self.session.execute(stmt) if f in by_ds[ds]}
        return found


def _seeds(session: Session, node_id: str) -> list[Field]:
    """The field named, or every field of the dataset named (its schema, else its mappings)."""
    node = resolve(session, node_id)
    if node.kind == "datasetField":
        return [(node.id, node.field or "")]
    if node.kind != "dataset":
        raise InvalidInput("column lineage starts from a datasetField:<ns>:<dataset>:<field> or dataset node")
    fields = meta.load_fields(session, [node.id]).get(node.id, [])
    current = CurrentMappings(session)
    current.load({node.id})
    names = [f["name"] for f in fields] or sorted(
        {m.output[1] for m in current.by_output[node.id] if m.output[1]})
    return [(node.id, name) for name in names]


def column_lineage(
    session: Session,
    node_id: str,
    *,
    depth: int = 20,
    with_downstream: bool = False,
    limit: int | None = None,
) -> dict[str, Any]:
    """Fields feeding the node's field(s), and with `withDownstream` the fields they feed."""
    check_depth(depth)
    limit = check_limit(limit)
    seeds = _seeds(session, node_id)
    current = CurrentMappings(session)
    nodes: dict[Field, int] = {s: 0 for s in seeds}
    edges: set[tuple[Field, Field]] = set()
    truncated = False

    def add(field: Field, dist: int, frontier: list[Field]) -> bool:
        nonlocal truncated
        if field in nodes:
            return True
        if len(nodes) >= limit:
            truncated = True
            return False
        nodes[field] = dist
        frontier.append(field)
        return True

    frontier = list(seeds)
    for dist in range(1, depth + 1):
        if not frontier or truncated:
            break
        current.load({f[0] for f in frontier})
        nxt: list[Field] = []
        for field in frontier:
            for m in current.inputs_of(field):
                if add(m.input, dist, nxt):
                    edges.add((m.input, field))
        frontier = nxt
    if with_downstream:
        frontier = list(seeds)
        for dist in range(1, depth + 1):
            if not frontier or truncated:
                break
            outputs = current.consumers_of(set(frontier))
            current.load(outputs)
            wanted = set(frontier)
            schemas = meta.load_fields(session, list(outputs))
            nxt = []
            for out_ds in sorted(outputs):
                for m in current.by_output[out_ds]:
                    if m.input not in wanted:
                        continue
                    targets = [m.output] if m.output[1] else [
                        (out_ds, f["name"]) for f in schemas.get(out_ds, [])]
                    for target in targets:
                        if add(target, dist, nxt):
                            edges.add((m.input, target))
            frontier = nxt
    return _render(session, nodes, edges, current, node_id, depth, with_downstream, limit, truncated)


def _render(session, nodes, edges, current, node_id, depth, with_downstream, limit, truncated):
    current.load({f[0] for f in nodes})
    inputs_by_field = {field: current.inputs_of(field) for field in nodes}
    ds_ids = {f[0] for f in nodes} | {m.input[0] for ms in inputs_by_field.values() for m in ms}
    datasets = meta.load_datasets(session, sorted(ds_ids))
    schemas = meta.load_fields(session, sorted({f[0] for f in nodes}))
    types = {(ds, f["name"]): f["type"] for ds, fs in schemas.items() for f in fs}

    def nid(field: Field) -> str:
        info = datasets[field[0]]
        return field_node_id(info.namespace, info.name, field[1])

    in_edges: dict[Field, list[dict[str, str]]] = defaultdict(list)
    out_edges: dict[Field, list[dict[str, str]]] = defaultdict(list)
    for origin, dest in edges:
        edge = {"origin": nid(origin), "destination": nid(dest)}
        in_edges[dest].append(edge)
        out_edges[origin].append(edge)
    graph = []
    for field in nodes:
        info = datasets[field[0]]
        grouped: dict[Field, list[dict[str, Any]]] = defaultdict(list)
        for m in inputs_by_field[field]:
            grouped[m.input].append({"type": m.type, "subtype": m.subtype,
                                     "description": m.description, "masking": m.masking})
        inputs = [
            {"namespace": datasets[f[0]].namespace, "dataset": datasets[f[0]].name, "field": f[1],
             "transformations": sorted(ts, key=lambda t: (t["type"], t["subtype"]))}
            for f, ts in grouped.items()
        ]
        inputs.sort(key=lambda i: (i["namespace"], i["dataset"], i["field"]))
        graph.append({
            "id": nid(field),
            "type": "DATASET_FIELD",
            "data": {"namespace": info.namespace, "dataset": info.name, "field": field[1],
                     "fieldType": types.get(field), "inputFields": inputs},
            "inEdges": sorted(in_edges[field], key=lambda e: e["origin"]),
            "outEdges": sorted(out_edges[field], key=lambda e: e["destination"]),
        })
    graph.sort(key=lambda n: n["id"])
    return {"graph": graph, "nodeId": node_id, "depth": depth, "withDownstream": with_downstream,
            "limit": limit, "truncated": truncated}
