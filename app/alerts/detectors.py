"""Incidents that no SLO raises: breaking schema changes and runs stuck in RUNNING.

Both are facts in the store rather than burn rates, so they are found by scanning what
changed since the previous tick (the cursor) instead of waiting for an SLO to notice
the damage downstream.

- A *breaking* schema change is a column removed, or a column whose type changed,
  between the two latest versions (with a schema) of a dataset that some job reads. Added
  columns are not breaking. The incident is routed once per downstream owner too, since
  those are the people whose jobs will break. It resolves by itself (`resolve_schema_changes`)
  as a data-quality check or an Alertmanager alert would: once the condition is gone.
  Either a later version restores the schema (every removed column back, every retyped
  column with its old type), or every job reading the dataset has completed a run that
  started after the change (the consumers work on the new schema, or stopped reading
  it). Until then it stays open, acknowledged or not; it can also be resolved by hand.
- A *stuck run* is RUNNING for longer than `alert_stuck_run_after`; its incident
  resolves by itself when the run reaches any other state.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.alerts.lifecycle import open_incident, resolve, set_impacts
from app.alerts.notify import enqueue
from app.alerts.receivers import Action
from app.alerts.runtime import AlertRuntime, get_runtime
from app.alerts.upstream import LineageView, Node, owner_names
from app.store.alert_models import AlertCursor, Incident, SchemaSeen
from app.store.models import Dataset, DatasetVersion, Job, LineageEdge, Namespace, Run

# Dataset rows are stamped before their transaction commits; look back this far so a
# slow commit is not skipped by the cursor.
COMMIT_SLACK = timedelta(minutes=5)
BATCH = 500
OWNERS_LIMIT = 20


def breaking_changes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    """Removed and retyped top-level columns from `old` to `new` (empty when compatible)."""
    before = {f["name"]: f.get("type") for f in old if isinstance(f, dict) and f.get("name")}
    after = {f["name"]: f.get("type") for f in new if isinstance(f, dict) and f.get("name")}
    removed = sorted(set(before) - set(after))
    retyped = [
        {"name": n, "from": before[n], "to": after[n]}
        for n in sorted(set(before) & set(after))
        if before[n] and after[n] and str(before[n]).lower() != str(after[n]).lower()
    ]
    return {"removed": removed, "retyped": retyped} if removed or retyped else {}


def _describe(changes: dict[str, Any]) -> str:
    parts = []
    if changes["removed"]:
        parts.append("removed " + ", ".join(changes["removed"]))
    if changes["retyped"]:
        parts.append("retyped " + ", ".join(
            f"{c['name']} ({c['from']} → {c['to']})" for c in changes["retyped"]))
    return "; ".join(parts)


def detect_schema_changes(
    session: Session, now: datetime, runtime: AlertRuntime | None = None
) -> list[int]:
    """Open an incident per new breaking change on a consumed dataset; ids opened."""
    rt = runtime or get_runtime()
    cursor = session.get(AlertCursor, "schema_changes")
    latest = session.scalar(select(func.max(Dataset.updated_at)))
    if cursor is None:
        # First run: start from the present, do not page about history.
        session.add(AlertCursor(name="schema_changes", at=latest))
        return []
    since = cursor.at - COMMIT_SLACK if cursor.at is not None else None
    query = select(Dataset.id).where(
        Dataset.id.in_(
            select(LineageEdge.dataset_id).where(
                LineageEdge.direction == "in", LineageEdge.valid_to.is_(None)
            )
        )
    )
    if since is not None:
        query = query.where(Dataset.updated_at > since)
    candidates = session.scalars(query.order_by(Dataset.id).limit(BATCH * 10)).all()
    opened: list[int] = []
    view = LineageView(session)
    for dataset_id in candidates:
        versions = session.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.dataset_id == dataset_id, DatasetVersion.fields.is_not(None))
            .order_by(DatasetVersion.event_time.desc(), DatasetVersion.id.desc())
            .limit(2)
        ).all()
        if len(versions) < 2:
            continue
        new, old = versions
        seen = session.get(SchemaSeen, dataset_id)
        if seen is not None and seen.version_id == new.id:
            continue
        if seen is None:
            session.add(SchemaSeen(dataset_id=dataset_id, version_id=new.id))
        else:
            seen.version_id = new.id
        if since is not None and new.created_at < since:
            continue  # a change from before the cursor started
        changes = breaking_changes(old.fields or [], new.fields or [])
        if changes and _reverts(session, dataset_id, old, new):
            continue  # a rollback of a breaking change: that incident resolves instead
        if changes:
            opened.append(_open_schema_incident(session, rt, view, dataset_id, new, changes, now))
    if latest is not None:
        cursor.at = latest
    return opened


def _open_schema_incident(
    session: Session, rt: AlertRuntime, view: LineageView, dataset_id: int,
    version: DatasetVersion, changes: dict[str, Any], now: datetime,
) -> int:
    node = Node("dataset", dataset_id)
    down = view.walk(node, up=False, limit=200)
    view.load(down, now, rt.options.stuck_run_after)
    info = view.info(node)
    owners = list(dict.fromkeys(
        o for n, d in sorted(down.items(), key=lambda kv: kv[1]) if d > 0
        for o in view.info(n).owners
    ))[:OWNERS_LIMIT]
    text = _describe(changes)
    labels = {"namespace": info.namespace, "dataset": info.name,
              "downstream_owners": ",".join(owners)}
    if info.owners:
        labels["owner"] = info.owners[0]
    consumers = sum(1 for n, d in down.items() if d == 1)
    incident = open_incident(
        session, rt, kind="schema_change", root_key=f"schema:{dataset_id}:{version.id}",
        severity="ticket", now=now,
        title=f"Breaking schema change on {info.namespace}/{info.name}: {text}",
        summary=(f"{info.namespace}/{info.name} {text}. {consumers} job(s) read it; "
                 f"downstream owners: {', '.join(owners) or 'unknown'}."),
        root_cause={"kind": "dataset", "id": dataset_id, "namespace": info.namespace,
                    "name": info.name, "reason": f"breaking schema change: {text}",
                    "owners": list(info.owners), "version_id": version.id,
                    "run_id": version.run_id, **changes},
        labels=labels, owner=labels.get("owner"), notify=False,
    )
    set_impacts(session, view, incident, node, now, rt)
    enqueue(session, rt, incident, Action.TRIGGER, now)
    return incident.id


def _restored(fields: list[dict[str, Any]] | None, rc: dict[str, Any]) -> bool:
    now = {f["name"]: f.get("type") for f in fields or [] if isinstance(f, dict) and f.get("name")}
    back = all(name in now for name in rc.get("removed", []))
    retyped = all(
        c["name"] in now and str(now[c["name"]] or "").lower() == str(c["from"] or "").lower()
        for c in rc.get("retyped", [])
    )
    return back and retyped


def _reverts(session: Session, dataset_id: int, old: DatasetVersion, new: DatasetVersion) -> bool:
    """True when `old` opened a breaking-change incident and `new` restores the schema."""
    incident = session.scalar(select(Incident).where(
        Incident.root_key == f"schema:{dataset_id}:{old.id}"))
    return incident is not None and _restored(new.fields, incident.root_cause or {})


def _consumers_ran_since(session: Session, dataset_id: int, since: datetime) -> int | None:
    """How many jobs read the dataset, if each completed a run started after `since`."""
    readers = set(session.scalars(select(LineageEdge.job_id).where(
        LineageEdge.dataset_id == dataset_id, LineageEdge.direction == "in",
        LineageEdge.valid_to.is_(None))))
    if not readers:
        return 0
    clean = set(session.scalars(select(Run.job_id).where(
        Run.job_id.in_(readers), Run.state == "COMPLETED",
        func.coalesce(Run.started_at, Run.ended_at) > since).distinct()))
    return len(readers) if clean >= readers else None


def resolve_schema_changes(
    session: Session, now: datetime, runtime: AlertRuntime | None = None
) -> list[int]:
    """Resolve breaking-change incidents whose breakage is over (see module doc); ids."""
    rt = runtime or get_runtime()
    resolved = []
    for incident in session.scalars(
        select(Incident).where(Incident.kind == "schema_change", Incident.state != "resolved")
        .order_by(Incident.id)
    ).all():
        rc = incident.root_cause or {}
        breaking = session.get(DatasetVersion, rc.get("version_id"))
        if breaking is None:
            continue
        later = session.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.dataset_id == breaking.dataset_id,
                   DatasetVersion.fields.is_not(None),
                   DatasetVersion.event_time >= breaking.event_time,
                   DatasetVersion.id != breaking.id)
            .order_by(DatasetVersion.event_time.desc(), DatasetVersion.id.desc()).limit(1)
        ).first()
        if later is not None and _restored(later.fields, rc):
            reason = "schema restored: the removed and retyped columns are back"
        else:
            readers = _consumers_ran_since(session, breaking.dataset_id, breaking.event_time)
            if readers is None:
                continue
            reason = (f"all {readers} consuming job(s) completed a run on the new schema"
                      if readers else "no job reads the dataset any more")
        resolve(session, rt, incident, now, reason=reason)
        resolved.append(incident.id)
    return resolved


def detect_stuck_runs(
    session: Session, now: datetime, runtime: AlertRuntime | None = None
) -> tuple[list[int], list[int]]:
    """Open incidents for runs RUNNING past the limit, resolve those that moved on."""
    rt = runtime or get_runtime()
    limit = now - rt.options.stuck_run_after
    stuck = session.execute(
        select(Run.id, Run.run_uuid, Run.started_at, Job.id, Job.name, Job.owners, Namespace.name)
        .join(Job, Job.id == Run.job_id)
        .join(Namespace, Namespace.id == Job.namespace_id)
        # Stuck by its own clock and by ours: a replayed or late-sent history starts runs
        # long ago that finish moments later, and must not page on the way. A streaming
        # job's run is RUNNING by design for as long as the stream lives.
        .where(Run.state == "RUNNING", Run.started_at < limit, Run.created_at < limit,
               func.coalesce(func.upper(Job.processing_type), "") != "STREAMING")
        .order_by(Run.started_at)
        .limit(BATCH)
    ).all()
    keys = [f"run:{r[0]}" for r in stuck]
    known = set(session.scalars(select(Incident.root_key).where(Incident.root_key.in_(keys))))
    view = LineageView(session)
    opened = []
    for run_id, run_uuid, started, job_id, job, owners, ns in stuck:
        key = f"run:{run_id}"
        if key in known:  # open already, or resolved by hand: do not reopen
            continue
        names = owner_names(owners)
        labels = {"namespace": ns, "job": job, **({"owner": names[0]} if names else {})}
        hours = (now - started).total_seconds() / 3600
        incident = open_incident(
            session, rt, kind="stuck_run", root_key=key, severity="ticket", now=now,
            title=f"Run of {ns}/{job} stuck in RUNNING for {hours:.1f} h",
            summary=f"Run {run_uuid} of job {ns}/{job} started {started:%Y-%m-%d %H:%M} UTC "
                    f"and has not finished; limit {rt.options.stuck_run_after}.",
            root_cause={"kind": "job", "id": job_id, "namespace": ns, "name": job,
                        "reason": f"run {run_uuid} RUNNING since {started.isoformat()}",
                        "owners": list(names), "run_id": run_id, "run_uuid": run_uuid},
            labels=labels, owner=labels.get("owner"), notify=False,
        )
        set_impacts(session, view, incident, Node("job", job_id), now, rt)
        enqueue(session, rt, incident, Action.TRIGGER, now)
        opened.append(incident.id)
    resolved = []
    still = set(keys)
    for incident in session.scalars(
        select(Incident).where(Incident.kind == "stuck_run", Incident.state != "resolved")
    ):
        if incident.root_key in still:
            continue
        run = session.get(Run, int(incident.root_key.split(":")[1]))
        state = run.state if run is not None else "gone"
        if state == "RUNNING":
            continue  # beyond this tick's batch, still stuck
        resolve(session, rt, incident, now, reason=f"run finished: {state}")
        resolved.append(incident.id)
    return opened, resolved
