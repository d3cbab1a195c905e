"""Incident state changes shared by SLO processing, the detectors and the API.

Every change here writes its timeline entry and queues its notifications in the caller's
transaction (the caller commits): firing -> acknowledged -> resolved, escalation from
ticket to page, and the blast radius. Nothing here sends anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.alerts.notify import enqueue, record, route
from app.alerts.receivers import Action
from app.alerts.runtime import AlertRuntime
from app.alerts.upstream import LineageView, Node
from app.errors import Conflict, NotFound
from app.store.alert_models import Incident, IncidentAlert, IncidentImpact

SEVERITY_RANK = {"ticket": 0, "page": 1}
IMPACT_NODES = 500


def open_incident(
    session: Session,
    runtime: AlertRuntime,
    *,
    kind: str,
    root_key: str,
    severity: str,
    title: str,
    now: datetime,
    root_cause: dict[str, Any],
    labels: dict[str, str],
    summary: str = "",
    owner: str | None = None,
    slo_name: str | None = None,
    notify: bool = True,
) -> Incident:
    """Create a firing incident (the unique open_key makes a duplicate fail loudly)."""
    incident = Incident(
        kind=kind,
        root_key=root_key,
        open_key=root_key,
        dedup_key=f"dataslo:{root_key}:{uuid.uuid4().hex[:12]}",
        severity=severity,
        state="firing",
        title=title,
        summary=summary,
        root_cause=root_cause,
        labels=labels,
        owner=owner,
        slo_name=slo_name,
        burn_rates={},
        started_at=now,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    record(session, incident, now, "opened", title, {"root_cause": root_cause})
    if notify:
        enqueue(session, runtime, incident, Action.TRIGGER, now)
    return incident


def find_open(session: Session, root_key: str) -> Incident | None:
    return session.scalar(select(Incident).where(Incident.open_key == root_key))


def escalate(
    session: Session, runtime: AlertRuntime, incident: Incident, severity: str, now: datetime
) -> None:
    """Raise the severity (never lowered while open) and tell every receiver again.

    Routing is redone first, so a page can reach receivers a ticket did not (PagerDuty).
    """
    if SEVERITY_RANK[severity] <= SEVERITY_RANK[incident.severity]:
        return
    old, incident.severity, incident.updated_at = incident.severity, severity, now
    record(session, incident, now, "escalated", f"severity raised from {old} to {severity}")
    route(session, runtime, incident, now)
    enqueue(session, runtime, incident, Action.TRIGGER, now, reason="escalation")


def _unresolved_for_update(session: Session, incident_id: int) -> Incident:
    """The incident, row-locked so two API calls cannot both change it; 404 or 409."""
    incident = session.get(Incident, incident_id, with_for_update=True)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    if incident.state == "resolved":
        raise Conflict(f"incident {incident_id} is already resolved")
    return incident


def acknowledge(
    session: Session, runtime: AlertRuntime, incident_id: int, by: str, now: datetime,
    comment: str = "",
) -> Incident:
    incident = _unresolved_for_update(session, incident_id)
    if incident.state == "acknowledged":
        return incident
    incident.state, incident.acknowledged_at, incident.acknowledged_by = "acknowledged", now, by
    incident.updated_at = now
    record(session, incident, now, "acknowledged", f"acknowledged by {by}" +
           (f": {comment}" if comment else ""))
    enqueue(session, runtime, incident, Action.ACKNOWLEDGE, now)
    return incident


def resolve(
    session: Session,
    runtime: AlertRuntime,
    incident: Incident,
    now: datetime,
    *,
    reason: str,
    by: str = "dataslo",
    still_burning: Iterable[str] = (),
) -> None:
    """Close the incident and every alert still attached (symptoms resolve with their root).

    Alerts whose SLO is still burning (`still_burning` holds their keys) are held: they
    can open a new incident only after a healthy evaluation or the grace period.
    """
    if incident.state == "resolved":
        return
    held = set(still_burning)
    for alert in session.scalars(
        select(IncidentAlert).where(
            IncidentAlert.incident_id == incident.id, IncidentAlert.state == "firing"
        )
    ):
        close_alert(alert, now, "resolved with its incident", rearmed=alert.key not in held)
    incident.state, incident.open_key = "resolved", None
    incident.resolved_at, incident.resolved_by, incident.resolution = now, by, reason
    incident.updated_at = now
    record(session, incident, now, "resolved", reason, {"by": by})
    enqueue(session, runtime, incident, Action.RESOLVE, now)


def resolve_by_id(
    session: Session, runtime: AlertRuntime, incident_id: int, by: str, now: datetime,
    comment: str = "",
) -> Incident:
    incident = _unresolved_for_update(session, incident_id)
    firing = session.scalars(
        select(IncidentAlert.key).where(
            IncidentAlert.incident_id == incident.id, IncidentAlert.state == "firing"
        )
    ).all()
    text = f"resolved by {by}" + (f": {comment}" if comment else "")
    # A manual resolve while SLOs still burn holds them, or the next tick would reopen.
    resolve(session, runtime, incident, now, reason=text, by=by, still_burning=firing)
    return incident


def close_alert(alert: IncidentAlert, now: datetime, why: str, rearmed: bool = True) -> None:
    alert.state, alert.open_key = "resolved", None
    alert.resolved_at, alert.resolution, alert.rearmed = now, why, rearmed


def set_impacts(
    session: Session, view: LineageView, incident: Incident, root: Node, now: datetime,
    runtime: AlertRuntime,
) -> int:
    """Replace the incident's blast radius with everything downstream of `root`."""
    down = view.walk(root, up=False, limit=IMPACT_NODES)
    view.load(down, now, runtime.options.stuck_run_after)
    session.execute(delete(IncidentImpact).where(IncidentImpact.incident_id == incident.id))
    rows = []
    for node, distance in sorted(down.items(), key=lambda kv: (kv[1], kv[0])):
        if distance == 0:
            continue
        info = view.info(node)
        for owner in info.owners or ("",):
            rows.append(IncidentImpact(
                incident_id=incident.id, node_kind=node.kind, node_id=node.id,
                namespace=info.namespace, name=info.name, owner=owner, distance=distance,
            ))
    session.add_all(rows)
    return len(down) - 1
