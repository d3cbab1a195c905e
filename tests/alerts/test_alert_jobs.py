"""The alerting jobs as the service runs them: start-up, then lease-guarded ticks."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from alerting_support import routing_yaml, signal
from sqlalchemy import select

from app.alerts.jobs import (
    DELIVERY_JOB,
    HOUSEKEEPING_JOB,
    alert_housekeeping,
    alert_jobs,
    deliver_notifications,
    start_alerting,
)
from app.alerts.process import process_signals
from app.alerts.runtime import get_runtime, set_runtime
from app.jobs import ScheduledJob, Scheduler
from app.settings import Settings
from app.slo.loader import load_slo_documents
from app.slo.store import apply_definition
from app.store.alert_models import MaintenanceWindow, OutboxNotification
from app.store.db import make_session_factory
from app.store.slo_models import Slo
from app.store.types import utcnow


@pytest.fixture
def installed():
    previous = set_runtime(None)
    yield
    get_runtime().close()
    set_runtime(previous)


def test_start_up_and_scheduled_ticks(engine, vendor, tmp_path, installed):
    routes = tmp_path / "routes.yaml"
    # A daily window twelve hours away: loaded, yet never open while the test runs (a
    # fixed "Sunday 03:00" silenced this test's pages for one hour a week).
    hour = (utcnow() + timedelta(hours=12)).hour
    routes.write_text(routing_yaml(vendor.url) + f"""maintenance_windows:
  - name: sunday
    cron: "0 {hour} * * *"
    duration: 1h
    exclude_budget: true
""")
    settings = Settings(database_url=str(engine.url), alert_routes_file=routes)
    factory = make_session_factory(engine)
    runtime = start_alerting(settings, factory)
    assert get_runtime() is runtime and sorted(runtime.routing.receivers) == ["hook", "pd",
                                                                               "slack"]
    with factory() as session:
        assert session.scalars(select(MaintenanceWindow.name)).all() == ["sunday"]
        now = utcnow()
        (slo,) = load_slo_documents('{name: s, sli: {kind: success_rate}, objective: 0.99, '
                                    'target: {job: {namespace: pipelines, name: nightly}}}')
        apply_definition(session, slo, source="api")
        slo_id = session.scalar(select(Slo.id))
        report = process_signals(session, [signal(slo_id, "s", 5, "page", now)], now)
        session.commit()
    assert report.notified

    scheduler = Scheduler(factory, holder="test")
    for name, func, interval in alert_jobs(settings):
        scheduler.add(ScheduledJob(name, func, interval))
    assert scheduler.run_once(DELIVERY_JOB)
    assert scheduler.run_once(HOUSEKEEPING_JOB)
    assert sorted(r.path for r in vendor.requests) == ["/slack/hook", "/v2/enqueue"]
    with factory() as session:
        assert set(session.scalars(select(OutboxNotification.status))) == {"delivered"}
    assert {f for _, f, _ in alert_jobs(settings)} == {deliver_notifications, alert_housekeeping}


def test_run_soon_is_kept_while_the_job_runs_and_at_a_later_time(engine):
    """Ingest wakes evaluation and delivery with run_soon; none of those wake-ups may be
    dropped because the job was busy, or absorbed by an earlier run when it asked for a
    run after a given time (the close of a minute)."""
    runs: list[datetime] = []
    release_first = threading.Event()

    def job(session, now):
        runs.append(datetime.now(UTC))
        if len(runs) == 1:
            release_first.wait(5)

    scheduler = Scheduler(make_session_factory(engine), holder="test")
    scheduler.add(ScheduledJob("x", job, 3600))
    scheduler.start()
    try:
        scheduler.run_soon("x")
        _until(lambda: len(runs) == 1)
        scheduler.run_soon("x")  # while the first run is busy
        release_first.set()
        _until(lambda: len(runs) == 2)

        later = datetime.now(UTC) + timedelta(seconds=1.5)
        scheduler.run_soon("x", 0.1)
        scheduler.run_soon("x", at=later)
        scheduler.run_soon("x", at=later)  # the same instant twice: one run
        _until(lambda: len(runs) == 4)
        time.sleep(0.5)
    finally:
        scheduler.shutdown()
    assert len(runs) == 4
    assert runs[2] < later <= runs[3]


def _until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the scheduled job did not run in time"
        time.sleep(0.02)
