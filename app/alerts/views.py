"""Read models of incidents for the API: the list with its filters, and the full story of
one incident (timeline, root cause, symptoms, blast radius, notifications and every
delivery attempt), so on-call and auditors read the same record the worker wrote.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.store.alert_models import (
    DeliveryAttempt,
    Incident,
    IncidentAlert,
    IncidentEvent,
    IncidentImpact,
    IncidentReceiver,
    OutboxNotification,
)

STATES = ("firing", "acknowledged", "resolved", "open")
SEVERITIES = ("page", "ticket")


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def incident_summary(i: Incident, symptoms: int = 0) -> dict[str, Any]:
    return {
        "id": i.id, "kind": i.kind, "state": i.state, "severity": i.severity,
        "title": i.title, "slo": i.slo_name, "owner": i.owner, "dedup_key": i.dedup_key,
        "labels": i.labels, "root_cause": i.root_cause, "started_at": _iso(i.started_at),
        "updated_at": _iso(i.updated_at), "acknowledged_at": _iso(i.acknowledged_at),
        "acknowledged_by": i.acknowledged_by, "resolved_at": _iso(i.resolved_at),
        "resolved_by": i.resolved_by, "resolution": i.resolution, "alerts": symptoms,
    }


def list_incidents(
    session: Session, *, state: str | None = None, severity: str | None = None,
    owner: str | None = None, slo: str | None = None, kind: str | None = None,
    limit: int = 50, offset: int = 0,
) -> dict[str, Any]:
    if state is not None and state not in STATES:
        raise InvalidInput(f"state must be one of {', '.join(STATES)}")
    if severity is not None and severity not in SEVERITIES:
        raise InvalidInput(f"severity must be one of {', '.join(SEVERITIES)}")
    conditions = []
    if state == "open":
        conditions.append(Incident.state != "resolved")
    elif state:
        conditions.append(Incident.state == state)
    if severity:
        conditions.append(Incident.severity == severity)
    if kind:
        conditions.append(Incident.kind == kind)
    if owner:
        conditions.append(or_(
            Incident.owner == owner,
            exists().where(IncidentAlert.incident_id == Incident.id, IncidentAlert.owner == owner),
            exists().where(IncidentImpact.incident_id == Incident.id,
                           IncidentImpact.owner == owner),
        ))
    if slo:
        conditions.append(or_(
            Incident.slo_name == slo,
            exists().where(IncidentAlert.incident_id == Incident.id,
                           IncidentAlert.slo_name == slo),
        ))
    total = session.scalar(select(func.count()).select_from(Incident).where(*conditions))
    rows = session.scalars(
        select(Incident).where(*conditions)
        .order_by(Incident.started_at.desc(), Incident.id.desc()).limit(limit).offset(offset)
    ).all()
    counts = dict(session.execute(
        select(IncidentAlert.incident_id, func.count())
        .where(IncidentAlert.incident_id.in_([r.id for r in rows]))
        .group_by(IncidentAlert.incident_id)
    ).all()) if rows else {}
    return {"incidents": [incident_summary(r, counts.get(r.id, 0)) for r in rows],
            "totalCount": total}


def _alert(a: IncidentAlert) -> dict[str, Any]:
    return {
        "key": a.key, "slo": a.slo_name, "severity": a.severity, "state": a.state,
        "role": a.role, "target": {"kind": a.target_kind, "namespace": a.target_namespace,
                                   "name": a.target_name},
        "owner": a.owner, "labels": a.labels, "burn_rates": a.burn_rates,
        "budget_remaining": a.budget_remaining, "conditions": a.conditions,
        "started_at": _iso(a.started_at), "resolved_at": _iso(a.resolved_at),
        "resolution": a.resolution,
    }


def incident_detail(session: Session, incident_id: int) -> dict[str, Any]:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    alerts = session.scalars(
        select(IncidentAlert).where(IncidentAlert.incident_id == incident_id)
        .order_by(IncidentAlert.role, IncidentAlert.started_at, IncidentAlert.id)
    ).all()
    impact: dict[tuple[str, int], dict[str, Any]] = {}
    for row in session.scalars(
        select(IncidentImpact).where(IncidentImpact.incident_id == incident_id)
        .order_by(IncidentImpact.distance, IncidentImpact.id)
    ):
        item = impact.setdefault((row.node_kind, row.node_id), {
            "kind": row.node_kind, "namespace": row.namespace, "name": row.name,
            "distance": row.distance, "owners": []})
        if row.owner:
            item["owners"].append(row.owner)
    outbox = session.scalars(
        select(OutboxNotification).where(OutboxNotification.incident_id == incident_id)
        .order_by(OutboxNotification.id)
    ).all()
    attempts: dict[int, list[dict[str, Any]]] = {}
    if outbox:
        for a in session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.outbox_id.in_([o.id for o in outbox]))
            .order_by(DeliveryAttempt.id)
        ):
            attempts.setdefault(a.outbox_id, []).append({
                "attempt": a.attempt, "at": _iso(a.at), "outcome": a.outcome,
                "status_code": a.status_code, "latency_ms": a.latency_ms,
                "retryable": a.retryable, "retry_after": a.retry_after, "error": a.error,
            })
    receivers = session.scalars(
        select(IncidentReceiver).where(IncidentReceiver.incident_id == incident_id)
        .order_by(IncidentReceiver.id)
    ).all()
    timeline = session.scalars(
        select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.at, IncidentEvent.id)
    ).all()
    body = incident_summary(incident, len(alerts))
    body.update({
        "summary": incident.summary,
        "burn_rates": incident.burn_rates,
        "budget_remaining": incident.budget_remaining,
        "symptoms": [_alert(a) for a in alerts if a.role == "symptom"],
        "root_alerts": [_alert(a) for a in alerts if a.role == "root"],
        "impact": {"count": len(impact), "assets": list(impact.values())},
        "receivers": [{"receiver": r.receiver, "route": r.route,
                       "repeat_seconds": r.repeat_seconds,
                       "last_trigger_at": _iso(r.last_trigger_at)} for r in receivers],
        "notifications": [{
            "id": o.id, "receiver": o.receiver, "action": o.action, "reason": o.reason,
            "status": o.status, "idempotency_key": o.idempotency_key,
            "created_at": _iso(o.created_at), "finished_at": _iso(o.finished_at),
            "attempts": attempts.get(o.id, []), "last_error": o.last_error,
            "silence_id": o.silence_id,
        } for o in outbox],
        "timeline": [{"at": _iso(e.at), "kind": e.kind, "message": e.message,
                      "details": e.details} for e in timeline],
    })
    return body
