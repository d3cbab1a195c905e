"""PagerDuty Events API v2 receiver.

PagerDuty folds events with the same ``dedup_key`` into one incident, so the
alert's stable key is what turns trigger, acknowledge and resolve into one
incident lifecycle. A trigger after a resolve with the same key opens a new
incident, which is what we want for a re-fire.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from app.alerts.receivers.base import Clock, HttpReceiver, utc_now
from app.alerts.receivers.config import PagerDutyConfig
from app.alerts.receivers.model import Action, DeliveryResult, Notification
from app.alerts.receivers.render import bounded_key
from app.alerts.receivers.transport import encode_json, json_field, send_request, truncate

DEDUP_KEY_LIMIT = 255
SUMMARY_LIMIT = 1024
# PagerDuty rejects events over 512 KB; one root cause can have hundreds of
# symptoms, so the list is capped and the total reported alongside.
IMPACTED_LIMIT = 100


class PagerDutyReceiver(HttpReceiver):
    kind: ClassVar[str] = "pagerduty"
    config_model: ClassVar[type[PagerDutyConfig]] = PagerDutyConfig

    def __init__(
        self,
        config: PagerDutyConfig,
        *,
        clock: Clock = utc_now,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(config, clock=clock)
        self._config = config
        self._routing_key = config.require("routing_key", environ)

    def event(self, notification: Notification) -> dict[str, Any]:
        """The Events v2 body for `notification` (public so tests and previews can see it)."""
        n = notification
        body: dict[str, Any] = {
            "routing_key": self._routing_key.reveal(),
            "event_action": n.action.value,
            "dedup_key": bounded_key(n.dedup_key, DEDUP_KEY_LIMIT),
        }
        if n.action is not Action.TRIGGER:
            # Acknowledge and resolve carry only the key: PagerDuty ignores
            # a payload there, and sending less leaks less.
            return body
        payload: dict[str, Any] = {
            "summary": truncate(n.title, SUMMARY_LIMIT),
            "source": self._config.source,
            "severity": self._config.severity_map[n.severity],
            "timestamp": self.rfc3339(n.started_at),
            "class": n.kind,
            "custom_details": self._details(n),
        }
        component = n.labels.get("dataset") or n.slo
        group = n.labels.get("team") or n.labels.get("namespace")
        if component:
            payload["component"] = component
        if group:
            payload["group"] = group
        body["payload"] = payload
        body["client"] = "dataslo"
        if self._config.client_url:
            body["client_url"] = self._config.client_url
        if n.links:
            body["links"] = [{"href": link.href, "text": link.text} for link in n.links]
        return body

    @staticmethod
    def _details(n: Notification) -> dict[str, Any]:
        details: dict[str, Any] = {
            "summary": n.summary,
            "slo": n.slo,
            "severity": n.severity.value,
            "labels": dict(n.labels),
            "burn_rates": dict(n.burn_rates),
            "budget_remaining": n.budget_remaining,
            "root_cause": n.root_cause,
            "incident_id": n.incident_id,
        }
        if n.impacted:
            details["impacted"] = [
                {"name": a.name, "owner": a.owner, "slo": a.slo}
                for a in n.impacted[:IMPACTED_LIMIT]
            ]
            details["impacted_total"] = len(n.impacted)
        return {k: v for k, v in details.items() if v not in (None, {}, [])}

    def _send(self, notification: Notification, client: httpx.Client) -> DeliveryResult:
        return send_request(
            client,
            self.name,
            self._config.url,
            content=encode_json(self.event(notification)),
            headers={},
            remote_id=json_field("dedup_key"),
            now=self._clock,
        )
