"""Generic signed JSON webhook receiver.

For anything without a dedicated receiver (chat bots, ticketing glue, an
internal incident service). Receivers of this webhook need two guarantees,
given by headers:

``X-Dataslo-Signature: sha256=<hex>``
    HMAC-SHA256 of the exact request body bytes with the shared secret, so
    the receiver can reject forged or altered requests. Verify it over the
    raw body before parsing (`verify_signature` does this in Python).
``Idempotency-Key: <notification idempotency_key>``
    Identical on every retry of one notification; store it and drop repeats,
    since a timeout can hide a request that did arrive.

Body (``Content-Type: application/json``, UTF-8, compact, keys sorted)::

    {
      "version": 1,
      "receiver": "<receiver name from config>",
      "sent_at": "<RFC 3339 UTC time of this attempt>",
      "notification": {
        "dedup_key": "slo:orders-freshness:page",   # same for trigger/ack/resolve
        "idempotency_key": "...",                    # same as the header
        "action": "trigger" | "acknowledge" | "resolve",
        "severity": "page" | "ticket",
        "kind": "slo_burn" | "schema_change" | "stuck_run" | ...,
        "title": "...", "summary": "...",
        "slo": "<name>" | null, "incident_id": "<id>" | null,
        "labels": {"owner": "...", "team": "...", ...},
        "burn_rates": {"5m": 20.0, "1h": 20.0, ...},
        "budget_remaining": 0.9722 | null,           # fraction, <0 when overspent
        "root_cause": "..." | null,
        "impacted": [{"name": "...", "owner": "..." | null, "slo": "..." | null}],
        "links": [{"href": "...", "text": "..."}],
        "started_at": "<ISO 8601>", "ended_at": "<ISO 8601>" | null
      }
    }

``sent_at`` sits inside the signed body so a receiver can also reject stale
replays of a captured request.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from app.alerts.receivers.base import Clock, HttpReceiver, utc_now
from app.alerts.receivers.config import WebhookConfig
from app.alerts.receivers.model import DeliveryResult, Notification
from app.alerts.receivers.transport import encode_json, send_request

SIGNATURE_HEADER = "X-Dataslo-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
BODY_VERSION = 1


def sign(secret: str | bytes, body: bytes) -> str:
    """The signature header value for `body`."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """Constant-time check of a signature header, for webhook consumers."""
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body), header.strip())


class WebhookReceiver(HttpReceiver):
    kind: ClassVar[str] = "webhook"
    config_model: ClassVar[type[WebhookConfig]] = WebhookConfig

    def __init__(
        self,
        config: WebhookConfig,
        *,
        clock: Clock = utc_now,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(config, clock=clock)
        self._url = config.url
        self._extra_headers = dict(config.headers)
        self._secret = config.require("secret", environ)

    def document(self, notification: Notification) -> dict[str, Any]:
        """The JSON document described in the module docstring."""
        return {
            "version": BODY_VERSION,
            "receiver": self.name,
            "sent_at": self.rfc3339(self._clock()),
            "notification": notification.to_dict(),
        }

    def _send(self, notification: Notification, client: httpx.Client) -> DeliveryResult:
        body = encode_json(self.document(notification))
        headers = {
            **self._extra_headers,
            SIGNATURE_HEADER: sign(self._secret.reveal(), body),
            IDEMPOTENCY_HEADER: notification.idempotency_key,
        }
        return send_request(
            client, self.name, self._url, content=body, headers=headers, now=self._clock
        )
