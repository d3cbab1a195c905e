"""Prometheus Alertmanager (API v2) receiver.

Alertmanager has no "trigger once" semantics: an alert is firing while its
``endsAt`` lies in the future. We therefore send firing alerts with a bounded
``endsAt`` and advertise `resend_interval` so the worker re-sends them while
they fire; if dataslo dies, its alerts expire on their own instead of firing
forever. Resolution is the same alert with ``endsAt`` set to the end time.
Grouping, inhibition (page mutes ticket via ``equal: [slo]``) and silences
are left to Alertmanager's own configuration; the labels sent here (alertname,
slo, severity, owner, team, ...) are what those rules match on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

import httpx

from app.alerts.receivers.base import Clock, HttpReceiver, utc_now
from app.alerts.receivers.config import AlertmanagerConfig
from app.alerts.receivers.model import Action, DeliveryResult, Notification
from app.alerts.receivers.render import format_budget, format_burn_rates, impact_lines
from app.alerts.receivers.transport import encode_json, send_request

# Prometheus's own rule: endsAt covers several missed re-sends before expiry.
RESEND_MARGIN = 4
IMPACTED_LIMIT = 50
_INVALID_LABEL_CHARS = re.compile(r"[^A-Za-z0-9_]")


def label_name(name: str) -> str:
    """Coerce to a valid Prometheus label name (``[A-Za-z_][A-Za-z0-9_]*``)."""
    cleaned = _INVALID_LABEL_CHARS.sub("_", name)
    if not cleaned or cleaned[0].isdigit():
        cleaned = "_" + cleaned
    return cleaned


class AlertmanagerReceiver(HttpReceiver):
    kind: ClassVar[str] = "alertmanager"
    config_model: ClassVar[type[AlertmanagerConfig]] = AlertmanagerConfig

    def __init__(
        self,
        config: AlertmanagerConfig,
        *,
        clock: Clock = utc_now,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(config, clock=clock)
        self._config = config
        self._url = config.url.rstrip("/") + "/api/v2/alerts"
        self._token = config.resolve("bearer_token", environ)
        self.resend_interval = config.resend_interval

    def labels(self, n: Notification) -> dict[str, str]:
        """Identity labels: they form the fingerprint, so they must not vary.

        dataslo's own labels are applied last so a notification label named
        ``severity`` cannot turn a page into something routing ignores. If a
        routing label (owner, team) changes mid-incident, Alertmanager sees a
        new alert; the old one then expires at its ``endsAt``.
        """
        labels = {label_name(k): v for k, v in n.labels.items() if v}
        labels.update({label_name(k): v for k, v in self._config.extra_labels.items() if v})
        labels["alertname"] = self._config.alertname or f"dataslo_{label_name(n.kind)}"
        labels["severity"] = n.severity.value
        labels["dedup_key"] = n.dedup_key
        if n.slo:
            labels["slo"] = n.slo
        return labels

    @staticmethod
    def annotations(n: Notification) -> dict[str, str]:
        notes = {"summary": n.title, "description": n.summary}
        if n.burn_rates:
            notes["burn_rates"] = format_burn_rates(n.burn_rates)
        if n.budget_remaining is not None:
            notes["budget_remaining"] = format_budget(n.budget_remaining)
        if n.root_cause:
            notes["root_cause"] = n.root_cause
        if n.impacted:
            notes["impacted"] = "\n".join(impact_lines(n.impacted, IMPACTED_LIMIT))
        if n.links:
            notes["links"] = "\n".join(f"{link.text}: {link.href}" for link in n.links)
        if n.incident_id:
            notes["incident_id"] = n.incident_id
        return {k: v for k, v in notes.items() if v}

    def alerts(self, notification: Notification) -> list[dict[str, Any]]:
        """The request body: a JSON array holding this one alert."""
        n = notification
        now = self._clock()
        if n.action is Action.RESOLVE:
            ends = max(n.ended_at or now, n.started_at)
        else:
            ends = now + timedelta(seconds=RESEND_MARGIN * self._config.resend_interval)
        alert: dict[str, Any] = {
            "labels": self.labels(n),
            "annotations": self.annotations(n),
            "startsAt": self.rfc3339(n.started_at),
            "endsAt": self.rfc3339(ends),
        }
        generator = self._config.generator_url or (n.links[0].href if n.links else None)
        if generator:
            alert["generatorURL"] = generator
        return [alert]

    def _send(self, notification: Notification, client: httpx.Client) -> DeliveryResult:
        if notification.action is Action.ACKNOWLEDGE:
            # Alertmanager has no acknowledgement; muting is a silence, which
            # is a human decision made in Alertmanager itself.
            return DeliveryResult.skipped("Alertmanager has no acknowledge")
        headers = {}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return send_request(
            client,
            self.name,
            self._url,
            content=encode_json(self.alerts(notification)),
            headers=headers,
            now=self._clock,
        )
