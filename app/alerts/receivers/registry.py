"""Receiver types by name, and the factory that builds one from config.

A plain dict rather than a metaclass or entry points: the set of receivers is
small and fixed, and a reader should find every receiver type in one place.
Adding one means writing a config model, a class, and a line here (plus the
model in `config.ReceiverConfig`, which validates the YAML).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.alerts.receivers.alertmanager import AlertmanagerReceiver
from app.alerts.receivers.base import Clock, HttpReceiver, Receiver, utc_now
from app.alerts.receivers.config import ReceiverConfigBase, parse_receiver_config
from app.alerts.receivers.opsgenie import OpsgenieReceiver
from app.alerts.receivers.pagerduty import PagerDutyReceiver
from app.alerts.receivers.secrets import install_log_redaction
from app.alerts.receivers.slack import SlackReceiver
from app.alerts.receivers.webhook import WebhookReceiver

RECEIVERS: dict[str, type[HttpReceiver]] = {
    "pagerduty": PagerDutyReceiver,
    "slack": SlackReceiver,
    "alertmanager": AlertmanagerReceiver,
    "opsgenie": OpsgenieReceiver,
    "webhook": WebhookReceiver,
}


def build_receiver(
    config: ReceiverConfigBase | Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    clock: Clock = utc_now,
) -> Receiver:
    """Build the receiver for `config`, resolving its secrets now.

    Accepts a raw mapping too, so a YAML loader can pass entries straight
    through. Resolving secrets here makes a missing env var or file a startup
    error. Log redaction is installed on first build because that is the
    moment secrets start to exist in this process.
    """
    if not isinstance(config, ReceiverConfigBase):
        config = parse_receiver_config(config)
    kind = getattr(config, "type", None)
    cls = RECEIVERS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown receiver type {kind!r}; known: {sorted(RECEIVERS)}")
    if not isinstance(config, cls.config_model):  # type: ignore[attr-defined]
        raise TypeError(f"{type(config).__name__} is not a {cls.__name__} config")
    install_log_redaction()
    return cls(config, environ=environ, clock=clock)  # type: ignore[call-arg]
