"""The routing file: matching rules, and errors located by file, line and field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.alerts.maintenance import merge, occurrences
from app.alerts.matchers import Matcher, parse_expression
from app.alerts.routing import RoutingValidationError, load_routing, parse_duration
from app.store.alert_models import MaintenanceWindow

ROUTING = """\
receivers:
  - name: pd-payments
    type: pagerduty
    routing_key_env: PD_KEY
  - name: slack-payments
    type: slack
    webhook_url: http://127.0.0.1:9/hook
  - name: slack-data
    type: slack
    webhook_url: http://127.0.0.1:9/data
  - name: am
    type: alertmanager
    url: http://127.0.0.1:9093
routes:
  - name: payments-pages
    match: {team: payments, severity: page}
    match_re: {tier: "1|2"}
    receivers: [pd-payments, slack-payments]
    repeat_interval: 30m
    continue: true
  - name: payments
    match: {team: payments}
    receivers: [slack-payments]
  - name: everything-to-am
    match_re: {slo: ".+"}
    receivers: [am]
default:
  receivers: [slack-data]
  repeat_interval: 4h
"""


@pytest.fixture
def routing():
    return load_routing(ROUTING, "routes.yaml", environ={"PD_KEY": "k-123456789"})


def _names(targets):
    return [(t.receiver, t.route, t.repeat_seconds) for t in targets]


def test_first_match_continue_and_default(routing):
    page = {"team": "payments", "severity": "page", "tier": "1", "slo": "orders"}
    assert _names(routing.targets(page)) == [
        ("pd-payments", "payments-pages", 1800.0),
        ("slack-payments", "payments-pages", 1800.0),
    ]  # continue: the next route matches too, but adds nothing new and stops there
    ticket = {**page, "severity": "ticket"}
    assert _names(routing.targets(ticket)) == [("slack-payments", "payments", None)]
    tier3 = {**page, "tier": "3"}  # regex must match the whole value
    assert _names(routing.targets(tier3)) == [("slack-payments", "payments", None)]
    assert _names(routing.targets({"team": "data", "slo": "x"})) == [
        ("am", "everything-to-am", None)]
    assert _names(routing.targets({"team": "data"})) == [("slack-data", "default", 14400.0)]


def test_receivers_are_built_with_secrets_from_the_environment(routing):
    assert sorted(routing.receivers) == ["am", "pd-payments", "slack-data", "slack-payments"]
    assert "k-123456789" not in repr(routing.receivers)


def test_missing_secret_is_a_load_error_on_its_line():
    with pytest.raises(RoutingValidationError) as err:
        load_routing(ROUTING, "routes.yaml", environ={})
    assert [str(p) for p in err.value.problems] == [
        "routes.yaml:2: receivers[0]: routing_key: environment variable PD_KEY is not set or empty"]


def test_every_problem_is_reported_with_file_line_and_field():
    text = ROUTING.replace("    continue: true\n", "    continue: true\n    recievers: []\n")
    text = text.replace("receivers: [slack-payments]\n", "receivers: [slack-paymnts]\n")
    with pytest.raises(RoutingValidationError) as err:
        load_routing(text, "routes.yaml", environ={"PD_KEY": "k-123456789"})
    assert [str(p) for p in err.value.problems] == [
        "routes.yaml:21: routes[0].recievers: unknown field"]

    text = ROUTING.replace("receivers: [slack-payments]\n", "receivers: [slack-paymnts]\n")
    text += """maintenance_windows:
  - name: vacuum
    cron: "0 2 * * 7x"
    timezone: Mars/Olympus
  - name: vacuum
    start: 2026-12-01T02:00:00Z
"""
    with pytest.raises(RoutingValidationError) as err:
        load_routing(text, "routes.yaml", environ={"PD_KEY": "k-123456789"})
    assert [str(p) for p in err.value.problems] == [
        "routes.yaml:33: maintenance_windows[0].timezone: unknown time zone 'Mars/Olympus'"]

    text = text.replace("Mars/Olympus", "Europe/Paris")
    with pytest.raises(RoutingValidationError) as err:
        load_routing(text, "routes.yaml", environ={"PD_KEY": "k-123456789"})
    assert [str(p) for p in err.value.problems] == [
        "routes.yaml:23: routes[1].receivers[0]: unknown receiver 'slack-paymnts'",
        ("routes.yaml:31: maintenance_windows[0].duration: a recurring window (cron) needs "
         "a duration"),
        "routes.yaml:32: maintenance_windows[0].cron: invalid cron expression '0 2 * * 7x'",
        "routes.yaml:34: maintenance_windows[1].name: window 'vacuum' defined twice",
        "routes.yaml:34: maintenance_windows[1]: give either cron + duration, or start + end",
    ]


def test_yaml_errors_and_duplicate_keys_are_located():
    with pytest.raises(RoutingValidationError) as err:
        load_routing("routes:\n  - match: {a: 1\n", "r.yaml", build=False)
    assert str(err.value).startswith("r.yaml:3: (document): invalid YAML")
    with pytest.raises(RoutingValidationError) as err:
        load_routing("default: {receivers: [x]}\ndefault: {receivers: [y]}\n", "r.yaml",
                     build=False)
    assert "r.yaml:2: (document): duplicate key 'default'" in str(err.value)


def test_matchers_and_durations():
    assert parse_expression("slo=~'orders-.*'") == Matcher(name="slo", value="orders-.*",
                                                           regex=True)
    assert parse_expression("tier!=3").matches({"tier": "1"})
    assert not parse_expression("owner!~bot.*").matches({"owner": "bot-7"})
    assert parse_expression('owner=""').matches({})
    with pytest.raises(ValueError):
        parse_expression("team")
    assert [parse_duration(v) for v in ("90", 30, "5m", "4h", "1d")] == [
        90, 30, 300, 14400, 86400]
    with pytest.raises(ValueError):
        parse_duration("soon")


def _utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_recurring_windows_follow_the_wall_clock_of_their_time_zone():
    window = MaintenanceWindow(name="w", matchers=[], timezone="Europe/Paris",
                               cron="0 2 * * *", duration_seconds=7200)
    summer = occurrences(window, _utc(2026, 7, 1), _utc(2026, 7, 3))
    assert summer == [(_utc(2026, 7, 1, 0), _utc(2026, 7, 1, 2)),
                      (_utc(2026, 7, 2, 0), _utc(2026, 7, 2, 2))]
    winter = occurrences(window, _utc(2026, 12, 1, 2), _utc(2026, 12, 2))
    assert winter == [(_utc(2026, 12, 1, 2), _utc(2026, 12, 1, 3))]  # clipped to the query
    assert merge([(_utc(2026, 1, 1, 1), _utc(2026, 1, 1, 3)),
                  (_utc(2026, 1, 1, 2), _utc(2026, 1, 1, 4))]) == [
        (_utc(2026, 1, 1, 1), _utc(2026, 1, 1, 4))]
