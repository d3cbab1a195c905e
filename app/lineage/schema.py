"""Schema history of a dataset: the fields at each version and what changed between them.

A version whose run sent no schema facet has unknown fields, not zero fields, so it is
skipped when finding "the previous schema"; otherwise every schema-less write would look
like all columns removed and then all re-added. Nested fields (structs) are compared by
dotted path. A removed or retyped column is breaking: readers of it fail or misread it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.lineage.nodes import ResolvedNode, resolve_dataset
from app.store.models import DatasetVersion, Job, Namespace, Run

MAX_VERSIONS_LIMIT = 1000


def flatten(fields: list[Any] | None, prefix: str = "") -> dict[str, str | None]:
    """{dotted path: type} for a schema facet's fields, nested structs included."""
    out: dict[str, str | None] = {}
    for field in fields or []:
        if not isinstance(field, dict) or not field.get("name"):
            continue
        path = f"{prefix}{field['name']}"
        out[path] = field.get("type")
        if isinstance(field.get("fields"), list):
            out.update(flatten(field["fields"], prefix=f"{path}."))
    return out


def _same_type(a: str | None, b: str | None) -> bool:
    return (a or "").strip().lower() == (b or "").strip().lower()


def diff(old: list[Any] | None, new: list[Any] | None) -> dict[str, Any]:
    before, after = flatten(old), flatten(new)
    added = [{"name": n, "type": after[n]} for n in after if n not in before]
    removed = [{"name": n, "type": before[n]} for n in before if n not in after]
    changed = [
        {"name": n, "from": before[n], "to": after[n]}
        for n in after
        if n in before and not _same_type(before[n], after[n])
    ]
    return {
        "added": added,
        "removed": removed,
        "typeChanged": changed,
        "breaking": bool(removed or changed),
    }


def _version_query(dataset_id: int):
    return (
        select(DatasetVersion, Run.run_uuid, Run.state, Namespace.name, Job.name)
        .join(Run, Run.id == DatasetVersion.run_id)
        .join(Job, Job.id == Run.job_id)
        .join(Namespace, Namespace.id == Job.namespace_id)
        .where(DatasetVersion.dataset_id == dataset_id)
    )


def _render(node: ResolvedNode, row: tuple, change: dict[str, Any] | None) -> dict[str, Any]:
    version, run_uuid, state, job_ns, job_name = row
    return {
        "id": {"namespace": node.namespace, "name": node.name},
        "version": str(version.id),
        "createdAt": version.event_time,
        "fields": version.fields,
        "rowCount": version.row_count,
        "byteSize": version.byte_size,
        "fileCount": version.file_count,
        "lifecycleState": version.lifecycle_state,
        "createdByRun": {"id": run_uuid, "state": state},
        "job": {"namespace": job_ns, "name": job_name},
        "schemaChange": change,
    }


def _previous_with_schema(session: Session, version: DatasetVersion) -> DatasetVersion | None:
    return session.scalars(
        select(DatasetVersion)
        .where(
            DatasetVersion.dataset_id == version.dataset_id,
            DatasetVersion.fields.is_not(None),
            tuple_(DatasetVersion.event_time, DatasetVersion.id)
            < tuple_(version.event_time, version.id),
        )
        .order_by(DatasetVersion.event_time.desc(), DatasetVersion.id.desc())
        .limit(1)
    ).first()


def versions(
    session: Session, namespace: str, name: str, *, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    """Newest first, each with its schema change against the previous known schema."""
    if not 1 <= limit <= MAX_VERSIONS_LIMIT or offset < 0:
        raise InvalidInput(f"limit must be 1..{MAX_VERSIONS_LIMIT} and offset non-negative")
    node = resolve_dataset(session, namespace, name)
    total = session.scalar(
        select(func.count()).select_from(DatasetVersion).where(DatasetVersion.dataset_id == node.id)
    )
    rows = session.execute(
        _version_query(node.id)
        .order_by(DatasetVersion.event_time.desc(), DatasetVersion.id.desc())
        .limit(limit)
        .offset(offset)
    ).tuples().all()
    # Walk oldest to newest so each version is compared with the schema known before it.
    previous = _previous_with_schema(session, rows[-1][0]) if rows else None
    prev_fields = previous.fields if previous is not None else None
    rendered = []
    for row in reversed(rows):
        fields = row[0].fields
        change = diff(prev_fields, fields) if fields is not None and prev_fields is not None else None
        rendered.append(_render(node, row, change))
        if fields is not None:
            prev_fields = fields
    rendered.reverse()
    return {"versions": rendered, "totalCount": total}


def _version(session: Session, node: ResolvedNode, version: str) -> DatasetVersion:
    if not version.isdigit():
        raise InvalidInput(f"version must be a version id from the versions endpoint; got {version!r}")
    found = session.get(DatasetVersion, int(version))
    if found is None or found.dataset_id != node.id:
        raise NotFound(f"version {version} of {node.namespace}:{node.name} not found")
    if found.fields is None:
        raise InvalidInput(f"version {version} was written without a schema; pick another")
    return found


def schema_diff(
    session: Session, namespace: str, name: str, *, from_version: str | None = None,
    to_version: str | None = None,
) -> dict[str, Any]:
    """Diff two versions; by default the latest schema against the one before it."""
    node = resolve_dataset(session, namespace, name)
    if to_version is not None:
        to = _version(session, node, to_version)
    else:
        to = session.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.dataset_id == node.id, DatasetVersion.fields.is_not(None))
            .order_by(DatasetVersion.event_time.desc(), DatasetVersion.id.desc())
            .limit(1)
        ).first()
        if to is None:
            raise NotFound(f"no version of {namespace}:{name} carries a schema")
    if from_version is not None:
        base = _version(session, node, from_version)
    else:
        base = _previous_with_schema(session, to)

    def ref(v: DatasetVersion | None) -> dict[str, Any] | None:
        if v is None:
            return None
        return {"version": str(v.id), "createdAt": v.event_time, "fields": v.fields}

    change = diff(base.fields if base is not None else None, to.fields)
    return {"id": {"namespace": node.namespace, "name": node.name}, "from": ref(base),
            "to": ref(to), **change}
