"""What the API shows of SLOs: listings, status with what spent the budget, history.

"What spent the budget" answers the on-call question behind a burn: for event SLIs the
bad verdicts of the period (failed or missing runs, small writes, failed assertions,
overrunning runs) with the run that decided each, most recent first; for freshness the
stale stretches, longest first, with the run whose write ended each one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.catalog.page import Page, iso
from app.errors import InvalidInput
from app.slo.definitions import SLODefinition
from app.slo.engine import assess, plan
from app.slo.extract import dataset_first_seen, writes_before, writes_since
from app.slo.fields import fraction_out
from app.slo.fresh_spans import cached_rule
from app.slo.freshness import stale_intervals
from app.slo.ledger import from_bucket, to_bucket
from app.slo.report import history_points, report_document, status_view, stored_counts
from app.slo.store import definition_of, definition_row
from app.slo.units import Unit
from app.slo.windows import PERIOD, as_utc, format_duration
from app.store.models import DatasetVersion, Job, Namespace, Run
from app.store.slo_models import Slo, SloDefinitionRow, SloEvaluation, SloEvaluatorState
from app.store.slo_models import SloOutcome as O
from app.store.types import utcnow

STATES = ("breaching", "burning", "ok", "no_data")
MAX_POINTS = 10_000


def _window(slo: SLODefinition) -> Any:
    if isinstance(slo.window, timedelta):
        return format_duration(slo.window)
    return slo.window.model_dump(mode="json")


def summary(slo_row: Slo, d: SloDefinitionRow, latest: SloEvaluation | None,
            evaluated_at: datetime | None) -> dict[str, Any]:
    slo = definition_of(d)
    return {
        "id": slo_row.id,
        "name": d.name,
        "displayName": slo.display_name,
        "sli": slo.sli.kind,
        "target": {"kind": slo_row.entity, "namespace": slo_row.namespace, "name": slo_row.entity_name,
                   "nodeId": f"{slo_row.entity}:{slo_row.namespace}:{slo_row.entity_name}",
                   "known": slo_row.entity_id is not None},
        "selector": slo.target.selector.model_dump(exclude_none=True) if slo.target.selector else None,
        "owner": d.owner, "tier": d.tier, "labels": d.labels or {},
        "objective": fraction_out(slo.objective),
        "window": _window(slo),
        "budgeting": slo.budgeting,
        "source": d.source, "sourceFile": d.source_file,
        "state": slo_row.state, "severity": slo_row.severity,
        "budgetRemaining": latest.budget_remaining if latest is not None else None,
        "evaluatedAt": iso(evaluated_at) if latest is not None else None,
        "changedAt": iso(latest.evaluated_at) if latest is not None else None,
    }


def _last_pass(session: Session) -> datetime | None:
    state = session.get(SloEvaluatorState, 1)
    return state.evaluated_at if state is not None else None


def list_slos(session: Session, page: Page, status: str | None = None,
              name: str | None = None) -> tuple[list[dict[str, Any]], int]:
    if status is not None and status not in STATES:
        raise InvalidInput(f"status must be one of {', '.join(STATES)}; got {status!r}")
    query = select(Slo, SloDefinitionRow).join(SloDefinitionRow, SloDefinitionRow.id == Slo.definition_id)
    if status is not None:
        query = query.where(Slo.state == status)
    if name is not None:
        query = query.where(SloDefinitionRow.name == name)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(SloDefinitionRow.name, Slo.namespace, Slo.entity_name, Slo.id)
                           .limit(page.limit).offset(page.offset)).all()
    latest_ids = [s.latest_evaluation_id for s, _ in rows if s.latest_evaluation_id]
    latest = {e.id: e for e in session.scalars(select(SloEvaluation).where(SloEvaluation.id.in_(latest_ids)))} \
        if latest_ids else {}
    at = _last_pass(session)
    return [summary(s, d, latest.get(s.latest_evaluation_id), at) for s, d in rows], total


def get_slo(session: Session, slo_id: int) -> dict[str, Any]:
    slo_row, d = definition_row(session, slo_id)
    latest = session.get(SloEvaluation, slo_row.latest_evaluation_id) if slo_row.latest_evaluation_id else None
    return {**summary(slo_row, d, latest, _last_pass(session)), "definition": d.document}


def slo_status(session: Session, slo_id: int, limit: int = 20) -> dict[str, Any]:
    slo_row, d = definition_row(session, slo_id)
    latest = session.get(SloEvaluation, slo_row.latest_evaluation_id) if slo_row.latest_evaluation_id else None
    at = _last_pass(session)
    out = summary(slo_row, d, latest, at)
    if latest is None or at is None:
        return {**out, "status": None, "spent": [], "spentTotal": 0}
    evaluated_revision = latest.report.get("revision", d.revision)
    if evaluated_revision != d.revision:
        # The stored counts were judged under an earlier definition (another SLI, threshold
        # or objective): putting them under this one would show a report that never was.
        return {**out, "status": None, "spent": [], "spentTotal": 0,
                "pending": {"evaluatedRevision": evaluated_revision, "revision": d.revision,
                            "reason": "the definition changed since the last evaluation; "
                                      "its first evaluation comes with the next pass"}}
    slo = definition_of(d)
    start, end = plan(slo, at)[PERIOD]
    unit = Unit(slo_row.id, d.id, d.revision, d.name, slo, slo_row.entity, slo_row.entity_id,
                slo_row.namespace, slo_row.entity_name, materialized=True)
    if slo_row.entity_id is None:
        spent, total = [], 0
    elif unit.is_freshness:
        spent, total = _stale_spent(session, unit, start, end, limit)
    else:
        spent, total = _bad_verdicts(session, slo_row.id, start, end, limit)
    return {**out, "status": status_view(_full_report(slo, d, latest)), "period": {"start": iso(start), "end": iso(end)},
            "spent": spent, "spentTotal": total}


def _full_report(slo: SLODefinition, d: SloDefinitionRow, latest: SloEvaluation) -> dict[str, Any]:
    """The report of a stored evaluation of the current revision: recomputed from its
    counts, or as stored by earlier versions."""
    doc = latest.report
    if "counts" not in doc:
        return doc
    return report_document(assess(slo, stored_counts(doc), latest.evaluated_at))


def _bad_verdicts(session: Session, slo_id: int, start: datetime, end: datetime,
                  limit: int) -> tuple[list[dict[str, Any]], int]:
    where = (O.slo_id == slo_id, O.good.is_(False), O.bucket >= to_bucket(start), O.bucket < to_bucket(end))
    total = session.scalar(select(func.count()).where(*where)) or 0
    rows = session.execute(
        select(O.key, O.bucket, O.counted, O.missing, O.ref_at, Run.run_uuid, Run.state, Run.started_at,
               Run.ended_at, Namespace.name, Job.name)
        .outerjoin(Run, Run.id == O.run_id).outerjoin(Job, Job.id == Run.job_id)
        .outerjoin(Namespace, Namespace.id == Job.namespace_id)
        .where(*where).order_by(O.bucket.desc(), O.key).limit(limit)
    ).all()
    rows_by_version = {}
    versions = [int(r.key[2:]) for r in rows if r.key.startswith("v:")]
    if versions:
        rows_by_version = dict(session.execute(
            select(DatasetVersion.id, DatasetVersion.row_count).where(DatasetVersion.id.in_(versions))).all())
    out = []
    for r in rows:
        kind = ("missing_run" if r.missing else "time_slice" if r.key.startswith("s:")
                else "write" if r.key.startswith("v:") else "assertion" if r.key.startswith("q:") else "run")
        item: dict[str, Any] = {"kind": kind, "key": r.key, "at": iso(from_bucket(r.bucket)),
                                "belongsTo": iso(r.ref_at), "counted": r.counted}
        if r.run_uuid is not None:
            item["run"] = {"id": r.run_uuid, "state": r.state, "job": {"namespace": r[9], "name": r[10]},
                           "startedAt": iso(r.started_at), "endedAt": iso(r.ended_at),
                           "link": f"/api/v1/jobs/runs/{r.run_uuid}"}
        if kind == "write":
            item["rowCount"] = rows_by_version.get(int(r.key[2:]))
        out.append(item)
    return out, total


def _stale_spent(session: Session, unit: Unit, start: datetime, end: datetime,
                 limit: int) -> tuple[list[dict[str, Any]], int]:
    ds = unit.entity_id
    writes = writes_before(session, {ds: start}, 1).get(ds, []) + writes_since(session, {ds: start}).get(ds, [])
    first_seen = dataset_first_seen(session, [ds]).get(ds)
    lo = max(start, first_seen) if first_seen is not None else start
    stale = stale_intervals([w.at for w in writes], cached_rule(unit.slo.sli), lo, end)
    ended_by = {w.at: w.run_id for w in writes}
    runs = dict(session.execute(select(Run.id, Run.run_uuid).where(
        Run.id.in_([ended_by[b] for _, b in stale if b in ended_by]))).all()) if stale else {}
    ranked = sorted(stale, key=lambda ab: (ab[0] - ab[1], ab[0]))[:limit]
    out = []
    for a, b in ranked:
        run_uuid = runs.get(ended_by.get(b))
        out.append({"kind": "stale", "from": iso(a), "to": iso(b), "ongoing": b >= end,
                    "minutes": (b - a).total_seconds() / 60,
                    "endedBy": None if run_uuid is None else
                    {"id": run_uuid, "link": f"/api/v1/jobs/runs/{run_uuid}"}})
    return out, len(stale)


def slo_history(session: Session, slo_id: int, start: datetime | None, end: datetime | None,
                step: timedelta | None) -> dict[str, Any]:
    definition_row(session, slo_id)
    end = as_utc(end) if end is not None else (_last_pass(session) or utcnow())
    start = as_utc(start) if start is not None else end - timedelta(days=7)
    if end <= start:
        raise InvalidInput("`to` must be after `from`")
    step = step or max(timedelta(minutes=1), (end - start) / 200)
    if step <= timedelta(0):
        raise InvalidInput("`step` must be positive")
    if (end - start) / step > MAX_POINTS:
        raise InvalidInput(f"at most {MAX_POINTS} points: widen `step` or narrow the range")
    before = session.scalar(select(func.max(SloEvaluation.evaluated_at)).where(
        SloEvaluation.slo_id == slo_id, SloEvaluation.evaluated_at <= start))
    rows = session.execute(
        select(SloEvaluation.evaluated_at, SloEvaluation.state, SloEvaluation.severity,
               SloEvaluation.budget_remaining, SloEvaluation.report)
        .where(SloEvaluation.slo_id == slo_id, SloEvaluation.evaluated_at >= (before or start),
               SloEvaluation.evaluated_at <= end)
        .order_by(SloEvaluation.evaluated_at, SloEvaluation.id)
    ).all()
    points = history_points([tuple(r) for r in rows], start, end, step)
    for p in points:
        p["at"], p["evaluated_at"] = iso(p["at"]), iso(p["evaluated_at"])
    return {"id": slo_id, "from": iso(start), "to": iso(end), "step": step.total_seconds(),
            "points": points}
