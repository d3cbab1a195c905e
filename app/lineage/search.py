"""Search datasets and jobs by name, namespace or dataset alias, case-insensitively.

An infix match cannot use a b-tree, so on PostgreSQL the migration adds trigram indexes on
lower(name) and the query is written as `lower(name) LIKE '%q%'` so the planner uses them;
a namespace match goes through the (namespace_id, name) unique index. Results are ranked
exact name, then prefix, then infix, then namespace or alias matches; shorter names first
within a rank, since the shortest match is usually the table someone typed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.lineage.nodes import dataset_node_id, job_node_id
from app.store.models import Dataset, DatasetSymlink, Job, Namespace

KINDS = ("DATASET", "JOB")
MAX_SEARCH_LIMIT = 1000


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_kind(session: Session, model, q: str, limit: int, namespace: str | None) -> list[tuple]:
    """Up to limit+1 best matches of one kind, as (rank, length, namespace, name, updated, kind).

    Three small queries rather than one with OR: each can use its own index (trigram on
    the name, the (namespace_id, name) key, the alias key), which an OR across joined
    tables would defeat.
    """
    kind = "DATASET" if model is Dataset else "JOB"
    name = func.lower(model.name)
    infix = f"%{_escape(q)}%"
    rank = case(
        (name == q, 0),
        (name.like(f"{_escape(q)}%", escape="\\"), 1),
        else_=2,
    )
    base = select(rank, func.length(model.name), Namespace.name, model.name, model.updated_at,
                  model.id).join(Namespace, Namespace.id == model.namespace_id)
    if namespace is not None:
        base = base.where(Namespace.name == namespace)
    found = {
        row[5]: row for row in session.execute(
            base.where(name.like(infix, escape="\\"))
            .order_by(rank, func.length(model.name), model.name, Namespace.name)
            .limit(limit + 1)
        ).tuples()
    }
    # Namespace and alias matches rank last, in name order.
    others: list[tuple] = []
    namespaces = session.execute(
        select(Namespace.id).where(func.lower(Namespace.name).like(infix, escape="\\"))
    ).scalars().all()
    for ns_id in namespaces:
        others.extend(session.execute(
            base.where(model.namespace_id == ns_id).order_by(model.name).limit(limit + 1)
        ).tuples())
    if model is Dataset:
        aliased_ids = select(DatasetSymlink.dataset_id).where(
            func.lower(DatasetSymlink.name).like(infix, escape="\\")).limit(limit + 1)
        others.extend(session.execute(base.where(model.id.in_(aliased_ids))).tuples())
    for row in others:
        found.setdefault(row[5], (3, 0, *row[2:]))
    return [(*row[:5], kind) for row in found.values()]


def search(
    session: Session,
    q: str,
    *,
    kind: str | None = None,
    limit: int = 10,
    namespace: str | None = None,
) -> dict[str, Any]:
    """Marquez's `{"totalCount", "results"}` shape, plus `nodeId` and `hasMore` per answer."""
    q = (q or "").strip().lower()
    if not q:
        raise InvalidInput("q must not be empty")
    if len(q) > 1024:
        raise InvalidInput("q is too long")
    if not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_SEARCH_LIMIT}")
    kinds = KINDS
    if kind:
        if kind.upper() not in KINDS:
            raise InvalidInput(f"filter must be DATASET or JOB; got {kind!r}")
        kinds = (kind.upper(),)
    rows: list[tuple] = []
    for k in kinds:
        rows.extend(_search_kind(session, Dataset if k == "DATASET" else Job, q, limit, namespace))
    rows.sort(key=lambda r: (r[0], r[1], r[3], r[2], r[5]))
    results = []
    for _rank, _length, ns, name, updated_at, k in rows[:limit]:
        node_id = dataset_node_id(ns, name) if k == "DATASET" else job_node_id(ns, name)
        results.append({"type": k, "name": name, "namespace": ns, "nodeId": node_id,
                        "updatedAt": updated_at})
    return {"totalCount": len(results), "hasMore": len(rows) > limit, "results": results}
