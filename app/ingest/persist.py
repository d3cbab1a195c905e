"""Writing what a fold collected: one bulk statement per child table.

Kept apart from the fold so that each side stays readable: the fold decides what an event
means, this module only turns the collected rows into as few statements as possible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ingest.records import DatasetRecord, Record
from app.store.models import (
    ColumnLineage,
    Dataset,
    DatasetField,
    DatasetVersion,
    QualityAssertion,
    QualityMetrics,
    RunInput,
)
from app.store.rowsets import insert_rows

if TYPE_CHECKING:
    from app.ingest.fold import Pending


def write_children(session: Session, pending: Pending, datasets: dict[int, Record]) -> list[Any]:
    """Bulk-write collected rows; return the batch's runs' versions (used by edges too).

    `datasets` gains the rows this needs to update but the batch did not name."""
    p = pending
    insert_rows(session, DatasetVersion, list(p.versions.values()), conflict=("dataset_id", "run_id"),
                coalesce=("row_count", "byte_size", "file_count", "fields", "lifecycle_state"))
    insert_rows(session, RunInput, list(p.inputs.values()), conflict=("run_id", "dataset_id"))
    insert_rows(session, QualityMetrics, list(p.metrics.values()), conflict=("run_id", "dataset_id"),
                overwrite=("row_count", "byte_size", "file_count", "column_metrics", "event_time"))
    insert_rows(session, QualityAssertion, list(p.assertions.values()),
                conflict=("run_id", "dataset_id", "assertion", "column_name"),
                overwrite=("success", "severity", "event_time"))
    insert_rows(session, ColumnLineage, list(p.column_edges.values()), conflict=(
        "run_id", "output_dataset_id", "output_field", "input_dataset_id", "input_field",
        "transformation_type", "transformation_subtype"))
    if p.schemas:
        _replace_fields(session, p.schemas)
    run_ids = {r for _, r in p.versions} | set(p.completed_runs)
    versions = session.execute(
        select(DatasetVersion.id, DatasetVersion.dataset_id, DatasetVersion.run_id, DatasetVersion.event_time)
        .where(DatasetVersion.run_id.in_(run_ids))
    ).all() if run_ids else []
    if p.versions:
        _advance_current_versions(session, [v for v in versions if (v.dataset_id, v.run_id) in p.versions],
                                  datasets)
    if p.completed_runs:
        _mark_fresh(session, [v for v in versions if v.run_id in p.completed_runs], p.completed_runs, datasets)
    return versions


def _advance_current_versions(session: Session, rows: list[Any], datasets: dict[int, Record]) -> None:
    """Point each written dataset at its newest version by eventTime, so a late event for an
    old run never moves `current_version_id` backwards."""
    current_ids = {datasets[r.dataset_id].current_version_id for r in rows} - {None}
    current = dict(
        session.execute(
            select(DatasetVersion.id, DatasetVersion.event_time).where(DatasetVersion.id.in_(current_ids))
        ).all()
    ) if current_ids else {}
    for r in sorted(rows, key=lambda r: (r.event_time, r.id)):
        dataset = datasets[r.dataset_id]
        cur = dataset.current_version_id
        if cur is None or (r.event_time, r.id) >= (current.get(cur, r.event_time), cur):
            dataset.current_version_id = r.id
            current[r.id] = r.event_time


def _replace_fields(session: Session, schemas: dict[int, list[dict[str, Any]]]) -> None:
    current: dict[int, list[tuple]] = {}
    for dataset_id, name, type_, desc in session.execute(
        select(DatasetField.dataset_id, DatasetField.name, DatasetField.type, DatasetField.description)
        .where(DatasetField.dataset_id.in_(schemas))
        .order_by(DatasetField.dataset_id, DatasetField.position)
    ):
        current.setdefault(dataset_id, []).append((name, type_, desc))
    stale, rows = [], []
    for dataset_id, fields in schemas.items():
        unique = list({f["name"]: f for f in fields}.values())
        if current.get(dataset_id, []) == [(f["name"], f["type"], f["description"]) for f in unique]:
            continue
        if dataset_id in current:
            stale.append(dataset_id)
        rows.extend({"dataset_id": dataset_id, "name": f["name"], "type": f["type"],
                     "description": f["description"], "position": i} for i, f in enumerate(unique))
    if stale:
        session.execute(DatasetField.__table__.delete().where(DatasetField.dataset_id.in_(stale)))
    insert_rows(session, DatasetField, rows)


def _mark_fresh(session: Session, rows: list[Any], completed_runs: dict, datasets: dict[int, Record]) -> None:
    """A completed run makes every dataset it wrote fresh as of its end time, including
    outputs it announced only on START (which this batch did not load)."""
    missing = {r.dataset_id for r in rows} - set(datasets)
    if missing:
        datasets.update({d.id: d for d in DatasetRecord.load(session, Dataset.id.in_(missing))})
    for r in rows:
        dataset = datasets[r.dataset_id]
        ended = completed_runs[r.run_id]
        if dataset.last_modified_at is None or ended > dataset.last_modified_at:
            dataset.last_modified_at = ended
