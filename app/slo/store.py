"""SLO definitions in the database, and the SLOs they expand to.

A definition is stored as its native document, whatever form it arrived in, so the
engine reads one shape back. Who owns a definition is recorded: one loaded from
DATASLO_SLO_DIR belongs to its file (the API refuses to change it, and removing the file
removes it at the next start-up), the CLI and the API own theirs.

Expansion: a definition naming one dataset or job has exactly one SLO row, created at
once even if that entity has not been seen yet (it reports no data until it appears).
A selector has one row per matching entity; `sync_targets` adds rows for new matches
and removes rows (and their history) for entities that stopped matching.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.errors import Conflict, NotFound
from app.slo.definitions import SLODefinition, to_native
from app.slo.loader import SLOValidationError, load_slo_documents
from app.store.models import Dataset, Job, Namespace
from app.store.slo_models import Slo, SloDefinitionRow, SloEvaluation, SloFreshSpan, SloOutcome
from app.store.types import utcnow

log = logging.getLogger(__name__)

SLO_FILE_SUFFIXES = (".yaml", ".yml")

_parsed: dict[tuple, SLODefinition] = {}


def definition_of(row: SloDefinitionRow) -> SLODefinition:
    """The validated definition of a stored row, parsed once per revision (the key
    includes the row's timestamps, so another database's row 1 is not mistaken for it)."""
    key = (row.id, row.revision, row.name, row.created_at, row.updated_at)
    slo = _parsed.get(key)
    if slo is None:
        slo = SLODefinition.model_validate(row.document)
        if len(_parsed) > 10_000:
            _parsed.clear()
        _parsed[key] = slo
    return slo


@dataclass(frozen=True)
class Applied:
    row: SloDefinitionRow
    created: bool
    changed: bool


def _fill(row: SloDefinitionRow, slo: SLODefinition, source: str, source_file: str | None) -> None:
    row.document = to_native(slo)
    row.sli_kind = slo.sli.kind
    row.entity = slo.entity
    row.owner = slo.owner
    row.tier = slo.tier
    row.labels = dict(slo.labels)
    row.source = source
    row.source_file = source_file


def apply_definition(
    session: Session, slo: SLODefinition, *, source: str, source_file: str | None = None,
    now: datetime | None = None,
) -> Applied:
    """Create or replace the definition named `slo.name` (flush only)."""
    now = now or utcnow()
    row = session.scalar(select(SloDefinitionRow).where(SloDefinitionRow.name == slo.name))
    if row is None:
        row = SloDefinitionRow(name=slo.name, revision=1, created_at=now, updated_at=now)
        _fill(row, slo, source, source_file)
        session.add(row)
        session.flush()
        sync_targets(session, [row], now)
        return Applied(row, created=True, changed=True)
    changed = row.document != to_native(slo)
    row_source_changed = (row.source, row.source_file) != (source, source_file)
    if changed:
        old_target = row.document.get("target")
        _fill(row, slo, source, source_file)
        row.revision += 1
        row.updated_at = now
        if old_target != row.document.get("target"):
            # A different target is a different SLO: its old expansions go.
            _delete_slos(session, select(Slo.id).where(Slo.definition_id == row.id))
        session.flush()
        sync_targets(session, [row], now)
    elif row_source_changed:
        row.source, row.source_file = source, source_file
        session.flush()
    return Applied(row, created=False, changed=changed)


def create_definition(session: Session, slo: SLODefinition, *, source: str = "api") -> Applied:
    if session.scalar(select(SloDefinitionRow.id).where(SloDefinitionRow.name == slo.name)):
        raise Conflict(f"an SLO named {slo.name!r} exists; PUT to replace it")
    return apply_definition(session, slo, source=source)


def ensure_api_may_change(row: SloDefinitionRow) -> None:
    if row.source == "file":
        raise Conflict(f"SLO {row.name!r} is defined in {row.source_file}; edit that file instead")


def delete_definition(session: Session, row: SloDefinitionRow) -> None:
    _delete_slos(session, select(Slo.id).where(Slo.definition_id == row.id))
    session.delete(row)
    session.flush()


def _delete_slos(session: Session, ids_query) -> None:
    ids = list(session.scalars(ids_query))
    if not ids:
        return
    # Explicit deletes: SQLite only cascades with foreign keys on, and bulk is faster anyway.
    for chunk in _chunks(ids, 500):
        session.execute(delete(SloOutcome).where(SloOutcome.slo_id.in_(chunk)))
        session.execute(delete(SloFreshSpan).where(SloFreshSpan.slo_id.in_(chunk)))
        session.execute(delete(SloEvaluation).where(SloEvaluation.slo_id.in_(chunk)))
        session.execute(delete(Slo).where(Slo.id.in_(chunk)))


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def definition_row(session: Session, slo_id: int) -> tuple[Slo, SloDefinitionRow]:
    found = session.execute(
        select(Slo, SloDefinitionRow).join(SloDefinitionRow, SloDefinitionRow.id == Slo.definition_id)
        .where(Slo.id == slo_id)
    ).first()
    if found is None:
        raise NotFound(f"no SLO with id {slo_id}")
    return found[0], found[1]


# -- expansion -------------------------------------------------------------------------


def _tag_names(tags: Any) -> set[str]:
    """Tag keys, and key:value for valued tags, so a selector can name either."""
    out: set[str] = set()
    for t in tags or []:
        if isinstance(t, dict) and t.get("key"):
            out.add(str(t["key"]))
            if t.get("value") not in (None, ""):
                out.add(f"{t['key']}:{t['value']}")
        elif isinstance(t, str):
            out.add(t)
    return out


def _owner_names(owners: Any) -> set[str]:
    out: set[str] = set()
    for o in owners or []:
        if isinstance(o, dict) and o.get("name"):
            out.add(str(o["name"]))
            if o.get("type"):
                out.add(f"{o['type']}:{o['name']}")
        elif isinstance(o, str):
            out.add(o)
    return out


def _candidates(session: Session, entity: str) -> list[tuple[int, str, str, Any, Any]]:
    model = Dataset if entity == "dataset" else Job
    return list(session.execute(
        select(model.id, Namespace.name, model.name, model.tags, model.owners)
        .join(Namespace, Namespace.id == model.namespace_id)
    ).tuples())


def sync_targets(
    session: Session, rows: Iterable[SloDefinitionRow] | None = None, now: datetime | None = None
) -> int:
    """Create, resolve and retire SLO rows so they match the definitions' targets.

    Returns how many SLO rows were added or removed.
    """
    now = now or utcnow()
    rows = list(rows) if rows is not None else list(session.scalars(select(SloDefinitionRow)))
    if not rows:
        return 0
    existing: dict[int, dict[tuple[str, str], Slo]] = {}
    for slo_row in session.scalars(select(Slo).where(Slo.definition_id.in_([r.id for r in rows]))):
        existing.setdefault(slo_row.definition_id, {})[(slo_row.namespace, slo_row.entity_name)] = slo_row
    candidates: dict[str, list[tuple[int, str, str, Any, Any]]] = {}
    changes = 0
    for row in rows:
        slo = definition_of(row)
        have = existing.get(row.id, {})
        target = slo.target
        ref = target.dataset or target.job
        if ref is not None:
            if (ref.namespace, ref.name) not in have:
                session.add(Slo(definition_id=row.id, entity=row.entity, namespace=ref.namespace,
                                entity_name=ref.name, materialized_revision=0, created_at=now))
                changes += 1
            continue
        if row.entity not in candidates:
            candidates[row.entity] = _candidates(session, row.entity)
        wanted = {}
        for entity_id, namespace, name, tags, owners in candidates[row.entity]:
            if target.selector.matches(namespace, _tag_names(tags), _owner_names(owners)):
                wanted[(namespace, name)] = entity_id
        for key, entity_id in wanted.items():
            if key not in have:
                session.add(Slo(definition_id=row.id, entity=row.entity, namespace=key[0],
                                entity_name=key[1], entity_id=entity_id,
                                materialized_revision=0, created_at=now))
                changes += 1
        gone = [s.id for key, s in have.items() if key not in wanted]
        if gone:
            _delete_slos(session, select(Slo.id).where(Slo.id.in_(gone)))
            changes += len(gone)
    session.flush()
    resolve_entities(session)
    return changes


def resolve_entities(session: Session) -> None:
    """Fill `entity_id` of SLOs whose dataset or job has appeared since."""
    pending = list(session.scalars(select(Slo).where(Slo.entity_id.is_(None))))
    for entity in ("dataset", "job"):
        wanted = [s for s in pending if s.entity == entity]
        if not wanted:
            continue
        model = Dataset if entity == "dataset" else Job
        names = {s.entity_name for s in wanted}
        found = {
            (ns, name): entity_id
            for entity_id, ns, name in session.execute(
                select(model.id, Namespace.name, model.name)
                .join(Namespace, Namespace.id == model.namespace_id)
                .where(model.name.in_(names))
            ).tuples()
        }
        for s in wanted:
            s.entity_id = found.get((s.namespace, s.entity_name))
    session.flush()


# -- files -----------------------------------------------------------------------------


def read_slo_files(path: Path) -> tuple[dict[str, list[SLODefinition]], list[SLOValidationError]]:
    """Every SLO file under `path` (sorted, recursive), parsed; invalid files reported."""
    files = sorted(p for p in path.rglob("*") if p.suffix in SLO_FILE_SUFFIXES and p.is_file())
    parsed: dict[str, list[SLODefinition]] = {}
    errors: list[SLOValidationError] = []
    for file in files:
        try:
            parsed[str(file)] = load_slo_documents(file.read_text(encoding="utf-8"), str(file))
        except SLOValidationError as exc:
            errors.append(exc)
    return parsed, errors


def load_directory(session: Session, path: Path, now: datetime | None = None) -> list[SLOValidationError]:
    """Make the definitions owned by files match the folder (flush only).

    An invalid file is reported and its previously loaded definitions are kept: a typo
    must not silently delete an SLO and its history. Definitions whose file is gone
    (or no longer defines them) are removed.
    """
    parsed, errors = read_slo_files(path)
    broken = {p.file for e in errors for p in e.problems}
    seen: set[str] = set()
    for file, slos in parsed.items():
        for slo in slos:
            if slo.name in seen:
                log.error("%s: SLO %r is defined in another file too; keeping the first", file, slo.name)
                continue
            seen.add(slo.name)
            apply_definition(session, slo, source="file", source_file=file, now=now)
    for row in list(session.scalars(select(SloDefinitionRow).where(SloDefinitionRow.source == "file"))):
        if row.name not in seen and row.source_file not in broken:
            delete_definition(session, row)
    for exc in errors:
        log.error("invalid SLO file:\n%s", exc)
    return errors
