"""From SLO evaluations to incidents: open, update, group by root cause, resolve.

`process_signals` is called once per evaluation with one `SloSignal` per evaluated SLO.

- Each SLO condition is an alert with a stable identity (SLO + severity). The signal's
  `active_severity` already lets a page suppress the ticket, so a change of severity
  closes one alert and opens the other; `None` closes it (the burn-rate math resolves
  only once the short window has recovered, so no extra damping is needed here).
- Alerts are grouped into incidents by root cause: the most upstream broken node above
  the SLO's target (see `upstream.most_upstream_cause`). Everything burning because one
  job failed lands in that job's incident: one notification, not one per SLO.
- An incident resolves when its root recovers (the job's latest run is no longer failed,
  or no SLO on the root target still burns) or when none of its alerts fires; the
  alerts still attached resolve with it and are held (see `lifecycle.resolve`). Alerts
  of SLOs deleted since are closed first (`retired.resolve_deleted_slos`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.alerts.lifecycle import (
    SEVERITY_RANK,
    close_alert,
    escalate,
    find_open,
    open_incident,
    resolve,
    set_impacts,
)
from app.alerts.notify import enqueue, record
from app.alerts.receivers import Action
from app.alerts.receivers.render import format_budget, format_burn_rates
from app.alerts.retired import resolve_deleted_slos
from app.alerts.runtime import AlertRuntime, get_runtime
from app.alerts.upstream import Cause, LineageView, Node, most_upstream_cause
from app.slo.signals import SloSignal
from app.store.alert_models import Incident, IncidentAlert


@dataclass
class ProcessReport:
    opened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    alerts_opened: int = 0
    alerts_closed: int = 0
    held: int = 0

    @property
    def notified(self) -> bool:
        """True when notifications were queued: worth running delivery right away."""
        return bool(self.opened or self.resolved or self.escalated)


def alert_key(slo_id: int, severity: str) -> str:
    return f"slo:{slo_id}:{severity}"


def _node(key: str) -> Node:
    kind, _, ident = key.partition(":")
    return Node(kind, int(ident))


def _floats(rates: dict) -> dict[str, float]:
    return {k: float(v) for k, v in rates.items() if v is not None}


class _Run:
    """State of one `process_signals` call."""

    def __init__(self, session: Session, signals: Sequence[SloSignal], now: datetime,
                 runtime: AlertRuntime) -> None:
        self.session, self.now, self.rt = session, now, runtime
        self.view = LineageView(session)
        self.signals = {s.slo_id: s for s in signals}  # the last signal of an SLO wins
        self.burning = {
            Node(s.target_kind, s.target_id): f"SLO {s.slo_name} {s.state or 'burning'}"
            for s in sorted(self.signals.values(), key=lambda s: s.slo_name)
            if s.active_severity
        }
        self.touched: dict[int, Incident] = {}
        self.new: set[int] = set()
        self.report = ProcessReport()

    def cause(self, s: SloSignal) -> Cause:
        return most_upstream_cause(self.view, Node(s.target_kind, s.target_id), self.burning,
                                   self.now, self.rt.options.stuck_run_after)

    def incident(self, incident_id: int) -> Incident:
        inc = self.touched.get(incident_id) or self.session.get(Incident, incident_id)
        self.touched[incident_id] = inc
        return inc

    # -- steps -------------------------------------------------------------------------
    def close_recovered(self, firing: dict[str, IncidentAlert]) -> None:
        for key, alert in list(firing.items()):
            s = self.signals[alert.slo_id]
            if s.active_severity == alert.severity:
                continue
            why = "recovered" if s.active_severity is None else f"superseded by {s.active_severity}"
            close_alert(alert, self.now, why)
            record(self.session, self.incident(alert.incident_id), self.now, "alert_resolved",
                   f"SLO {alert.slo_name} ({alert.severity}) {why}")
            self.report.alerts_closed += 1
            del firing[key]
        healthy = [s.slo_id for s in self.signals.values() if s.active_severity is None]
        if healthy:
            self.session.execute(
                update(IncidentAlert)
                .where(IncidentAlert.slo_id.in_(healthy), IncidentAlert.rearmed.is_(False))
                .values(rearmed=True)
            )

    def held(self, s: SloSignal) -> bool:
        last = self.session.scalar(
            select(IncidentAlert.resolved_at)
            .where(IncidentAlert.slo_id == s.slo_id, IncidentAlert.rearmed.is_(False))
            .order_by(IncidentAlert.resolved_at.desc())
            .limit(1)
        )
        return last is not None and last > self.now - self.rt.options.symptom_grace

    def root_info(self, cause: Cause) -> dict:
        self.view.load([cause.node], self.now, self.rt.options.stuck_run_after)
        info = self.view.info(cause.node)
        return {"kind": cause.node.kind, "id": cause.node.id, "namespace": info.namespace,
                "name": info.name, "reason": cause.reason, "owners": list(info.owners),
                "distance": cause.distance}

    def attach(self, s: SloSignal, cause: Cause) -> None:
        incident = find_open(self.session, cause.node.key)
        if incident is None:
            root = self.root_info(cause)
            incident = open_incident(
                self.session, self.rt, kind="slo_burn", root_key=cause.node.key,
                severity=s.active_severity or "ticket", now=self.now, root_cause=root,
                title=f"{root['kind']} {root['namespace']}/{root['name']}: {root['reason']}",
                labels=dict(s.labels), notify=False,
            )
            self.new.add(incident.id)
            self.report.opened.append(incident.id)
            set_impacts(self.session, self.view, incident, cause.node, self.now, self.rt)
        self.touched[incident.id] = incident
        target = Node(s.target_kind, s.target_id)
        alert = IncidentAlert(
            incident_id=incident.id, key=alert_key(s.slo_id, s.active_severity or "ticket"),
            open_key=alert_key(s.slo_id, s.active_severity or "ticket"), slo_id=s.slo_id,
            slo_name=s.slo_name, severity=s.active_severity, state="firing",
            role="root" if target == cause.node else "symptom", target_kind=s.target_kind,
            target_id=s.target_id, target_namespace=s.target_namespace,
            target_name=s.target_name, owner=s.labels.get("owner"), labels=dict(s.labels),
            burn_rates=_floats(s.burn_rates), conditions=list(s.conditions),
            budget_remaining=float(s.budget_remaining) if s.budget_remaining is not None else None,
            started_at=self.now, last_seen_at=self.now, rearmed=True,
        )
        self.session.add(alert)
        self.report.alerts_opened += 1
        record(self.session, incident, self.now, "alert_opened",
               f"SLO {s.slo_name} ({s.active_severity}) joined as {alert.role}",
               {"slo": s.slo_name, "conditions": list(s.conditions)})

    def refresh(self, alert: IncidentAlert, s: SloSignal) -> None:
        alert.burn_rates = _floats(s.burn_rates)
        alert.budget_remaining = (float(s.budget_remaining)
                                  if s.budget_remaining is not None else None)
        alert.conditions, alert.labels, alert.last_seen_at = list(s.conditions), dict(s.labels), self.now
        incident = self.incident(alert.incident_id)
        cause = self.cause(s)
        if cause.node.key == incident.root_key:
            return
        old_root = _node(incident.root_key)
        if old_root not in self.view.walk(cause.node, up=False):
            return  # not a deeper cause: the alert stays where it is until it resolves
        better = find_open(self.session, cause.node.key)
        if better is not None:
            record(self.session, incident, self.now, "alert_moved",
                   f"SLO {alert.slo_name} moved to incident {better.id} (cause further upstream)")
            alert.incident_id, alert.role = better.id, "symptom"
            record(self.session, better, self.now, "alert_opened",
                   f"SLO {alert.slo_name} ({alert.severity}) joined from incident {incident.id}")
            self.touched[better.id] = better
            return
        root = self.root_info(cause)
        incident.root_key = incident.open_key = cause.node.key
        incident.root_cause = root
        record(self.session, incident, self.now, "root_cause",
               f"root cause moved upstream to {root['kind']} {root['namespace']}/{root['name']}: "
               f"{root['reason']}", {"root_cause": root})
        set_impacts(self.session, self.view, incident, cause.node, self.now, self.rt)
        self.session.execute(update(IncidentAlert).where(
            IncidentAlert.incident_id == incident.id, IncidentAlert.state == "firing",
        ).values(role="symptom"))
        if cause.node == Node(alert.target_kind, alert.target_id):
            alert.role = "root"

    def settle(self, incident: Incident, members: list[IncidentAlert]) -> None:
        """Resolve the incident if its root recovered, else refresh what it shows."""
        if incident.state == "resolved":
            return
        root = _node(incident.root_key)
        on_root = [a for a in members if Node(a.target_kind, a.target_id) == root]
        self.view.load([root], self.now, self.rt.options.stuck_run_after)
        root_broken = self.view.info(root).reason is not None if root.kind == "job" else False
        if not members or (not on_root and not root_broken):
            reason = ("all SLOs recovered" if not members
                      else f"root cause recovered: {incident.root_cause.get('kind')} "
                           f"{incident.root_cause.get('namespace')}/"
                           f"{incident.root_cause.get('name')}")
            resolve(self.session, self.rt, incident, self.now, reason=reason,
                    still_burning=[a.key for a in members])
            self.report.resolved.append(incident.id)
            self.report.held += len(members)
            return
        leader = min(members, key=lambda a: (a.role != "root", -SEVERITY_RANK[a.severity],
                                             a.started_at, a.slo_name))
        rc = incident.root_cause or {}
        labels = {**leader.labels, "slo": leader.slo_name}
        slo_name: str | None = leader.slo_name
        if rc.get("kind") == "job" or not on_root:
            labels["root"] = f"{rc.get('kind')}:{rc.get('namespace')}/{rc.get('name')}"
            if rc.get("owners"):
                labels["owner"] = rc["owners"][0]
            slo_name = None
        title, summary = self.describe(incident, members, leader, bool(on_root))
        shown = (labels, slo_name, leader.burn_rates, leader.budget_remaining, title, summary)
        if shown != (incident.labels, incident.slo_name, incident.burn_rates,
                     incident.budget_remaining, incident.title, incident.summary):
            # Written only on change: an incident that burns for days is not rewritten
            # on every evaluation.
            (incident.labels, incident.slo_name, incident.burn_rates,
             incident.budget_remaining, incident.title, incident.summary) = shown
            incident.owner, incident.updated_at = labels.get("owner"), self.now
        top = max((a.severity for a in members), key=SEVERITY_RANK.__getitem__)
        if incident.id in self.new:
            incident.severity = top
            enqueue(self.session, self.rt, incident, Action.TRIGGER, self.now)
        elif SEVERITY_RANK[top] > SEVERITY_RANK[incident.severity]:
            escalate(self.session, self.rt, incident, top, self.now)
            self.report.escalated.append(incident.id)

    @staticmethod
    def describe(incident: Incident, members: list[IncidentAlert], leader: IncidentAlert,
                 root_has_slo: bool) -> tuple[str, str]:
        rc = incident.root_cause or {}
        where = f"{rc.get('kind')} {rc.get('namespace')}/{rc.get('name')}"
        n = len({a.slo_id for a in members})
        if root_has_slo and n == 1:
            title = f"SLO {leader.slo_name} is burning its error budget ({leader.severity})"
        elif root_has_slo:
            title = f"{where}: {n} SLOs burning"
        else:
            title = f"{where} ({rc.get('reason')}): {n} SLO{'s' if n > 1 else ''} burning downstream"
        owners = sorted({a.owner for a in members if a.owner})
        lines = [
            f"Root cause: {where} ({rc.get('reason')}).",
            (f"SLO {leader.slo_name}: burn rates "
             f"{format_burn_rates(_floats(leader.burn_rates))}, "
             f"budget left {format_budget(leader.budget_remaining)}."),
        ]
        if n > 1:
            lines.append(f"{n} SLOs affected; owners: {', '.join(owners) or 'unknown'}.")
        return title, "\n".join(lines)


def process_signals(
    session: Session,
    signals: Sequence[SloSignal],
    now: datetime,
    runtime: AlertRuntime | None = None,
) -> ProcessReport:
    """Apply one evaluation's signals. Flushes only; the caller commits."""
    rt = runtime or get_runtime()
    retired = resolve_deleted_slos(session, now, rt, alive={s.slo_id for s in signals})
    run = _Run(session, signals, now, rt)
    run.report.resolved.extend(retired)
    ids = list(run.signals)
    firing = {
        a.key: a
        for a in session.scalars(
            select(IncidentAlert).where(IncidentAlert.state == "firing",
                                        IncidentAlert.slo_id.in_(ids))
        )
    } if ids else {}
    run.close_recovered(firing)
    order = sorted(
        (s for s in run.signals.values() if s.active_severity),
        key=lambda s: (-SEVERITY_RANK[s.active_severity or "ticket"], s.slo_name),
    )
    for s in order:
        alert = firing.get(alert_key(s.slo_id, s.active_severity or "ticket"))
        if alert is not None:
            run.refresh(alert, s)
        elif run.held(s):
            run.report.held += 1
        else:
            run.attach(s, run.cause(s))
    session.flush()
    # Every open SLO incident: one whose signals were all absent can still lose its root.
    open_incidents = session.scalars(
        select(Incident).where(Incident.kind == "slo_burn", Incident.state != "resolved")
    ).all()
    members: dict[int, list[IncidentAlert]] = {i.id: [] for i in open_incidents}
    if members:
        for a in session.scalars(select(IncidentAlert).where(
            IncidentAlert.state == "firing", IncidentAlert.incident_id.in_(members)
        )):
            members[a.incident_id].append(a)
    for incident in open_incidents:
        run.settle(incident, members[incident.id])
    session.flush()
    return run.report
