"""Names to rows, with a clear 404 that says which part of the name is unknown."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.store.models import Dataset, DatasetSymlink, Job, Namespace


def namespace(session: Session, name: str) -> Namespace:
    row = session.scalar(select(Namespace).where(Namespace.name == name))
    if row is None:
        raise NotFound(f"namespace '{name}' not found")
    return row


def job(session: Session, namespace_name: str, name: str) -> Job:
    ns = namespace(session, namespace_name)
    row = session.scalar(select(Job).where(Job.namespace_id == ns.id, Job.name == name))
    if row is None:
        raise NotFound(f"job '{name}' not found in namespace '{namespace_name}'")
    return row


def dataset(session: Session, namespace_name: str, name: str) -> Dataset:
    """The dataset, or the one this (namespace, name) is a symlink alias of.

    Alias namespaces need not exist as namespaces of their own (a Hive table's storage
    path, say), so the alias is tried before the namespace can be declared unknown.
    """
    row = session.scalar(
        select(Dataset)
        .join(Namespace, Namespace.id == Dataset.namespace_id)
        .where(Namespace.name == namespace_name, Dataset.name == name)
    )
    if row is not None:
        return row
    row = session.scalar(
        select(Dataset)
        .join(DatasetSymlink, DatasetSymlink.dataset_id == Dataset.id)
        .where(DatasetSymlink.namespace == namespace_name, DatasetSymlink.name == name)
    )
    if row is not None:
        return row
    namespace(session, namespace_name)
    raise NotFound(f"dataset '{name}' not found in namespace '{namespace_name}'")


def namespace_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    return dict(session.execute(select(Namespace.id, Namespace.name).where(Namespace.id.in_(wanted))).all())
