"""Datasets, Marquez-shaped, plus owners and symlink aliases.

`lastModifiedAt` is when a completed run last wrote the dataset (the freshness clock;
Marquez leaves it null). A name that is a symlink alias resolves to its dataset.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.catalog import lookup
from app.catalog.page import Page, iso, listing, ref
from app.store.models import Dataset, DatasetField, DatasetSymlink


def dataset_views(session: Session, datasets: list[Dataset]) -> list[dict[str, Any]]:
    """Marquez dataset objects for `datasets`, in order, with a fixed number of statements."""
    if not datasets:
        return []
    ids = [d.id for d in datasets]
    namespaces = lookup.namespace_names(session, {d.namespace_id for d in datasets})
    fields: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for dataset_id, name, type_, description in session.execute(
        select(DatasetField.dataset_id, DatasetField.name, DatasetField.type, DatasetField.description)
        .where(DatasetField.dataset_id.in_(ids))
        .order_by(DatasetField.dataset_id, DatasetField.position, DatasetField.id)
    ):
        fields[dataset_id].append({"name": name, "type": type_, "tags": [], "description": description})
    symlinks: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for dataset_id, ns, name, type_ in session.execute(
        select(DatasetSymlink.dataset_id, DatasetSymlink.namespace, DatasetSymlink.name, DatasetSymlink.type)
        .where(DatasetSymlink.dataset_id.in_(ids))
        .order_by(DatasetSymlink.dataset_id, DatasetSymlink.namespace, DatasetSymlink.name)
    ):
        symlinks[dataset_id].append({**ref(ns, name), "type": type_})
    views = []
    for d in datasets:
        ns = namespaces[d.namespace_id]
        views.append(
            {
                "id": ref(ns, d.name),
                "type": "DB_TABLE",
                "name": d.name,
                "physicalName": d.name,
                "createdAt": iso(d.created_at),
                "updatedAt": iso(d.updated_at),
                "namespace": ns,
                "sourceName": d.source_name,
                "fields": fields.get(d.id, []),
                "tags": d.tags or [],
                "lastModifiedAt": iso(d.last_modified_at),
                "lastLifecycleState": d.lifecycle_state,
                "description": d.description,
                "facets": d.facets or {},
                "currentVersion": str(d.current_version_id) if d.current_version_id is not None else None,
                "owners": d.owners or [],
                "symlinks": symlinks.get(d.id, []),
                "datasetType": d.dataset_type,
            }
        )
    return views


def list_datasets(session: Session, namespace: str, page: Page) -> dict[str, Any]:
    ns = lookup.namespace(session, namespace)
    total = (
        session.scalar(select(func.count()).select_from(Dataset).where(Dataset.namespace_id == ns.id)) or 0
    )
    datasets = session.execute(
        select(Dataset.__table__)
        .where(Dataset.namespace_id == ns.id)
        .order_by(Dataset.name, Dataset.id)
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return listing("datasets", dataset_views(session, datasets), total)


def get_dataset(session: Session, namespace: str, name: str) -> dict[str, Any]:
    return dataset_views(session, [lookup.dataset(session, namespace, name)])[0]
