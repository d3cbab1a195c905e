"""The alerting jobs as the service runs them: start-up, then lease-guarded ticks."""

from __future__ import annotations

import pytest
from alerting_support import Vendor, routing_yaml, signal
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
from app.store.alert_models import MaintenanceWindow, OutboxNotification
from app.store.db import make_session_factory
from app.store.types import utcnow


@pytest.fixture
def vendor():
    v = Vendor()
    yield v
    v.stop()


@pytest.fixture
def installed():
    previous = set_runtime(None)
    yield
    get_runtime().close()
    set_runtime(previous)


def test_start_up_and_scheduled_ticks(engine, vendor, tmp_path, installed):
    routes = tmp_path / "routes.yaml"
    routes.write_text(routing_yaml(vendor.url) + """maintenance_windows:
  - name: sunday
    cron: "0 3 * * 0"
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
        report = process_signals(session, [signal(1, "s", 5, "page", now)], now)
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
