"""Scheduled alerting work, as `(session, now) -> None` functions for app/jobs.py.

The scheduler wraps each in a lease (one replica at a time) and a transaction. Two
notes for whoever wires them:
- `deliver_notifications` commits by itself after every claim and every result, so a
  crash mid-pass loses at most the record of the one request in flight (see
  app/alerts/delivery.py); the wrapper's final commit is then a no-op.
- Run it often (every `alert_delivery_interval`, 1 s by default): it is a cheap indexed
  query when the outbox is empty, and it bounds the latency from a state change to
  the receiver. `alert_housekeeping` (every `alert_housekeeping_interval`, 30 s)
  finds stuck runs and breaking schema changes (and resolves those that are over),
  resolves the alerts of deleted SLOs,
  and queues repeats and re-sends.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from app.alerts.delivery import deliver_due, enqueue_repeats, prune_resends
from app.alerts.detectors import detect_schema_changes, detect_stuck_runs, resolve_schema_changes
from app.alerts.maintenance import sync_config_windows
from app.alerts.retired import resolve_deleted_slos
from app.alerts.runtime import AlertRuntime, runtime_from_settings, set_runtime
from app.settings import Settings
from app.store.types import utcnow

log = logging.getLogger(__name__)

DELIVERY_JOB = "alerts.deliver"
HOUSEKEEPING_JOB = "alerts.housekeeping"


def deliver_notifications(session: Session, now: datetime) -> None:
    report = deliver_due(session, now)
    if report.delivered or report.failed or report.retrying:
        log.info("alert delivery: %s", report)


def alert_housekeeping(session: Session, now: datetime) -> None:
    opened, resolved = detect_stuck_runs(session, now)
    schema = detect_schema_changes(session, now)
    schema_over = resolve_schema_changes(session, now)
    deleted = resolve_deleted_slos(session, now)
    repeats = enqueue_repeats(session, now)
    prune_resends(session, now)
    if opened or resolved or schema or schema_over or deleted or repeats:
        log.info("alert housekeeping: stuck runs opened %s resolved %s, schema changes opened "
                 "%s resolved %s, deleted SLOs resolved %s, repeats queued %d", opened,
                 resolved, schema, schema_over, deleted, repeats)


def alert_jobs(settings: Settings) -> list[tuple[str, object, float]]:
    """(name, function, interval seconds) for every alerting job, ready for ScheduledJob."""
    return [
        (DELIVERY_JOB, deliver_notifications, settings.alert_delivery_interval),
        (HOUSEKEEPING_JOB, alert_housekeeping, settings.alert_housekeeping_interval),
    ]


def start_alerting(settings: Settings, session_factory: sessionmaker[Session]) -> AlertRuntime:
    """Load the routing file, install the process runtime, sync its maintenance windows.

    Call once at start-up (the lifespan), before the jobs run; a bad routing file raises
    `RoutingValidationError` listing every problem, which should stop the service.
    """
    runtime = runtime_from_settings(settings)
    set_runtime(runtime)
    with session_factory() as session:
        sync_config_windows(session, runtime.routing.windows, utcnow())
        session.commit()
    return runtime
