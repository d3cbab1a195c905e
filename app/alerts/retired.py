"""Alerts of SLOs that no longer exist: resolved instead of left firing forever.

An alert closes when its SLO's signal says the condition stopped; an SLO that was
deleted (through the API, by a YAML folder re-applied without it, by a selector that no
longer matches its dataset, or by a definition whose target changed) sends no signal
any more, so nothing else would ever close its alert. This looks for firing alerts
whose `slos` row is gone, closes them, and resolves each incident left with no firing
alert, with the usual resolve notifications (per receiver `send_resolved`).

It runs at the start of every `process_signals` (so the evaluation after a deletion
cleans up) and in the housekeeping job (so it also happens when no SLO is left to
evaluate).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.alerts.lifecycle import close_alert, resolve
from app.alerts.notify import record
from app.alerts.runtime import AlertRuntime, get_runtime
from app.store.alert_models import Incident, IncidentAlert
from app.store.slo_models import Slo


def resolve_deleted_slos(
    session: Session, now: datetime, runtime: AlertRuntime | None = None,
    alive: Collection[int] = (),
) -> list[int]:
    """Close the firing alerts of deleted SLOs; ids of the incidents this resolved.

    `alive`: SLO ids known to exist (those an evaluation just sent signals for).
    Flushes only; the caller commits (and so sends the notifications with the change).
    """
    query = select(IncidentAlert).where(
        IncidentAlert.state == "firing", IncidentAlert.slo_id.not_in(select(Slo.id)))
    if alive:
        query = query.where(IncidentAlert.slo_id.not_in(list(alive)))
    orphans = session.scalars(query.order_by(IncidentAlert.incident_id, IncidentAlert.id)).all()
    if not orphans:
        return []
    rt = runtime or get_runtime()
    gone: dict[int, list[str]] = {}
    for alert in orphans:
        incident = session.get(Incident, alert.incident_id)
        close_alert(alert, now, "SLO deleted")
        record(session, incident, now, "alert_resolved",
               f"SLO {alert.slo_name} ({alert.severity}) deleted")
        gone.setdefault(alert.incident_id, []).append(alert.slo_name)
    session.flush()
    resolved = []
    for incident_id, names in gone.items():
        incident = session.get(Incident, incident_id)
        firing = session.scalar(
            select(func.count()).select_from(IncidentAlert).where(
                IncidentAlert.incident_id == incident_id, IncidentAlert.state == "firing"))
        if incident.state == "resolved" or firing:
            continue  # other SLOs still burn: the incident stays theirs
        listed = ", ".join(sorted(set(names)))
        resolve(session, rt, incident, now,
                reason=f"SLO {listed} deleted" if len(set(names)) == 1 else f"SLOs {listed} deleted")
        resolved.append(incident_id)
    return resolved
