"""The delivery worker: sends what the outbox holds, in order, at most once per row.

Guarantees, and how:
- *In order per incident*: per (incident, receiver) only the oldest unfinished row is
  eligible (the head); a head waiting for a retry holds back the rows behind it, so a
  resolve never overtakes its trigger, even across an outage.
- *Nothing sent twice*: a row is claimed with a conditional UPDATE (pending -> sending)
  and that claim is committed before the request goes out; a second worker (another
  replica that took the lease after a pause, or the same one) cannot claim it again.
  The result is committed right after the response. Only a crash between the request
  and that commit leaves a row "in doubt": it is retried after its claim expires with
  the same idempotency and dedup keys, which the receivers use to drop the duplicate.
- *Nothing lost*: rows stay pending through any outage or restart; retryable failures
  (network, 429, 5xx) back off exponentially with full jitter, never earlier than a
  Retry-After; permanent failures (other 4xx) are not retried; rows older than
  `alert_delivery_max_age` are given up as `expired`. Every attempt is recorded.
- *Rate limits*: one token bucket per receiver; a receiver out of tokens, or one that
  just failed, is skipped for the rest of the tick, not hammered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session

from app.alerts.maintenance import active_mute
from app.alerts.notify import enqueue, record
from app.alerts.receivers import Action, Notification, Outcome, backoff_delay
from app.alerts.runtime import AlertRuntime, get_runtime
from app.alerts.silences import matching_silence
from app.store.alert_models import (
    DeliveryAttempt,
    Incident,
    IncidentReceiver,
    OutboxNotification,
)

FINISHED = ("delivered", "skipped", "silenced", "failed", "expired")
MAX_PASSES = 5


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    silenced: int = 0
    skipped: int = 0
    expired: int = 0
    deferred: int = 0


def notification_labels(payload: dict) -> dict[str, str]:
    """What silences and maintenance windows match on: the routing labels plus identity."""
    labels = {str(k): str(v) for k, v in (payload.get("labels") or {}).items()}
    labels["severity"] = payload.get("severity", "")
    labels["kind"] = payload.get("kind", "")
    if payload.get("slo"):
        labels.setdefault("slo", payload["slo"])
    if payload.get("incident_id"):
        labels["incident"] = str(payload["incident_id"])
    return labels


def _finish(session: Session, row: OutboxNotification, status: str, now: datetime,
            error: str | None = None) -> None:
    row.status, row.finished_at, row.claimed_until = status, now, None
    if error is not None:
        row.last_error = error
    if row.reason != "resend":
        incident = session.get(Incident, row.incident_id)
        if incident is not None:
            text = f"{row.action} to {row.receiver}: {status}" + (f" ({error})" if error else "")
            record(session, incident, now, "delivery", text, {"outbox_id": row.id})


def _triggered(session: Session, row: OutboxNotification) -> bool:
    """Did this receiver ever get a trigger for the incident before this row?"""
    return bool(session.scalar(select(exists().where(
        OutboxNotification.incident_id == row.incident_id,
        OutboxNotification.receiver == row.receiver,
        OutboxNotification.action == "trigger",
        OutboxNotification.status == "delivered",
        OutboxNotification.id < row.id,
    ))))


def _gate(session: Session, rt: AlertRuntime, row: OutboxNotification, now: datetime
          ) -> tuple[str, str | None, int | None] | None:
    """Why this row must not be sent at all, as (status, reason, silence id), or None."""
    if rt.receiver(row.receiver) is None:
        return "failed", "receiver is not configured any more", None
    if now - row.created_at > rt.options.max_age:
        return "expired", f"undelivered after {rt.options.max_age}", None
    if row.action != "trigger":
        # Acknowledge and resolve follow the trigger: not sent if it never went out,
        # always sent if it did (a silence must not leave a vendor incident open).
        if not _triggered(session, row):
            return "skipped", "no trigger was delivered to this receiver", None
        return None
    labels = notification_labels(row.payload)
    silence = matching_silence(session, labels, now)
    if silence is not None:
        return "silenced", f"silence {silence.id} by {silence.created_by}", silence.id
    window = active_mute(session, labels, now)
    if window is not None:
        return "silenced", f"maintenance window {window.name}", None
    return None


def deliver_due(
    session: Session,
    now: datetime,
    http_client: httpx.Client | None = None,
    runtime: AlertRuntime | None = None,
) -> DeliveryReport:
    """Deliver what is due. Commits after each claim and each result (see module doc).

    Passes repeat while they make progress, so rows queued while a pass was sending
    (a resolve right behind its trigger) go out now rather than a tick later.
    """
    rt = runtime or get_runtime()
    client = http_client or rt.client
    rt.tick_time = max(rt.tick_time, now.timestamp())
    report = DeliveryReport()
    started = time.monotonic()
    for _ in range(MAX_PASSES):
        before = _finished(report)
        # A later pass runs later: rows queued meanwhile are due by their own clock.
        _pass(session, rt, client, now + timedelta(seconds=time.monotonic() - started), report)
        if _finished(report) == before:
            break
    return report


def _finished(report: DeliveryReport) -> int:
    return (report.delivered + report.failed + report.silenced + report.skipped
            + report.expired)


def _pass(session: Session, rt: AlertRuntime, client: httpx.Client, now: datetime,
          report: DeliveryReport) -> None:
    rows = session.execute(
        select(OutboxNotification.id, OutboxNotification.incident_id,
               OutboxNotification.receiver, OutboxNotification.status,
               OutboxNotification.next_attempt_at, OutboxNotification.claimed_until)
        .where(OutboxNotification.status.in_(("pending", "sending")))
        .order_by(OutboxNotification.id)
        .limit(rt.options.batch)
    ).all()
    session.commit()  # end the read transaction; each row below gets its own
    # A stream is one (incident, receiver); once a row of it cannot go now, every later
    # row of it waits too. A finished row lets the next one go in the same pass.
    stalled: set[tuple[int, str]] = set()
    blocked: set[str] = set()
    for head in rows:
        stream = (head.incident_id, head.receiver)
        if stream in stalled or head.receiver in blocked:
            stalled.add(stream)
            continue
        claimed = head.status == "sending" and head.claimed_until and head.claimed_until > now
        if claimed or head.next_attempt_at > now:
            stalled.add(stream)
            continue
        row = session.get(OutboxNotification, head.id, populate_existing=True)
        if row is None or row.status not in ("pending", "sending"):
            session.rollback()
            stalled.add(stream)
            continue
        gate = _gate(session, rt, row, now)
        if gate is not None:
            status, why, silence_id = gate
            row.silence_id = silence_id
            _finish(session, row, status, now, why)
            session.commit()
            setattr(report, status, getattr(report, status) + 1)
            continue
        limiter = rt.limiter(row.receiver)
        if limiter is not None and not limiter.try_acquire():
            blocked.add(row.receiver)
            stalled.add(stream)
            report.deferred += 1
            session.rollback()
            continue
        claim_until = now + timedelta(seconds=rt.options.http_timeout) + rt.options.claim_margin
        won = session.execute(
            update(OutboxNotification)
            .where(
                OutboxNotification.id == row.id,
                or_(OutboxNotification.status == "pending",
                    and_(OutboxNotification.status == "sending",
                         OutboxNotification.claimed_until < now)),
            )
            .values(status="sending", claimed_until=claim_until,
                    attempts=OutboxNotification.attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
        if won != 1:
            stalled.add(stream)
            continue
        session.refresh(row)
        receiver = rt.receiver(row.receiver)
        assert receiver is not None
        result = receiver.send(Notification.from_dict(row.payload), client)
        session.add(DeliveryAttempt(
            outbox_id=row.id, attempt=row.attempts, at=now, outcome=result.outcome.value,
            status_code=result.status_code, latency_ms=round(result.latency * 1000, 3),
            retryable=result.retryable, retry_after=result.retry_after, error=result.error,
        ))
        if result.outcome is Outcome.DELIVERED:
            row.last_error = None
            _finish(session, row, "delivered", now)
            report.delivered += 1
        elif result.outcome is Outcome.SKIPPED:
            _finish(session, row, "skipped", now, result.error)
            report.skipped += 1
        elif result.retryable:
            delay = backoff_delay(row.attempts - 1, rt.options.retry_base, rt.options.retry_cap,
                                  result.retry_after)
            row.status, row.claimed_until, row.last_error = "pending", None, result.error
            row.next_attempt_at = now + timedelta(seconds=delay)
            if result.retry_after is not None and limiter is not None:
                limiter.defer(result.retry_after)
            blocked.add(row.receiver)
            stalled.add(stream)
            report.retrying += 1
        else:
            _finish(session, row, "failed", now, result.error)
            report.failed += 1
        session.commit()


def enqueue_repeats(session: Session, now: datetime, runtime: AlertRuntime | None = None) -> int:
    """Queue re-sends: Alertmanager while an incident is open, and the route's repeat
    for pages nobody acknowledged. Nothing is added while a row for that receiver is
    still waiting, so an outage does not pile up copies."""
    rt = runtime or get_runtime()
    subs = session.execute(
        select(IncidentReceiver, Incident)
        .join(Incident, Incident.id == IncidentReceiver.incident_id)
        .where(Incident.state != "resolved")
        .order_by(IncidentReceiver.id)
    ).all()
    queued = 0
    for sub, incident in subs:
        receiver = rt.receiver(sub.receiver)
        due: list[tuple[float, str]] = []
        if receiver is not None and receiver.resend_interval:
            due.append((receiver.resend_interval, "resend"))
        if incident.state == "firing" and incident.severity == "page" and sub.repeat_seconds:
            due.append((sub.repeat_seconds, "repeat"))
        if not due:
            continue
        interval, reason = min(due)
        if sub.last_trigger_at is not None and now - sub.last_trigger_at < timedelta(
            seconds=interval
        ):
            continue
        waiting = session.scalar(select(exists().where(
            OutboxNotification.incident_id == incident.id,
            OutboxNotification.receiver == sub.receiver,
            OutboxNotification.status.in_(("pending", "sending")),
        )))
        if waiting:
            continue
        enqueue(session, rt, incident, Action.TRIGGER, now, reason=reason, receivers=[sub])
        if reason == "repeat":
            record(session, incident, now, "repeat",
                   f"still unacknowledged: page repeated to {sub.receiver}")
        queued += 1
    return queued


def prune_resends(session: Session, now: datetime, keep: timedelta = timedelta(days=7)) -> int:
    """Delete delivered Alertmanager re-sends older than `keep`, with their attempts.

    A firing incident re-sends every minute; those rows carry no history worth keeping
    (state changes, repeats and failures are never pruned).
    """
    old = select(OutboxNotification.id).where(
        OutboxNotification.reason == "resend",
        OutboxNotification.status == "delivered",
        OutboxNotification.finished_at < now - keep,
    ).limit(5000)
    ids = session.scalars(old).all()
    if ids:
        session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.outbox_id.in_(ids)))
        session.execute(delete(OutboxNotification).where(OutboxNotification.id.in_(ids)))
    return len(ids)
