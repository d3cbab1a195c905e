"""Notification receivers: PagerDuty, Slack, Alertmanager, Opsgenie and a signed webhook.

Each receiver turns a vendor-neutral `Notification` into one HTTP request on a
caller-owned `httpx.Client` and reports a `DeliveryResult` that the delivery
worker can act on (done, retry later, give up) without knowing the vendor.
"""

from app.alerts.receivers.alertmanager import AlertmanagerReceiver
from app.alerts.receivers.backoff import RateLimit, RateLimiter, backoff_delay
from app.alerts.receivers.base import HttpReceiver, Receiver
from app.alerts.receivers.config import (
    AlertmanagerConfig,
    OpsgenieConfig,
    OpsgenieResponder,
    PagerDutyConfig,
    ReceiverConfig,
    ReceiverConfigBase,
    SlackConfig,
    WebhookConfig,
    parse_receiver_config,
)
from app.alerts.receivers.model import (
    Action,
    DeliveryResult,
    ImpactedAsset,
    Link,
    Notification,
    Outcome,
    Severity,
)
from app.alerts.receivers.opsgenie import OpsgenieReceiver
from app.alerts.receivers.pagerduty import PagerDutyReceiver
from app.alerts.receivers.registry import RECEIVERS, build_receiver
from app.alerts.receivers.secrets import (
    Secret,
    SecretError,
    install_log_redaction,
    redact,
)
from app.alerts.receivers.slack import SlackReceiver
from app.alerts.receivers.transport import parse_retry_after
from app.alerts.receivers.webhook import WebhookReceiver, sign, verify_signature

__all__ = [
    "RECEIVERS",
    "Action",
    "AlertmanagerConfig",
    "AlertmanagerReceiver",
    "DeliveryResult",
    "HttpReceiver",
    "ImpactedAsset",
    "Link",
    "Notification",
    "OpsgenieConfig",
    "OpsgenieReceiver",
    "OpsgenieResponder",
    "Outcome",
    "PagerDutyConfig",
    "PagerDutyReceiver",
    "RateLimit",
    "RateLimiter",
    "Receiver",
    "ReceiverConfig",
    "ReceiverConfigBase",
    "Secret",
    "SecretError",
    "Severity",
    "SlackConfig",
    "SlackReceiver",
    "WebhookConfig",
    "WebhookReceiver",
    "backoff_delay",
    "build_receiver",
    "install_log_redaction",
    "parse_receiver_config",
    "parse_retry_after",
    "redact",
    "sign",
    "verify_signature",
]
