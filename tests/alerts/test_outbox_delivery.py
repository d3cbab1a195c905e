"""The delivery worker against real local HTTP servers: outage and recovery, order,
no duplicates, Retry-After, permanent errors, rate limits, silences, audit trail."""

from __future__ import annotations

from datetime import timedelta

from alerting_support import make_runtime, minutes, routing_yaml
from sqlalchemy import func, select

from app.alerts.delivery import deliver_due
from app.alerts.lifecycle import acknowledge, open_incident, resolve
from app.alerts.maintenance import create_window
from app.alerts.matchers import Matcher
from app.alerts.receivers import verify_signature
from app.alerts.routing import WindowSpec
from app.alerts.silences import create_silence
from app.store.alert_models import DeliveryAttempt, IncidentEvent, OutboxNotification

ALL = """
  - name: everything
    receivers: [pd, hook]
"""


def _open(session, rt, n, at, severity="page", team="data"):
    out = []
    for i in range(n):
        out.append(open_incident(
            session, rt, kind="slo_burn", root_key=f"dataset:{i + 1}", severity=severity,
            title=f"SLO s{i} burning", now=at,
            root_cause={"kind": "dataset", "id": i + 1, "namespace": "warehouse",
                        "name": f"t{i}", "reason": f"SLO s{i} burning"},
            labels={"team": team, "owner": f"o{i}", "slo": f"s{i}"}, slo_name=f"s{i}"))
    session.commit()
    return out


def _drain(session, rt, start, step=timedelta(seconds=15), ticks=200):
    now = start
    for _ in range(ticks):
        deliver_due(session, now, runtime=rt)
        pending = session.scalar(select(func.count()).where(
            OutboxNotification.status.in_(("pending", "sending"))))
        if not pending:
            return now
        now += step
    left = session.execute(select(OutboxNotification.id, OutboxNotification.receiver,
                                  OutboxNotification.status, OutboxNotification.next_attempt_at,
                                  OutboxNotification.claimed_until)
                           .where(OutboxNotification.status.in_(("pending", "sending")))).all()
    raise AssertionError(f"outbox did not drain by {now}: {left}")


def test_receiver_down_ten_minutes_gets_everything_in_order_once(session, vendor):
    rt = make_runtime(routing_yaml(vendor.url, routes=ALL), retry_cap=60.0)
    vendor.stop()
    t0 = minutes(0)
    incidents = _open(session, rt, 3, t0)
    acknowledge(session, rt, incidents[0].id, "alice", t0 + timedelta(minutes=1))
    resolve(session, rt, incidents[0], t0 + timedelta(minutes=2), reason="fixed")
    resolve(session, rt, incidents[1], t0 + timedelta(minutes=3), reason="fixed")
    session.commit()
    now = t0
    while now < t0 + timedelta(minutes=10):  # ten minutes of refused connections
        deliver_due(session, now, runtime=rt)
        now += timedelta(seconds=15)
    assert vendor.requests == []
    failed = session.scalars(select(DeliveryAttempt)).all()
    assert failed and all(a.outcome == "failed" and a.retryable for a in failed)
    assert all("ConnectError" in a.error for a in failed)

    vendor.start()
    _drain(session, rt, now)

    queued = session.scalars(select(OutboxNotification).order_by(OutboxNotification.id)).all()
    assert {r.status for r in queued} == {"delivered"}
    for receiver, path in (("pd", "/v2/enqueue"), ("hook", "/hook")):
        for inc in incidents:
            want = [r.action for r in queued if r.receiver == receiver and r.incident_id == inc.id]
            bodies = [b if receiver == "pd" else b["notification"] for b in vendor.bodies(path)]
            key = "event_action" if receiver == "pd" else "action"
            got = [b[key] for b in bodies if b["dedup_key"] == inc.dedup_key]
            assert got == want, (receiver, inc.id)
    keys = [r.headers["idempotency-key"] for r in vendor.requests if r.path == "/hook"]
    assert sorted(keys) == sorted(r.idempotency_key for r in queued if r.receiver == "hook")
    assert len(keys) == len(set(keys)), "a notification was delivered twice"
    for r in vendor.requests:
        if r.path == "/hook":
            assert verify_signature(b"hook-secret-123", r.body, r.headers["x-dataslo-signature"])
    # Every attempt is on record: failures during the outage, then one success per row.
    for row in queued:
        attempts = session.scalars(select(DeliveryAttempt).where(
            DeliveryAttempt.outbox_id == row.id).order_by(DeliveryAttempt.attempt)).all()
        assert [a.attempt for a in attempts] == list(range(1, row.attempts + 1))
        assert attempts[-1].outcome == "delivered"
        assert all(a.outcome == "failed" for a in attempts[:-1])


def test_retry_after_is_honoured_and_attempts_recorded(session, vendor):
    rt = make_runtime(routing_yaml(vendor.url, routes="  - {receivers: [pd]}\n"))
    _open(session, rt, 1, minutes(0))
    vendor.reply(429, '{"status":"throttled"}', **{"Retry-After": "120"})
    report = deliver_due(session, minutes(0), runtime=rt)
    assert report.retrying == 1
    row = session.scalar(select(OutboxNotification))
    assert row.next_attempt_at >= minutes(2)
    deliver_due(session, minutes(1.9), runtime=rt)
    assert len(vendor.requests) == 1
    deliver_due(session, minutes(2.01), runtime=rt)
    assert len(vendor.requests) == 2
    attempts = session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
    assert [(a.outcome, a.status_code, a.retry_after) for a in attempts] == [
        ("failed", 429, 120.0), ("delivered", 202, None)]
    assert attempts[0].error == 'HTTP 429: {"status":"throttled"}'
    assert attempts[1].latency_ms > 0


def test_permanent_4xx_is_not_retried_and_does_not_block_the_stream(session, vendor):
    rt = make_runtime(routing_yaml(vendor.url, routes="  - {receivers: [pd]}\n"))
    (incident,) = _open(session, rt, 1, minutes(0))
    vendor.reply(400, '{"status":"invalid event"}')
    deliver_due(session, minutes(0), runtime=rt)
    row = session.scalar(select(OutboxNotification))
    assert (row.status, row.attempts) == ("failed", 1)
    resolve(session, rt, incident, minutes(5), reason="ok")
    session.commit()
    deliver_due(session, minutes(30), runtime=rt)
    assert len(vendor.requests) == 1  # neither a retry nor a resolve for a never-opened alert
    statuses = session.scalars(select(OutboxNotification.status).order_by(
        OutboxNotification.id)).all()
    assert statuses == ["failed", "skipped"]


def test_rate_limit_paces_a_receiver(session, vendor):
    yaml_text = routing_yaml(vendor.url, routes="  - {receivers: [slow]}\n", extra=f"""
  - name: slow
    type: slack
    webhook_url: {vendor.url}/slack/hook
    rate_limit_per_minute: 60
    rate_limit_burst: 1
""")
    rt = make_runtime(yaml_text)
    _open(session, rt, 3, minutes(0))
    report = deliver_due(session, minutes(0), runtime=rt)
    assert report.delivered == 1 and report.deferred >= 1
    deliver_due(session, minutes(0), runtime=rt)
    assert len(vendor.requests) == 1
    deliver_due(session, minutes(0) + timedelta(seconds=1), runtime=rt)
    assert len(vendor.requests) == 2


def test_silenced_and_maintenance_muted_alerts_are_recorded_not_sent(session, vendor):
    rt = make_runtime(routing_yaml(vendor.url, routes="  - {receivers: [pd]}\n"))
    t0 = minutes(0)
    silence = create_silence(session, matchers=[Matcher(name="team", value="pay.*", regex=True)],
                             starts_at=t0, ends_at=t0 + timedelta(hours=1), created_by="bob",
                             comment="deploying", now=t0)
    create_window(session, WindowSpec(name="nightly", match={"team": "warehouse"},
                                      cron="0 6 * * *", duration=3600, timezone="UTC"),
                  "ops", t0)
    (paid,) = _open(session, rt, 1, t0, team="payments")
    session.commit()
    deliver_due(session, t0, runtime=rt)
    row = session.scalar(select(OutboxNotification).where(
        OutboxNotification.incident_id == paid.id))
    assert (row.status, row.silence_id) == ("silenced", silence.id)
    assert vendor.requests == []
    events = session.scalars(select(IncidentEvent.message).where(
        IncidentEvent.incident_id == paid.id, IncidentEvent.kind == "delivery")).all()
    assert events == ["trigger to pd: silenced (silence 1 by bob)"]

    # T0 is 06:00 UTC: the nightly window (06:00-07:00) mutes the warehouse team.
    warehouse = open_incident(session, rt, kind="slo_burn", root_key="dataset:99",
                              severity="page", title="w", now=t0, root_cause={},
                              labels={"team": "warehouse"})
    session.commit()
    deliver_due(session, t0 + timedelta(minutes=5), runtime=rt)
    row = session.scalar(select(OutboxNotification).where(
        OutboxNotification.incident_id == warehouse.id))
    assert (row.status, row.last_error) == ("silenced", "maintenance window nightly")
    assert vendor.requests == []


def test_exact_webhook_and_pagerduty_bodies(session, vendor):
    rt = make_runtime(routing_yaml(vendor.url, routes=ALL))
    (incident,) = _open(session, rt, 1, minutes(0))
    deliver_due(session, minutes(0), runtime=rt)
    row = session.scalar(select(OutboxNotification).where(OutboxNotification.receiver == "hook"))
    hook = next(r for r in vendor.requests if r.path == "/hook")
    body = hook.json
    assert body.pop("sent_at").endswith("Z")
    assert body == {
        "version": 1,
        "receiver": "hook",
        "notification": {
            "dedup_key": incident.dedup_key, "idempotency_key": row.idempotency_key,
            "action": "trigger", "severity": "page", "kind": "slo_burn",
            "title": "SLO s0 burning", "summary": "SLO s0 burning", "slo": "s0",
            "incident_id": str(incident.id),
            "labels": {"team": "data", "owner": "o0", "slo": "s0"},
            "burn_rates": {}, "budget_remaining": None, "root_cause": "dataset warehouse/t0: SLO s0 burning",
            "impacted": [],
            "links": [{"href": f"http://dataslo.test/api/v1/incidents/{incident.id}",
                       "text": "Incident"}],
            "started_at": "2026-11-01T06:00:00+00:00", "ended_at": None,
        },
    }
    pd = next(r for r in vendor.requests if r.path == "/v2/enqueue")
    assert pd.json == {
        "routing_key": "pd-routing-key-1", "event_action": "trigger",
        "dedup_key": incident.dedup_key, "client": "dataslo",
        "links": [{"href": f"http://dataslo.test/api/v1/incidents/{incident.id}",
                   "text": "Incident"}],
        "payload": {
            "summary": "SLO s0 burning", "source": "dataslo", "severity": "critical",
            "timestamp": "2026-11-01T06:00:00Z", "class": "slo_burn", "component": "s0",
            "group": "data",
            "custom_details": {"summary": "SLO s0 burning", "slo": "s0", "severity": "page",
                               "labels": {"team": "data", "owner": "o0", "slo": "s0"},
                               "root_cause": "dataset warehouse/t0: SLO s0 burning",
                               "incident_id": str(incident.id)},
        },
    }


def test_resolve_goes_through_a_silence_when_the_trigger_went_out(session, vendor):
    rt = make_runtime(routing_yaml(vendor.url, routes="  - {receivers: [pd]}\n"))
    t0 = minutes(0)
    (incident,) = _open(session, rt, 1, t0)
    deliver_due(session, t0, runtime=rt)
    create_silence(session, matchers=[Matcher(name="team", value="data")], starts_at=t0,
                   ends_at=t0 + timedelta(hours=1), created_by="bob", comment="noisy", now=t0)
    resolve(session, rt, incident, t0 + timedelta(minutes=1), reason="ok")
    session.commit()
    deliver_due(session, t0 + timedelta(minutes=1), runtime=rt)
    assert [b["event_action"] for b in vendor.bodies("/v2/enqueue")] == ["trigger", "resolve"]
