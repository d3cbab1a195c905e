"""Receiver config: strict validation, secrets from env/files, and secrets never shown."""

from __future__ import annotations

import copy
import json
import logging
import pickle

import pytest
from pydantic import ValidationError

from app.alerts.receivers import (
    RECEIVERS,
    PagerDutyConfig,
    RateLimit,
    Receiver,
    Secret,
    SecretError,
    build_receiver,
    parse_receiver_config,
    redact,
)


def test_secret_from_environment_variable(server, client, clock, make_notification, monkeypatch):
    monkeypatch.setenv("PD_KEY", "pd-from-env-abc\n")
    receiver = build_receiver(
        {"type": "pagerduty", "name": "pd", "url": server.url, "routing_key_env": "PD_KEY"},
        clock=clock,
    )

    receiver.send(make_notification(), client)

    assert json.loads(server.last.body)["routing_key"] == "pd-from-env-abc"


def test_secret_from_injected_environ(server, client, clock, make_notification):
    receiver = build_receiver(
        {"type": "webhook", "name": "h", "url": server.url, "secret_env": "HOOK"},
        environ={"HOOK": "injected-secret"},
        clock=clock,
    )

    receiver.send(make_notification(), client)

    from app.alerts.receivers import verify_signature

    assert verify_signature(
        "injected-secret", server.last.body, server.last.headers["x-dataslo-signature"]
    )


def test_secret_from_file(server, client, clock, make_notification, tmp_path):
    key_file = tmp_path / "opsgenie.key"
    key_file.write_text("og-from-file-xyz\n")
    receiver = build_receiver(
        {"type": "opsgenie", "name": "og", "url": server.url, "api_key_file": str(key_file)},
        clock=clock,
    )

    receiver.send(make_notification(), client)

    assert server.last.headers["authorization"] == "GenieKey og-from-file-xyz"


def test_missing_env_and_file_fail_at_build_naming_the_source(tmp_path):
    with pytest.raises(SecretError, match="environment variable NOPE_NOT_SET is not set"):
        build_receiver(
            {"type": "slack", "name": "s", "webhook_url_env": "NOPE_NOT_SET"}, environ={}
        )
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SecretError, match="is empty"):
        build_receiver({"type": "webhook", "name": "w", "url": "http://x", "secret_file": empty})
    with pytest.raises(SecretError, match="cannot read"):
        build_receiver(
            {"type": "webhook", "name": "w", "url": "http://x", "secret_file": tmp_path / "no"}
        )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "pagerduty", "name": "p"}, "one of routing_key, routing_key_env"),
        (
            {"type": "pagerduty", "name": "p", "routing_key": "k" * 10, "routing_key_env": "X"},
            "set only one of routing_key, routing_key_env",
        ),
        ({"type": "pagerduty", "name": "p", "routing_key_evn": "X"}, "Extra inputs"),
        ({"type": "slack", "name": "s", "webhook_url": "hooks.slack.com/x"}, r"http\(s\) URL"),
        ({"type": "teams", "name": "t"}, "does not match any of the expected tags"),
        ({"type": "webhook", "name": "w", "url": "http://x", "secret": ""}, "secret is empty"),
        (
            {
                "type": "webhook",
                "name": "w",
                "url": "http://x",
                "secret": "abcdef",
                "headers": {"Idempotency-Key": "1"},
            },
            "cannot be overridden",
        ),
        (
            {"type": "alertmanager", "name": "a", "extra_labels": {"bad-name": "x"}},
            "should match pattern",
        ),
        (
            {"type": "opsgenie", "name": "o", "api_key": "k" * 8, "priority_map": {"page": "P1"}},
            "missing severities",
        ),
        (
            {"type": "opsgenie", "name": "o", "api_key": "k" * 8, "responders": [{"type": "team"}]},
            "needs a name, id or username",
        ),
        ({"type": "slack", "name": "bad name", "webhook_url_env": "X"}, "should match pattern"),
    ],
)
def test_invalid_configs_are_rejected(config, message):
    with pytest.raises((ValidationError, SecretError), match=message):
        build_receiver(config, environ={})


def test_validation_errors_do_not_quote_secrets():
    with pytest.raises(ValidationError) as excinfo:
        parse_receiver_config(
            {"type": "slack", "name": "s", "webhook_url": "ftp://hooks/leaky-token-123"}
        )
    with pytest.raises(ValidationError) as excinfo2:
        parse_receiver_config(
            {
                "type": "pagerduty",
                "name": "p",
                "routing_key": "leaky-key-456",
                "routing_key_env": "X",
            }
        )

    assert "leaky-token-123" not in str(excinfo.value)
    assert "leaky-key-456" not in str(excinfo2.value)


SECRET_CONFIGS = [
    {"type": "pagerduty", "name": "pd", "routing_key": "topsecret-pd-1"},
    {"type": "slack", "name": "sl", "webhook_url": "https://hooks.example/services/topsecret-sl-1"},
    {"type": "alertmanager", "name": "am", "bearer_token": "topsecret-am-1"},
    {"type": "opsgenie", "name": "og", "api_key": "topsecret-og-1"},
    {"type": "webhook", "name": "wh", "url": "https://example.org/h", "secret": "topsecret-wh-1"},
]


@pytest.mark.parametrize("raw", SECRET_CONFIGS, ids=lambda c: c["type"])
def test_secrets_never_in_repr_str_or_dumps(raw):
    config = parse_receiver_config(raw)
    receiver = build_receiver(config)

    shown = [
        repr(config),
        str(config),
        config.model_dump_json(),
        repr(receiver),
        str(receiver),
        repr(vars(receiver)),
        repr(copy.deepcopy(receiver).__dict__),
    ]

    for text in shown:
        assert "topsecret" not in text
    assert repr(receiver) == f"{type(receiver).__name__}(name={raw['name']!r})"


def test_secret_wrapper_hides_its_value():
    secret = Secret("hunter2-but-longer")

    assert repr(secret) == str(secret) == "Secret(***)"
    assert f"{secret}" == "Secret(***)"
    assert secret.reveal() == "hunter2-but-longer"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_secrets_are_scrubbed_from_logs_and_errors(
    server, client, clock, make_notification, caplog
):
    caplog.set_level(logging.DEBUG)
    token_path = "/services/T0/B0/leakytoken987"
    slack = build_receiver(
        {"type": "slack", "name": "chat", "webhook_url": f"{server.url}{token_path}"}, clock=clock
    )
    pagerduty = build_receiver(
        {"type": "pagerduty", "name": "pd", "url": server.url, "routing_key": "leakyroutingkey"},
        clock=clock,
    )
    server.reply(200, "ok")
    server.reply(404, f"no_service for {token_path}")
    server.reply(400, '{"message":"Invalid routing key leakyroutingkey"}')

    ok = slack.send(make_notification(), client)
    gone = slack.send(make_notification(), client)
    bad = pagerduty.send(make_notification(), client)

    assert ok.ok and not gone.ok and not bad.ok
    assert gone.error == "HTTP 404: no_service for ***"
    assert bad.error == 'HTTP 400: {"message":"Invalid routing key ***"}'
    # httpx logged the requests (so the check below is not vacuous)...
    assert any(r.name == "httpx" for r in caplog.records)
    # ...but neither the webhook token nor the routing key reached any record.
    for record in caplog.records:
        assert "leakytoken987" not in record.getMessage()
        assert "leakyroutingkey" not in record.getMessage()
    assert "leaky" not in caplog.text


def test_redact_leaves_short_and_unknown_text_alone():
    Secret("abc")  # too short to redact safely
    Secret("a-long-registered-secret")

    assert redact("abc and a-long-registered-secret") == "abc and ***"


def test_registry_builds_every_type_behind_the_protocol():
    built = {raw["type"]: build_receiver(raw) for raw in SECRET_CONFIGS}

    assert (
        set(RECEIVERS)
        == set(built)
        == {"pagerduty", "slack", "alertmanager", "opsgenie", "webhook"}
    )
    for kind, receiver in built.items():
        assert isinstance(receiver, RECEIVERS[kind])
        assert isinstance(receiver, Receiver)


def test_rate_limit_defaults_and_overrides():
    built = {raw["type"]: build_receiver(raw) for raw in SECRET_CONFIGS}

    assert built["pagerduty"].rate_limit == RateLimit(100 / 60, 20)
    assert built["slack"].rate_limit == RateLimit(1.0, 1)
    assert built["alertmanager"].rate_limit is None
    assert built["webhook"].rate_limit is None
    tuned = build_receiver(
        {**SECRET_CONFIGS[0], "rate_limit_per_minute": 30, "rate_limit_burst": 2}
    )
    assert tuned.rate_limit == RateLimit(0.5, 2)
    unlimited = build_receiver({**SECRET_CONFIGS[1], "rate_limit_per_minute": None})
    assert unlimited.rate_limit is None


def test_build_receiver_accepts_model_instances():
    config = PagerDutyConfig(type="pagerduty", name="pd", routing_key="model-key-1")

    receiver = build_receiver(config)

    assert receiver.name == "pd"
    assert config.severity_map == {"page": "critical", "ticket": "warning"}
