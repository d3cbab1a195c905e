"""The Notification survives the outbox (JSON round trip) and rejects bad values early."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.alerts.receivers import (
    Action,
    DeliveryResult,
    ImpactedAsset,
    Link,
    Notification,
    Outcome,
    Severity,
)

text = st.text(min_size=1, max_size=40)
aware = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)

notifications = st.builds(
    Notification,
    dedup_key=text.filter(str.strip),
    idempotency_key=st.from_regex(r"[!-~]{1,40}", fullmatch=True),
    action=st.sampled_from(Action),
    severity=st.sampled_from(Severity),
    title=st.text(max_size=80),
    summary=st.text(max_size=200),
    started_at=aware,
    ended_at=st.none() | aware,
    slo=st.none() | text,
    kind=st.sampled_from(["slo_burn", "schema_change", "stuck_run"]),
    labels=st.dictionaries(text, text, max_size=5),
    burn_rates=st.dictionaries(
        st.sampled_from(["5m", "30m", "1h", "6h", "1d"]),
        st.floats(min_value=0, max_value=1e6),
        max_size=5,
    ),
    budget_remaining=st.none() | st.floats(min_value=-100, max_value=1),
    root_cause=st.none() | text,
    impacted=st.lists(
        st.builds(ImpactedAsset, name=text, owner=st.none() | text, slo=st.none() | text),
        max_size=4,
    ).map(tuple),
    links=st.lists(st.builds(Link, href=text, text=text), max_size=3).map(tuple),
    incident_id=st.none() | text,
)


@settings(deadline=None)
@given(notifications)
def test_json_round_trip(notification):
    stored = json.dumps(notification.to_dict())

    assert Notification.from_dict(json.loads(stored)) == notification


def test_values_are_coerced_and_copied(make_notification):
    labels = {"owner": "alice"}
    notification = make_notification(action="resolve", severity="ticket", labels=labels)
    labels["owner"] = "mallory"

    assert notification.action is Action.RESOLVE
    assert notification.severity is Severity.TICKET
    assert notification.labels == {"owner": "alice"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dedup_key": "  "}, "dedup_key"),
        ({"idempotency_key": "has space"}, "idempotency_key"),
        ({"idempotency_key": "ключ"}, "idempotency_key"),
        ({"idempotency_key": "x" * 256}, "idempotency_key"),
        ({"started_at": datetime(2024, 5, 1, 11)}, "timezone-aware"),
        ({"ended_at": datetime(2024, 5, 1, 11)}, "timezone-aware"),
        ({"action": "escalate"}, "escalate"),
        ({"severity": "sev1"}, "sev1"),
    ],
)
def test_invalid_notifications_fail_on_construction(make_notification, overrides, message):
    with pytest.raises(ValueError, match=message):
        make_notification(**overrides)


def test_other_timezones_are_rendered_in_utc(server, client, clock, make_notification):
    from app.alerts.receivers import build_receiver

    paris = timezone(timedelta(hours=2))
    receiver = build_receiver(
        {"type": "pagerduty", "name": "pd", "url": server.url, "routing_key": "tz-key-0001"},
        clock=clock,
    )

    receiver.send(make_notification(started_at=datetime(2024, 5, 1, 13, 0, tzinfo=paris)), client)

    assert json.loads(server.last.body)["payload"]["timestamp"] == "2024-05-01T11:00:00Z"


def test_delivery_result_constructors():
    delivered = DeliveryResult.delivered(status_code=202, latency=0.1, remote_id="abc")
    skipped = DeliveryResult.skipped("nothing to do")
    failed = DeliveryResult.failed(retryable=True, error="HTTP 503", status_code=503, retry_after=2)

    assert (delivered.outcome, delivered.ok, delivered.remote_id) == (
        Outcome.DELIVERED,
        True,
        "abc",
    )
    assert (skipped.outcome, skipped.ok, skipped.error) == (Outcome.SKIPPED, True, "nothing to do")
    assert (failed.outcome, failed.ok, failed.retryable, failed.retry_after) == (
        Outcome.FAILED,
        False,
        True,
        2,
    )
