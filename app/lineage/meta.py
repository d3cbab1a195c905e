"""Bulk loading of what the lineage answers show about each node.

A graph of thousands of nodes must not cost a query per node, so every loader takes the
whole id set and issues one statement per chunk, selecting only the columns its answer
shows (a graph of thousands of nodes spends more time decoding unused JSON than querying).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.lineage.sql import chunks, id_in
from app.store.dialect import is_postgres
from app.store.models import Dataset, DatasetField, Job, Namespace


@dataclass(frozen=True)
class DatasetInfo:
    id: int
    namespace: str
    name: str
    dataset_type: str | None
    source_name: str | None
    description: str | None
    owners: list[Any]
    tags: list[Any]
    last_modified_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class JobInfo:
    id: int
    namespace: str
    name: str
    processing_type: str | None
    job_type: str | None
    integration: str | None
    description: str | None
    owners: list[Any]
    tags: list[Any]
    parent_job_id: int | None
    latest_run_uuid: str | None
    latest_run_state: str | None
    latest_run_at: datetime | None
    source_code_url: str | None
    created_at: datetime
    updated_at: datetime


def _rows(session: Session, columns: list, id_column, ids: list[int], join_namespace=None):
    # Core execution on the session's connection: the ORM result layer costs ~10 us a row,
    # more than the database does, and these are plain column tuples anyway.
    postgres = is_postgres(session)
    conn = session.connection()
    for part in chunks(sorted(set(ids))):
        stmt = select(*columns)
        if join_namespace is not None:
            stmt = stmt.join(Namespace, Namespace.id == join_namespace)
        yield from conn.execute(stmt.where(id_in(id_column, part, postgres))).all()


def load_datasets(session: Session, ids: list[int]) -> dict[int, DatasetInfo]:
    columns = [Dataset.id, Namespace.name, Dataset.name, Dataset.dataset_type, Dataset.source_name,
               Dataset.description, Dataset.owners, Dataset.tags, Dataset.last_modified_at,
               Dataset.created_at, Dataset.updated_at]
    return {
        row[0]: DatasetInfo(*row[:6], row[6] or [], row[7] or [], *row[8:])
        for row in _rows(session, columns, Dataset.id, ids, Dataset.namespace_id)
    }


def load_jobs(session: Session, ids: list[int]) -> dict[int, JobInfo]:
    columns = [Job.id, Namespace.name, Job.name, Job.processing_type, Job.job_type, Job.integration,
               Job.description, Job.owners, Job.tags, Job.parent_job_id, Job.latest_run_uuid,
               Job.latest_run_state, Job.latest_run_at, Job.source_code_url, Job.created_at,
               Job.updated_at]
    return {
        row[0]: JobInfo(*row[:7], row[7] or [], row[8] or [], *row[9:])
        for row in _rows(session, columns, Job.id, ids, Job.namespace_id)
    }


def dataset_names(session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
    columns = [Dataset.id, Namespace.name, Dataset.name]
    return {row[0]: (row[1], row[2]) for row in _rows(session, columns, Dataset.id, ids, Dataset.namespace_id)}


def load_job_names(session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
    columns = [Job.id, Namespace.name, Job.name]
    return {row[0]: (row[1], row[2]) for row in _rows(session, columns, Job.id, ids, Job.namespace_id)}


def load_fields(session: Session, dataset_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Current schema of each dataset, in the order the producer declared it."""
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    columns = [DatasetField.dataset_id, DatasetField.name, DatasetField.type,
               DatasetField.description, DatasetField.position, DatasetField.id]
    rows = sorted(_rows(session, columns, DatasetField.dataset_id, dataset_ids),
                  key=lambda r: (r[0], r[4], r[5]))
    for ds_id, name, type_, description, _pos, _id in rows:
        out[ds_id].append({"name": name, "type": type_, "tags": [], "description": description})
    return out
