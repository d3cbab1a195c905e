"""PagerDuty and Slack send exactly the requests their vendors document, to real local servers."""

from __future__ import annotations

import json

from alerting_support import ENDED, LABELS, LINKS, SUMMARY, TITLE, json_body

from app.alerts.receivers import (
    Action,
    Outcome,
    Severity,
    build_receiver,
)

# --- PagerDuty -------------------------------------------------------------


def _pagerduty(server, clock, **extra):
    config = {
        "type": "pagerduty",
        "name": "pd",
        "url": f"{server.url}/v2/enqueue",
        "routing_key": "pd-routing-key-123",
        **extra,
    }
    return build_receiver(config, clock=clock)


def test_pagerduty_trigger_body(server, client, clock, make_notification):
    server.reply(202, '{"status":"success","message":"Event processed","dedup_key":"k"}')
    receiver = _pagerduty(server, clock, client_url="https://dataslo.example")

    result = receiver.send(make_notification(), client)

    assert result.outcome is Outcome.DELIVERED
    assert result.status_code == 202
    assert result.remote_id == "k"
    assert server.last.path == "/v2/enqueue"
    assert json_body(server.last) == {
        "routing_key": "pd-routing-key-123",
        "event_action": "trigger",
        "dedup_key": "slo:orders-freshness:page",
        "payload": {
            "summary": TITLE,
            "source": "dataslo",
            "severity": "critical",
            "timestamp": "2024-05-01T11:00:00Z",
            "class": "slo_burn",
            "component": "orders-freshness",
            "group": "payments",
            "custom_details": {
                "summary": SUMMARY,
                "slo": "orders-freshness",
                "severity": "page",
                "labels": LABELS,
                "burn_rates": {"1h": 20.0, "5m": 20.0},
                "budget_remaining": 0.9722,
                "root_cause": "job etl.load_orders failed at 10:58",
                "incident_id": "inc-7",
                "impacted": [
                    {"name": "warehouse.orders", "owner": "alice", "slo": "orders-freshness"},
                    {"name": "bi.revenue_daily", "owner": "bob", "slo": None},
                ],
                "impacted_total": 2,
            },
        },
        "links": LINKS,
        "client": "dataslo",
        "client_url": "https://dataslo.example",
    }


def test_pagerduty_acknowledge_and_resolve_carry_only_the_key(
    server, client, clock, make_notification
):
    receiver = _pagerduty(server, clock)
    server.reply(202, '{"status":"success"}')
    server.reply(202, '{"status":"success"}')

    ack = receiver.send(make_notification(action=Action.ACKNOWLEDGE), client)
    res = receiver.send(make_notification(action=Action.RESOLVE, ended_at=ENDED), client)

    assert ack.ok and res.ok
    bodies = [json.loads(r.body) for r in server.requests]
    assert bodies == [
        {
            "routing_key": "pd-routing-key-123",
            "dedup_key": "slo:orders-freshness:page",
            "event_action": action,
        }
        for action in ("acknowledge", "resolve")
    ]


def test_pagerduty_limits_and_severity_mapping(server, client, clock, make_notification):
    receiver = _pagerduty(server, clock)
    long_key = "slo:" + "x" * 400
    other_long_key = "slo:" + "x" * 399 + "y"
    notification = make_notification(dedup_key=long_key, severity=Severity.TICKET, title="t" * 2000)

    receiver.send(notification, client)
    receiver.send(make_notification(dedup_key=other_long_key), client)
    receiver.send(make_notification(dedup_key=long_key, action=Action.RESOLVE), client)

    first, second, resolve = (json.loads(r.body) for r in server.requests)
    assert first["payload"]["severity"] == "warning"
    assert len(first["payload"]["summary"]) == 1024
    assert first["payload"]["summary"].endswith("…")
    assert len(first["dedup_key"]) <= 255
    # Long keys stay distinct and map to the same value on resolve.
    assert first["dedup_key"] != second["dedup_key"]
    assert resolve["dedup_key"] == first["dedup_key"]


# --- Slack -----------------------------------------------------------------


def test_slack_message_blocks(server, client, clock, make_notification):
    server.reply(200, "ok")
    receiver = build_receiver(
        {"type": "slack", "name": "chat", "webhook_url": f"{server.url}/services/T0/B0/tok3n"},
        clock=clock,
    )

    result = receiver.send(make_notification(summary="a < b & c > d"), client)

    assert result.outcome is Outcome.DELIVERED and result.status_code == 200
    assert server.last.path == "/services/T0/B0/tok3n"
    assert json_body(server.last) == {
        "text": f"[PAGE] {TITLE} — a < b & c > d",
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": f":rotating_light: PAGE: {TITLE}",
                    "emoji": True,
                },
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": "a &lt; b &amp; c &gt; d"}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*SLO*\norders-freshness"},
                    {"type": "mrkdwn", "text": "*Severity*\npage"},
                    {"type": "mrkdwn", "text": "*Burn rate*\n5m 20× · 1h 20×"},
                    {"type": "mrkdwn", "text": "*Budget left*\n97.22%"},
                    {"type": "mrkdwn", "text": "*Owner*\nalice"},
                    {"type": "mrkdwn", "text": "*Team*\npayments"},
                    {"type": "mrkdwn", "text": "*Tier*\n1"},
                    {"type": "mrkdwn", "text": "*Namespace*\nprod"},
                ],
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Root cause*\njob etl.load_orders failed at 10:58",
                },
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Impact* (2 affected)\n"
                    "• warehouse.orders (SLO orders-freshness) — owner alice\n"
                    "• bi.revenue_daily — owner bob",
                },
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "<https://dataslo.example/slo/orders-freshness|SLO>",
                },
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "key `slo:orders-freshness:page` · started 2024-05-01T11:00:00Z",
                    }
                ],
            },
        ],
    }


def test_slack_resolve_and_impact_cap(server, client, clock, make_notification):
    from app.alerts.receivers import ImpactedAsset

    receiver = build_receiver(
        {"type": "slack", "name": "chat", "webhook_url": f"{server.url}/hook", "max_impacted": 2},
        clock=clock,
    )
    impacted = tuple(ImpactedAsset(f"ds{i}", f"owner{i}") for i in range(5))

    receiver.send(
        make_notification(action=Action.RESOLVE, ended_at=ENDED, impacted=impacted), client
    )

    body = json_body(server.last)
    assert body["text"].startswith(f"[RESOLVED] {TITLE}")
    assert body["blocks"][0]["text"]["text"] == f":white_check_mark: RESOLVED: {TITLE}"
    impact = body["blocks"][4]["text"]["text"]
    assert impact == (
        "*Impact* (5 affected)\n• ds0 — owner owner0\n• ds1 — owner owner1\n• … and 3 more"
    )
    assert body["blocks"][-1]["elements"][0]["text"].endswith("ended 2024-05-01T11:45:00Z")
