"""Incident lifecycle: severities, acknowledgement, repeats, re-sends, per-receiver resolve,
stuck runs and breaking schema changes (built through real ingestion), and the
maintenance windows the SLO side asks about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerting_support import (
    breaking_orders_change,
    make_runtime,
    minutes,
    post,
    routing_yaml,
    signal,
)
from factories import new_run_id, run_event
from sqlalchemy import select, update

from app.alerts.delivery import deliver_due, enqueue_repeats
from app.alerts.detectors import breaking_changes, detect_schema_changes, detect_stuck_runs
from app.alerts.lifecycle import acknowledge
from app.alerts.maintenance import excluded_intervals, sync_config_windows
from app.alerts.process import process_signals
from app.alerts.routing import WindowSpec
from app.store.alert_models import Incident, IncidentAlert, OutboxNotification
from app.store.models import Run
from app.store.types import utcnow


def _step(session, rt, signals, at):
    report = process_signals(session, signals, at, rt)
    session.commit()
    deliver_due(session, at, runtime=rt)
    return report


def _sent(vendor):
    out = []
    for r in vendor.requests:
        body = r.json
        if r.path == "/v2/enqueue":
            out.append(("pd", body["event_action"]))
        elif r.path == "/slack/hook":
            out.append(("slack", body["text"][1:].split("]")[0]))
    return out


def test_page_suppresses_ticket_and_escalates_one_incident(session, vendor):
    rt = make_runtime(routing_yaml(vendor.url))
    ticket = signal(7, "orders-fresh", 42, "ticket", minutes(0))
    _step(session, rt, [ticket], minutes(0))
    assert _sent(vendor) == [("slack", "TICKET")]

    _step(session, rt, [signal(7, "orders-fresh", 42, "page", minutes(5))], minutes(5))
    incident = session.scalar(select(Incident))
    assert incident.severity == "page"
    alerts = session.execute(select(IncidentAlert.severity, IncidentAlert.state,
                                    IncidentAlert.resolution).order_by(IncidentAlert.id)).all()
    assert alerts == [("ticket", "resolved", "superseded by page"), ("page", "firing", None)]
    assert _sent(vendor) == [("slack", "TICKET"), ("pd", "trigger"), ("slack", "PAGE")]

    # The page condition clears but the ticket still holds: nothing is re-sent.
    _step(session, rt, [signal(7, "orders-fresh", 42, "ticket", minutes(10))], minutes(10))
    assert len(vendor.requests) == 3 and incident.state == "firing"
    _step(session, rt, [signal(7, "orders-fresh", 42, None, minutes(20))], minutes(20))
    session.refresh(incident)
    assert incident.state == "resolved"
    assert _sent(vendor)[3:] == [("pd", "resolve"), ("slack", "RESOLVED")]


def test_unacknowledged_pages_repeat_until_acknowledged(session, vendor):
    rt = make_runtime(routing_yaml(vendor.url))
    _step(session, rt, [signal(1, "s", 5, "page", minutes(0))], minutes(0))
    assert enqueue_repeats(session, minutes(29), rt) == 0
    assert enqueue_repeats(session, minutes(31), rt) == 2  # pd and slack, route repeat 30m
    session.commit()
    deliver_due(session, minutes(31), runtime=rt)
    assert _sent(vendor)[2:] == [("pd", "trigger"), ("slack", "PAGE")]
    incident = session.scalar(select(Incident))
    acknowledge(session, rt, incident.id, "alice", minutes(32))
    session.commit()
    deliver_due(session, minutes(32), runtime=rt)
    assert enqueue_repeats(session, minutes(90), rt) == 0
    assert ("pd", "acknowledge") in _sent(vendor)
    assert ("slack", "ACKNOWLEDGED") in _sent(vendor)


def test_alertmanager_is_resent_while_firing_and_resolve_can_be_off(session, vendor):
    extra = f"""
  - name: am
    type: alertmanager
    url: {vendor.url}
    resend_interval: 60
  - name: quiet
    type: slack
    webhook_url: {vendor.url}/slack/hook
    send_resolved: false
"""
    rt = make_runtime(routing_yaml(vendor.url, extra=extra,
                                   routes="  - {receivers: [am, quiet]}\n"))
    _step(session, rt, [signal(1, "s", 5, "ticket", minutes(0))], minutes(0))
    assert enqueue_repeats(session, minutes(0.5), rt) == 0
    assert enqueue_repeats(session, minutes(1.01), rt) == 1  # AM only: slack has no repeat
    session.commit()
    deliver_due(session, minutes(1.01), runtime=rt)
    alerts = vendor.bodies("/api/v2/alerts")
    assert len(alerts) == 2
    assert alerts[0][0]["labels"] == alerts[1][0]["labels"]  # same fingerprint
    assert alerts[1][0]["endsAt"] > alerts[0][0]["endsAt"]
    _step(session, rt, [signal(1, "s", 5, None, minutes(3))], minutes(3))
    resolved = vendor.bodies("/api/v2/alerts")[-1][0]
    assert resolved["endsAt"] == "2026-11-01T06:03:00Z"
    rows = session.execute(select(OutboxNotification.receiver, OutboxNotification.action,
                                  OutboxNotification.status, OutboxNotification.last_error)
                           .where(OutboxNotification.action == "resolve")
                           .order_by(OutboxNotification.receiver)).all()
    assert rows == [("am", "resolve", "delivered", None),
                    ("quiet", "resolve", "skipped", "send_resolved is off for this receiver")]


def test_stuck_run_opens_and_resolves_by_itself(api, session, vendor):
    rt = make_runtime(routing_yaml(vendor.url), stuck_run_after=timedelta(hours=6))
    run = new_run_id()
    facets = {"ownership": {"_producer": "x", "_schemaURL": "x",
                            "owners": [{"name": "team:etl"}]}}
    post(api, run_event("START", run, "nightly", at=0, job_facets=facets))
    _received_at(session, minutes(0))
    assert detect_stuck_runs(session, minutes(5 * 60), rt) == ([], [])
    opened, _ = detect_stuck_runs(session, minutes(6 * 60 + 1), rt)
    session.commit()
    incident = session.get(Incident, opened[0])
    assert (incident.kind, incident.severity, incident.owner) == ("stuck_run", "ticket", "team:etl")
    assert incident.title == "Run of pipelines/nightly stuck in RUNNING for 6.0 h"
    assert detect_stuck_runs(session, minutes(7 * 60), rt) == ([], [])  # opened once
    post(api, run_event("COMPLETE", run, "nightly", at=7 * 60))
    assert detect_stuck_runs(session, minutes(7 * 60 + 1), rt) == ([], [incident.id])
    session.commit()
    deliver_due(session, minutes(7 * 60 + 1), runtime=rt)
    assert _sent(vendor) == [("slack", "TICKET"), ("slack", "RESOLVED")]


def test_a_streaming_run_is_never_stuck(api, session, vendor):
    rt = make_runtime(routing_yaml(vendor.url), stuck_run_after=timedelta(hours=6))
    streaming = {"jobType": {"_producer": "x", "_schemaURL": "x", "processingType": "STREAMING",
                             "integration": "FLINK", "jobType": "JOB"}}
    post(api, run_event("START", new_run_id(), "clickstream", at=0, job_facets=streaming))
    post(api, run_event("START", new_run_id(), "nightly", at=0))
    _received_at(session, minutes(0))
    opened, _ = detect_stuck_runs(session, minutes(48 * 60), rt)
    session.commit()
    titles = [session.get(Incident, i).title for i in opened]
    assert titles == ["Run of pipelines/nightly stuck in RUNNING for 48.0 h"]


def test_breaking_schema_change_notifies_downstream_owners(api, session, vendor):
    routes = """  - name: bob
    match: {owner: bob}
    receivers: [hook]
    continue: true
  - name: data
    match: {team: nobody}
    receivers: [pd]
"""
    rt = make_runtime(routing_yaml(vendor.url, routes=routes))

    def detect():
        found = detect_schema_changes(session, utcnow(), rt)
        session.commit()
        return found

    opened = breaking_orders_change(api, detect, {"report": "bob"})
    assert len(opened) == 1
    assert detect_schema_changes(session, utcnow(), rt) == []  # same version: once
    incident = session.get(Incident, opened[0])
    assert incident.title == ("Breaking schema change on warehouse/orders: removed note; "
                              "retyped amount (int → decimal(10,2))")
    assert incident.labels["downstream_owners"] == "bob"
    deliver_due(session, utcnow(), runtime=rt)
    hook = vendor.bodies("/hook")
    assert len(hook) == 1 and hook[0]["notification"]["kind"] == "schema_change"
    assert {"name": "warehouse/report_out", "owner": "bob", "slo": None} in (
        hook[0]["notification"]["impacted"])
    assert [b["text"][:8] for b in vendor.bodies("/slack/hook")] == ["[TICKET]"]


def test_breaking_changes_rules():
    old = [{"name": "a", "type": "int"}, {"name": "b", "type": "STRING"}]
    assert breaking_changes(old, [*old, {"name": "c", "type": "int"}]) == {}
    assert breaking_changes(old, [{"name": "a", "type": "INT"}, {"name": "b",
                                                                  "type": "string"}]) == {}
    assert breaking_changes(old, [{"name": "a", "type": None}]) == {
        "removed": ["b"], "retyped": []}


def test_excluded_intervals_for_the_slo_side(session):
    sync_config_windows(session, [
        WindowSpec(name="warehouse-vacuum", match={"namespace": "warehouse"},
                   cron="0 2 * * *", timezone="Europe/Paris", duration=3600,
                   exclude_budget=True),
        WindowSpec(name="muted-only", match={"namespace": "warehouse"},
                   cron="0 12 * * *", duration=3600, exclude_budget=False),
        WindowSpec(name="migration", match_re={"team": "pay.*"},
                   start=datetime(2026, 7, 1, 22, tzinfo=UTC),
                   end=datetime(2026, 7, 2, 1, tzinfo=UTC), exclude_budget=True),
    ], utcnow())
    session.commit()
    start, end = datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 7, 3, tzinfo=UTC)
    labels = {"namespace": "warehouse", "team": "payments", "slo": "orders"}
    assert excluded_intervals(session, labels, start, end) == [
        (datetime(2026, 7, 1, 0, tzinfo=UTC), datetime(2026, 7, 1, 1, tzinfo=UTC)),
        (datetime(2026, 7, 1, 22, tzinfo=UTC), datetime(2026, 7, 2, 1, tzinfo=UTC)),
    ]
    assert excluded_intervals(session, {"namespace": "lake"}, start, end) == []


def test_a_replayed_history_does_not_look_stuck(api, session, vendor):
    """Runs that started long ago by their events, but that we learned of just now: the
    rest of the replay (their COMPLETE) is moments away, so nothing opens yet."""
    rt = make_runtime(routing_yaml(vendor.url), stuck_run_after=timedelta(hours=6))
    post(api, run_event("START", new_run_id(), "nightly", at=0))
    received = minutes(47 * 60)
    _received_at(session, received)
    assert detect_stuck_runs(session, minutes(48 * 60), rt) == ([], [])
    opened, _ = detect_stuck_runs(session, received + timedelta(hours=6, minutes=1), rt)
    assert len(opened) == 1


def _received_at(session, at: datetime) -> None:
    """Date the runs' arrival (created_at) back to the test's timeline: ingestion stamps
    the wall clock, while these tests run on a fixed calendar."""
    session.execute(update(Run).values(created_at=at))
    session.commit()
