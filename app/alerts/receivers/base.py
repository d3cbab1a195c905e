"""The one protocol every receiver implements, and the shared plumbing behind it.

The protocol is small on purpose: the delivery worker only needs to send a
notification with a client it owns (so it controls timeouts, pools and
proxies), know the receiver's rate limit, and know whether firing alerts must
be re-sent periodically (only Alertmanager needs that).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar, Protocol, runtime_checkable

import httpx

from app.alerts.receivers.backoff import RateLimit
from app.alerts.receivers.config import ReceiverConfigBase
from app.alerts.receivers.model import Action, DeliveryResult, Notification

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@runtime_checkable
class Receiver(Protocol):
    """Delivers notifications to one configured destination.

    ``send`` must not raise for delivery problems (network, HTTP errors); it
    reports them in the returned `DeliveryResult` so every attempt can be
    recorded. ``resend_interval`` is seconds between re-sends of a still
    firing alert, or None when one trigger is enough.
    """

    name: str
    rate_limit: RateLimit | None
    resend_interval: float | None

    def send(self, notification: Notification, client: httpx.Client) -> DeliveryResult: ...


class HttpReceiver(ABC):
    """Common state and behaviour; subclasses implement `_send`.

    The repr shows only the type and name: URLs can be credentials (Slack)
    and headers hold keys, so nothing from the config is echoed.
    """

    kind: ClassVar[str]
    resend_interval: float | None = None

    def __init__(self, config: ReceiverConfigBase, *, clock: Clock = utc_now) -> None:
        self.name = config.name
        self.send_resolved = config.send_resolved
        self.rate_limit = config.rate_limit()
        self._clock = clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def send(self, notification: Notification, client: httpx.Client) -> DeliveryResult:
        if notification.action is Action.RESOLVE and not self.send_resolved:
            return DeliveryResult.skipped("send_resolved is off for this receiver")
        return self._send(notification, client)

    @abstractmethod
    def _send(self, notification: Notification, client: httpx.Client) -> DeliveryResult:
        """Deliver a notification that this receiver has decided to send."""

    @staticmethod
    def rfc3339(value: datetime) -> str:
        """UTC with a Z suffix, the form every vendor here parses."""
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
