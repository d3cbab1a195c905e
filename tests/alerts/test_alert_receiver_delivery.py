"""How every receiver classifies what the far end did: the delivery worker's only input."""

from __future__ import annotations

import httpx
import pytest

from app.alerts.receivers import Action, Outcome, build_receiver

KINDS = ["pagerduty", "slack", "alertmanager", "opsgenie", "webhook"]


def _config(kind: str, base: str) -> dict:
    common = {"type": kind, "name": f"{kind}-test"}
    return {
        "pagerduty": {**common, "url": f"{base}/v2/enqueue", "routing_key": "pd-key-0001"},
        "slack": {**common, "webhook_url": f"{base}/services/T/B/slacktoken1"},
        "alertmanager": {**common, "url": base},
        "opsgenie": {**common, "url": base, "api_key": "og-key-0001"},
        "webhook": {**common, "url": f"{base}/hook", "secret": "hook-secret-1"},
    }[kind]


@pytest.fixture
def receiver_for(clock):
    def make(kind: str, base: str, **extra):
        return build_receiver({**_config(kind, base), **extra}, clock=clock)

    return make


SUCCESS = {
    "pagerduty": (202, '{"status":"success","dedup_key":"slo:orders-freshness:page"}'),
    "slack": (200, "ok"),
    "alertmanager": (200, ""),
    "opsgenie": (202, '{"result":"Request will be processed","requestId":"r-1"}'),
    "webhook": (204, ""),
}


@pytest.mark.parametrize("kind", KINDS)
def test_vendor_success_is_delivered(kind, server, client, receiver_for, make_notification):
    status, body = SUCCESS[kind]
    server.reply(status, body)

    result = receiver_for(kind, server.url).send(make_notification(), client)

    assert result.outcome is Outcome.DELIVERED
    assert result.ok and not result.retryable
    assert result.status_code == status
    assert result.error is None
    assert result.latency > 0
    assert len(server.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_bad_request_is_permanent(kind, server, client, receiver_for, make_notification):
    server.reply(400, '{"status":"invalid event","errors":["summary is missing"]}')

    result = receiver_for(kind, server.url).send(make_notification(), client)

    assert result.outcome is Outcome.FAILED
    assert result.retryable is False
    assert result.status_code == 400
    assert result.retry_after is None
    assert result.error == 'HTTP 400: {"status":"invalid event","errors":["summary is missing"]}'


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_slack_documented_errors_are_permanent(
    status, server, client, receiver_for, make_notification
):
    server.reply(status, "invalid_token")

    result = receiver_for("slack", server.url).send(make_notification(), client)

    assert (result.ok, result.retryable, result.status_code) == (False, False, status)
    assert result.error == f"HTTP {status}: invalid_token"


@pytest.mark.parametrize("kind", KINDS)
def test_rate_limited_is_retryable_with_retry_after_seconds(
    kind, server, client, receiver_for, make_notification
):
    server.reply(429, "rate limited", **{"Retry-After": "7"})

    result = receiver_for(kind, server.url).send(make_notification(), client)

    assert result.outcome is Outcome.FAILED
    assert result.retryable is True
    assert result.status_code == 429
    assert result.retry_after == 7.0


def test_retry_after_http_date_is_relative_to_the_clock(
    server, client, receiver_for, make_notification
):
    # The `clock` fixture says 12:00:00 UTC; the server asks for 12:00:30.
    server.reply(429, "", **{"Retry-After": "Wed, 01 May 2024 12:00:30 GMT"})

    result = receiver_for("slack", server.url).send(make_notification(), client)

    assert result.retryable and result.retry_after == 30.0


def test_unparseable_retry_after_is_ignored(server, client, receiver_for, make_notification):
    server.reply(429, "", **{"Retry-After": "soon"})

    result = receiver_for("pagerduty", server.url).send(make_notification(), client)

    assert result.retryable and result.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("kind", KINDS)
def test_server_errors_are_retryable(kind, status, server, client, receiver_for, make_notification):
    server.reply(status, "upstream down")

    result = receiver_for(kind, server.url).send(make_notification(), client)

    assert (result.ok, result.retryable, result.status_code) == (False, True, status)
    assert result.error == f"HTTP {status}: upstream down"


@pytest.mark.parametrize("kind", KINDS)
def test_connection_refused_is_retryable(
    kind, refused_url, client, receiver_for, make_notification
):
    result = receiver_for(kind, refused_url).send(make_notification(), client)

    assert result.outcome is Outcome.FAILED
    assert result.retryable is True
    assert result.status_code is None
    assert result.error.startswith("ConnectError")


def test_timeout_is_retryable(server, receiver_for, make_notification, tls_context):
    server.reply(202, "{}", delay=1.0)
    with httpx.Client(timeout=0.2, verify=tls_context) as short:
        result = receiver_for("pagerduty", server.url).send(make_notification(), short)

    assert result.retryable is True and result.status_code is None
    assert result.error.startswith("ReadTimeout")
    assert 0.15 < result.latency < 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_send_resolved_off_skips_without_a_request(
    kind, server, client, receiver_for, make_notification
):
    receiver = receiver_for(kind, server.url, send_resolved=False)

    resolved = receiver.send(make_notification(action=Action.RESOLVE), client)
    fired = receiver.send(make_notification(), client)

    assert resolved.outcome is Outcome.SKIPPED and resolved.ok
    assert fired.outcome is Outcome.DELIVERED
    assert len(server.requests) == 1


def test_resend_interval_only_for_alertmanager(server, receiver_for):
    intervals = {kind: receiver_for(kind, server.url).resend_interval for kind in KINDS}

    assert intervals == {
        "pagerduty": None,
        "slack": None,
        "alertmanager": 60.0,
        "opsgenie": None,
        "webhook": None,
    }
