"""Turning an incident state change into outbox rows, in the caller's transaction.

The rows are written by the same flush as the state change, so a crash either loses
both (the next evaluation finds the condition again and redoes it) or keeps both (the
worker delivers later): a change is never recorded without its notifications, nor
notified without being recorded. The payload is frozen at queue time, so what a
responder receives is what the incident looked like when it changed.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts.receivers import Action, ImpactedAsset, Link, Notification, Severity
from app.alerts.runtime import AlertRuntime
from app.store.alert_models import (
    Incident,
    IncidentAlert,
    IncidentEvent,
    IncidentImpact,
    IncidentReceiver,
    OutboxNotification,
)

IMPACT_LIMIT = 200


def record(
    session: Session, incident: Incident, at: datetime, kind: str, message: str,
    details: dict | None = None,
) -> None:
    """Append to the incident timeline."""
    session.add(
        IncidentEvent(incident_id=incident.id, at=at, kind=kind, message=message, details=details)
    )


def routing_labels(incident: Incident) -> list[dict[str, str]]:
    """The label sets an incident is routed with.

    Usually one. A breaking schema change is routed once per downstream owner as well,
    because the people to tell are the consumers, whose routes match their own owner.
    """
    base = {str(k): str(v) for k, v in (incident.labels or {}).items() if v is not None}
    base["severity"] = incident.severity
    base["kind"] = incident.kind
    sets = [base]
    for owner in (incident.labels or {}).get("downstream_owners", "").split(","):
        if owner:
            sets.append({**base, "owner": owner})
    return sets


def route(session: Session, runtime: AlertRuntime, incident: Incident, now: datetime) -> list[
    IncidentReceiver
]:
    """Attach every receiver the routes give for the incident's labels (idempotent)."""
    existing = {
        s.receiver: s
        for s in session.scalars(
            select(IncidentReceiver).where(IncidentReceiver.incident_id == incident.id)
        )
    }
    added = []
    for labels in routing_labels(incident):
        for target in runtime.routing.targets(labels):
            if target.receiver in existing:
                continue
            sub = IncidentReceiver(
                incident_id=incident.id,
                receiver=target.receiver,
                route=target.route,
                repeat_seconds=target.repeat_seconds,
            )
            session.add(sub)
            existing[target.receiver] = sub
            added.append(sub)
    if added:
        names = ", ".join(f"{s.receiver} (route {s.route})" for s in added)
        record(session, incident, now, "routed", f"routed to {names}")
    elif not existing:
        record(session, incident, now, "routed", "no route matched: recorded, nobody notified")
    return list(existing.values())


def impacted_assets(session: Session, incident: Incident) -> tuple[ImpactedAsset, ...]:
    """Symptom SLOs first (with owners), then the rest of the blast radius."""
    out: list[ImpactedAsset] = []
    seen: set[str] = set()
    alerts = session.scalars(
        select(IncidentAlert)
        .where(IncidentAlert.incident_id == incident.id, IncidentAlert.state == "firing")
        .order_by(IncidentAlert.role, IncidentAlert.slo_name)
    )
    for a in alerts:
        name = f"{a.target_namespace}/{a.target_name}"
        out.append(ImpactedAsset(name, a.owner, a.slo_name))
        seen.add(name)
    impacts = session.scalars(
        select(IncidentImpact)
        .where(IncidentImpact.incident_id == incident.id)
        .order_by(IncidentImpact.distance, IncidentImpact.id)
        .limit(IMPACT_LIMIT)
    )
    for i in impacts:
        name = f"{i.namespace}/{i.name}"
        if name not in seen:
            out.append(ImpactedAsset(name, i.owner or None))
            seen.add(name)
    return tuple(out)


def build_notification(
    session: Session, runtime: AlertRuntime, incident: Incident, action: Action, key: str,
    impacted: tuple[ImpactedAsset, ...] | None = None,
) -> Notification:
    root = incident.root_cause or {}
    root_text = None
    if root:
        root_text = f"{root.get('kind')} {root.get('namespace')}/{root.get('name')}"
        if root.get("reason"):
            root_text += f": {root['reason']}"
    labels = {k: str(v) for k, v in (incident.labels or {}).items() if k != "downstream_owners"}
    base = runtime.options.base_url
    return Notification(
        dedup_key=incident.dedup_key,
        action=action,
        severity=Severity(incident.severity),
        title=incident.title,
        summary=incident.summary or incident.title,
        idempotency_key=key,
        started_at=incident.started_at,
        ended_at=incident.resolved_at if action is Action.RESOLVE else None,
        slo=incident.slo_name,
        kind=incident.kind,
        labels=labels,
        burn_rates={k: float(v) for k, v in (incident.burn_rates or {}).items() if v is not None},
        budget_remaining=incident.budget_remaining,
        root_cause=root_text,
        impacted=impacted if impacted is not None else impacted_assets(session, incident),
        links=(Link(f"{base}/api/v1/incidents/{incident.id}", "Incident"),),
        incident_id=str(incident.id),
    )


def enqueue(
    session: Session,
    runtime: AlertRuntime,
    incident: Incident,
    action: Action,
    now: datetime,
    *,
    reason: str = "state",
    receivers: list[IncidentReceiver] | None = None,
) -> list[OutboxNotification]:
    """Queue `action` for every receiver of the incident (or the given ones)."""
    session.flush()
    subs = receivers if receivers is not None else route(session, runtime, incident, now)
    rows = []
    # The same for every receiver: read once, before the rows below are added (each
    # query would otherwise flush the previous receiver's row first).
    impacted = impacted_assets(session, incident) if subs else ()
    for sub in subs:
        key = f"n-{uuid.uuid4().hex}"
        note = build_notification(session, runtime, incident, action, key, impacted)
        row = OutboxNotification(
            incident_id=incident.id,
            receiver=sub.receiver,
            action=action.value,
            reason=reason,
            idempotency_key=key,
            dedup_key=incident.dedup_key,
            payload=note.to_dict(),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(row)
        rows.append(row)
        if action is Action.TRIGGER:
            sub.last_trigger_at = now
    if rows and reason in ("state", "escalation"):
        record(session, incident, now, "notification",
               f"{action.value} queued for {', '.join(r.receiver for r in rows)}")
    return rows
