"""Node ids (`dataset:<ns>:<name>`, `job:<ns>:<name>`, `datasetField:<ns>:<ds>:<field>`,
`run:<uuid>`) and their resolution to rows.

Namespaces are often URIs with colons of their own (`postgres://db:5432`,
`gs://bucket`), and names sometimes carry them too, so an id cannot be split on a fixed
colon. Every split is tried in one query; the longest namespace that exists wins, because
colons in namespaces are far more common than in names. Dataset aliases from the
`symlinks` facet resolve to the canonical dataset, so a Hive table name and its storage
path lead to the same node.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.store.models import Dataset, DatasetSymlink, Job, Namespace, Run

KINDS = ("dataset", "job", "datasetField", "run")
# More colons than this in one id is not a real identifier; refuse rather than explode.
MAX_COLONS = 32


def dataset_node_id(namespace: str, name: str) -> str:
    return f"dataset:{namespace}:{name}"


def job_node_id(namespace: str, name: str) -> str:
    return f"job:{namespace}:{name}"


def field_node_id(namespace: str, dataset: str, field: str) -> str:
    return f"datasetField:{namespace}:{dataset}:{field}"


@dataclass(frozen=True)
class ResolvedNode:
    """What a node id names: a dataset or job row, a field of a dataset, or runs."""

    kind: str
    id: int
    namespace: str
    name: str
    field: str | None = None
    run_ids: tuple[int, ...] = ()

    @property
    def node_id(self) -> str:
        if self.kind == "job":
            return job_node_id(self.namespace, self.name)
        if self.kind == "datasetField":
            return field_node_id(self.namespace, self.name, self.field or "")
        return dataset_node_id(self.namespace, self.name)


def _splits(text: str) -> list[tuple[str, str]]:
    """Every (left, right) split at a colon, longest left part first."""
    if text.count(":") > MAX_COLONS:
        raise InvalidInput("node id has too many ':' separators")
    positions = [i for i, ch in enumerate(text) if ch == ":"]
    return [(text[:i], text[i + 1 :]) for i in reversed(positions) if i > 0 and i < len(text) - 1]


def find_dataset(session: Session, pairs: list[tuple[str, str]]) -> ResolvedNode | None:
    """The first (namespace, name) pair, in the given order, naming a dataset or an alias
    of one, resolved to the canonical dataset. Aliases are only looked up when no pair
    names a dataset directly, which keeps the usual case to one query."""
    if not pairs:
        return None
    # Namespace names and dataset names as separate IN lists (not a row-value IN), so the
    # planner walks the (namespace_id, name) key instead of scanning every dataset.
    rows = session.execute(
        select(Namespace.name, Dataset.name, Dataset.id, Namespace.name, Dataset.name)
        .join(Namespace, Namespace.id == Dataset.namespace_id)
        .where(Namespace.name.in_({ns for ns, _ in pairs}), Dataset.name.in_({n for _, n in pairs}))
    ).all()
    if not rows:
        rows = session.execute(
            select(DatasetSymlink.namespace, DatasetSymlink.name, Dataset.id, Namespace.name,
                   Dataset.name)
            .join(Dataset, Dataset.id == DatasetSymlink.dataset_id)
            .join(Namespace, Namespace.id == Dataset.namespace_id)
            .where(tuple_(DatasetSymlink.namespace, DatasetSymlink.name).in_(pairs))
        ).all()
    found = {(alias_ns, alias): (ds_id, ns, name) for alias_ns, alias, ds_id, ns, name in rows}
    for pair in pairs:
        if pair in found:
            ds_id, ns, name = found[pair]
            return ResolvedNode("dataset", ds_id, ns, name)
    return None


def resolve_dataset(session: Session, namespace: str, name: str) -> ResolvedNode:
    """The canonical dataset for a (namespace, name) that may be an alias."""
    node = find_dataset(session, [(namespace, name)])
    if node is None:
        raise NotFound(f"dataset {namespace}:{name} not found")
    return node


def _resolve_dataset_text(session: Session, text: str, node_id: str) -> ResolvedNode:
    node = find_dataset(session, _splits(text))
    if node is None:
        raise NotFound(f"node {node_id} not found")
    return node


def _resolve_job_text(session: Session, text: str, node_id: str) -> ResolvedNode:
    pairs = _splits(text)
    rows = session.execute(
        select(Namespace.name, Job.name, Job.id)
        .join(Namespace, Namespace.id == Job.namespace_id)
        .where(Namespace.name.in_({ns for ns, _ in pairs}), Job.name.in_({n for _, n in pairs}))
    ).all()
    found = {(ns, name): job_id for ns, name, job_id in rows}
    for pair in pairs:
        if pair in found:
            return ResolvedNode("job", found[pair], pair[0], pair[1])
    raise NotFound(f"node {node_id} not found")


def _resolve_field_text(session: Session, text: str, node_id: str) -> ResolvedNode:
    # The field is what follows the dataset; try each boundary, longest dataset part first.
    for dataset_part, field in _splits(text):
        node = find_dataset(session, _splits(dataset_part))
        if node is not None:
            return ResolvedNode("datasetField", node.id, node.namespace, node.name, field=field)
    raise NotFound(f"node {node_id} not found")


def resolve_run(session: Session, run_uuid: str) -> list[Run]:
    """Every run with this runId: one integration reuses a runId across several jobs."""
    runs = list(session.scalars(select(Run).where(Run.run_uuid == run_uuid.lower()).order_by(Run.id)))
    if not runs:
        runs = list(session.scalars(select(Run).where(Run.run_uuid == run_uuid).order_by(Run.id)))
    if not runs:
        raise NotFound(f"run {run_uuid} not found")
    return runs


def resolve(session: Session, node_id: str) -> ResolvedNode:
    """Resolve any node id; 422 for a malformed id, 404 for one that names nothing."""
    kind, sep, rest = (node_id or "").partition(":")
    if not sep or kind not in KINDS or not rest:
        raise InvalidInput(
            f"nodeId must look like dataset:<namespace>:<name>, job:<namespace>:<name>, "
            f"datasetField:<namespace>:<dataset>:<field> or run:<uuid>; got {node_id!r}"
        )
    if kind == "dataset":
        return _resolve_dataset_text(session, rest, node_id)
    if kind == "job":
        return _resolve_job_text(session, rest, node_id)
    if kind == "datasetField":
        return _resolve_field_text(session, rest, node_id)
    runs = resolve_run(session, rest)
    job = session.execute(
        select(Namespace.name, Job.name, Job.id)
        .join(Namespace, Namespace.id == Job.namespace_id)
        .where(Job.id == runs[0].job_id)
    ).one()
    return ResolvedNode("job", job[2], job[0], job[1], run_ids=tuple(r.id for r in runs))
