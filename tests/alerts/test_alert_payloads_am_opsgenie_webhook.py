"""Alertmanager, Opsgenie and the webhook send exactly the documented requests, to real local servers."""

from __future__ import annotations

import json

from alerting_support import ENDED, LABELS, LINKS, NOW, SUMMARY, TITLE, json_body

from app.alerts.receivers import (
    Action,
    Outcome,
    Severity,
    build_receiver,
    verify_signature,
)

# --- Alertmanager ----------------------------------------------------------


def _alertmanager(server, clock, **extra):
    return build_receiver(
        {"type": "alertmanager", "name": "am", "url": server.url, **extra}, clock=clock
    )


def test_alertmanager_firing_alert(server, client, clock, make_notification):
    receiver = _alertmanager(server, clock, resend_interval=30, extra_labels={"env": "prod"})

    result = receiver.send(make_notification(labels={**LABELS, "data-set": "orders"}), client)

    assert result.outcome is Outcome.DELIVERED
    assert receiver.resend_interval == 30
    assert server.last.path == "/api/v2/alerts"
    assert "authorization" not in server.last.headers
    assert json_body(server.last) == [
        {
            "labels": {
                "alertname": "dataslo_slo_burn",
                "severity": "page",
                "slo": "orders-freshness",
                "dedup_key": "slo:orders-freshness:page",
                "owner": "alice",
                "team": "payments",
                "tier": "1",
                "namespace": "prod",
                "data_set": "orders",
                "env": "prod",
            },
            "annotations": {
                "summary": TITLE,
                "description": SUMMARY,
                "burn_rates": "5m 20× · 1h 20×",
                "budget_remaining": "97.22%",
                "root_cause": "job etl.load_orders failed at 10:58",
                "impacted": "warehouse.orders (SLO orders-freshness) — owner alice\n"
                "bi.revenue_daily — owner bob",
                "links": "SLO: https://dataslo.example/slo/orders-freshness",
                "incident_id": "inc-7",
            },
            "startsAt": "2024-05-01T11:00:00Z",
            # now (12:00) + 4 * 30 s: survives three missed re-sends.
            "endsAt": "2024-05-01T12:02:00Z",
            "generatorURL": "https://dataslo.example/slo/orders-freshness",
        }
    ]


def test_alertmanager_resolve_ack_and_token(server, client, clock, make_notification):
    receiver = _alertmanager(server, clock, bearer_token="am-token-xyz")

    resolved_at_end = receiver.send(
        make_notification(action=Action.RESOLVE, ended_at=ENDED), client
    )
    resolved_now = receiver.send(make_notification(action=Action.RESOLVE), client)
    ack = receiver.send(make_notification(action=Action.ACKNOWLEDGE), client)

    assert resolved_at_end.ok and resolved_now.ok
    assert ack.outcome is Outcome.SKIPPED
    assert len(server.requests) == 2  # acknowledge sent nothing
    first, second = (json.loads(r.body)[0] for r in server.requests)
    assert first["endsAt"] == "2024-05-01T11:45:00Z"
    assert second["endsAt"] == NOW.isoformat().replace("+00:00", "Z")
    assert first["labels"] == second["labels"]  # same fingerprint as the firing alert
    assert server.last.headers["authorization"] == "Bearer am-token-xyz"


# --- Opsgenie --------------------------------------------------------------


def _opsgenie(server, clock, **extra):
    return build_receiver(
        {
            "type": "opsgenie",
            "name": "og",
            "url": server.url,
            "api_key": "og-api-key-456",
            **extra,
        },
        clock=clock,
    )


def test_opsgenie_create(server, client, clock, make_notification):
    server.reply(202, '{"result":"Request will be processed","took":0.1,"requestId":"req-1"}')
    receiver = _opsgenie(
        server, clock, responders=[{"type": "team", "name": "payments"}], tags=["data"]
    )

    result = receiver.send(make_notification(title="x" * 200), client)

    assert result.outcome is Outcome.DELIVERED
    assert result.status_code == 202 and result.remote_id == "req-1"
    assert server.last.path == "/v2/alerts"
    assert server.last.headers["authorization"] == "GenieKey og-api-key-456"
    assert json_body(server.last) == {
        "message": "x" * 129 + "…",
        "alias": "slo:orders-freshness:page",
        "description": (
            f"{SUMMARY}\n\n"
            "Burn rate: 5m 20× · 1h 20×\nBudget left: 97.22%\n\n"
            "Root cause: job etl.load_orders failed at 10:58\n\n"
            "Impact:\n- warehouse.orders (SLO orders-freshness) — owner alice\n"
            "- bi.revenue_daily — owner bob\n\n"
            "SLO: https://dataslo.example/slo/orders-freshness"
        ),
        "details": {
            "label.owner": "alice",
            "label.team": "payments",
            "label.tier": "1",
            "label.namespace": "prod",
            "burn_rate.1h": "20",
            "burn_rate.5m": "20",
            "slo": "orders-freshness",
            "severity": "page",
            "kind": "slo_burn",
            "budget_remaining": "0.9722",
            "root_cause": "job etl.load_orders failed at 10:58",
            "incident_id": "inc-7",
            "dedup_key": "slo:orders-freshness:page",
            "started_at": "2024-05-01T11:00:00Z",
        },
        "source": "dataslo",
        "user": "dataslo",
        "tags": [
            "dataslo",
            "severity:page",
            "data",
            "slo:orders-freshness",
            "team:payments",
            "owner:alice",
            "tier:1",
        ],
        "priority": "P1",
        "entity": "orders-freshness",
        "responders": [{"type": "team", "name": "payments"}],
    }


def test_opsgenie_acknowledge_and_close_by_alias(server, client, clock, make_notification):
    receiver = _opsgenie(server, clock)
    key = "slo:orders/freshness:ticket"

    receiver.send(make_notification(dedup_key=key, action=Action.ACKNOWLEDGE), client)
    receiver.send(make_notification(dedup_key=key, action=Action.RESOLVE, ended_at=ENDED), client)

    ack, close = server.requests
    assert (
        ack.path == "/v2/alerts/slo%3Aorders%2Ffreshness%3Aticket/acknowledge?identifierType=alias"
    )
    assert close.path == "/v2/alerts/slo%3Aorders%2Ffreshness%3Aticket/close?identifierType=alias"
    assert json.loads(ack.body) == {"source": "dataslo", "user": "dataslo", "note": "Acknowledged"}
    assert json.loads(close.body) == {
        "source": "dataslo",
        "user": "dataslo",
        "note": "Recovered at 2024-05-01T11:45:00Z",
    }
    assert close.headers["authorization"] == "GenieKey og-api-key-456"


def test_opsgenie_ticket_priority(server, client, clock, make_notification):
    receiver = _opsgenie(server, clock, priority_map={"page": "P2", "ticket": "P4"})

    receiver.send(make_notification(severity=Severity.TICKET), client)

    assert json_body(server.last)["priority"] == "P4"


# --- Generic webhook -------------------------------------------------------


def test_webhook_body_signature_and_idempotency_key(server, client, clock, make_notification):
    secret = "whsec-shared-789"
    receiver = build_receiver(
        {
            "type": "webhook",
            "name": "hook",
            "url": f"{server.url}/incoming",
            "secret": secret,
            "headers": {"X-Tenant": "acme"},
        },
        clock=clock,
    )
    notification = make_notification()

    result = receiver.send(notification, client)

    assert result.outcome is Outcome.DELIVERED
    sent = server.last
    assert sent.path == "/incoming"
    assert sent.headers["idempotency-key"] == "outbox-42"
    assert sent.headers["x-tenant"] == "acme"
    assert verify_signature(secret, sent.body, sent.headers["x-dataslo-signature"])
    assert not verify_signature("wrong-secret", sent.body, sent.headers["x-dataslo-signature"])
    assert not verify_signature(secret, sent.body + b" ", sent.headers["x-dataslo-signature"])
    assert secret not in sent.body.decode()
    assert json_body(sent) == {
        "version": 1,
        "receiver": "hook",
        "sent_at": "2024-05-01T12:00:00Z",
        "notification": {
            "dedup_key": "slo:orders-freshness:page",
            "idempotency_key": "outbox-42",
            "action": "trigger",
            "severity": "page",
            "kind": "slo_burn",
            "title": TITLE,
            "summary": SUMMARY,
            "slo": "orders-freshness",
            "incident_id": "inc-7",
            "labels": LABELS,
            "burn_rates": {"1h": 20.0, "5m": 20.0},
            "budget_remaining": 0.9722,
            "root_cause": "job etl.load_orders failed at 10:58",
            "impacted": [
                {"name": "warehouse.orders", "owner": "alice", "slo": "orders-freshness"},
                {"name": "bi.revenue_daily", "owner": "bob", "slo": None},
            ],
            "links": LINKS,
            "started_at": "2024-05-01T11:00:00+00:00",
            "ended_at": None,
        },
    }


def test_webhook_retry_keeps_idempotency_key(server, client, clock, make_notification):
    import hashlib
    import hmac

    server.reply(503)
    receiver = build_receiver(
        {"type": "webhook", "name": "hook", "url": server.url, "secret": "s3cr3t-value"},
        clock=clock,
    )
    notification = make_notification()

    first = receiver.send(notification, client)
    second = receiver.send(notification, client)

    assert (first.ok, first.retryable, second.ok) == (False, True, True)
    keys = {r.headers["idempotency-key"] for r in server.requests}
    assert keys == {"outbox-42"}
    for recorded in server.requests:
        expected = hmac.new(b"s3cr3t-value", recorded.body, hashlib.sha256).hexdigest()
        assert recorded.headers["x-dataslo-signature"] == f"sha256={expected}"
