"""Opsgenie Alert API v2 receiver.

The alert's dedup key becomes the Opsgenie ``alias``: Opsgenie de-duplicates
creates with an open alias (it bumps a counter instead of paging again), and
acknowledge/close address the alert by that alias, so dataslo never needs to
store Opsgenie's own alert id. The API is asynchronous: 202 means accepted,
with a ``requestId`` kept for the audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from app.alerts.receivers.base import Clock, HttpReceiver, utc_now
from app.alerts.receivers.config import OpsgenieConfig
from app.alerts.receivers.model import Action, DeliveryResult, Notification
from app.alerts.receivers.render import (
    bounded_key,
    format_budget,
    format_burn_rates,
    impact_lines,
)
from app.alerts.receivers.transport import encode_json, json_field, send_request, truncate

# Opsgenie's documented field limits.
MESSAGE_LIMIT = 130
ALIAS_LIMIT = 512
DESCRIPTION_LIMIT = 15000
ENTITY_LIMIT = 512
TAG_LIMIT = 50
MAX_TAGS = 20
DETAIL_VALUE_LIMIT = 1000
IMPACTED_LIMIT = 50


class OpsgenieReceiver(HttpReceiver):
    kind: ClassVar[str] = "opsgenie"
    config_model: ClassVar[type[OpsgenieConfig]] = OpsgenieConfig

    def __init__(
        self,
        config: OpsgenieConfig,
        *,
        clock: Clock = utc_now,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(config, clock=clock)
        self._config = config
        self._base = config.url.rstrip("/")
        self._api_key = config.require("api_key", environ)

    def alias(self, n: Notification) -> str:
        return bounded_key(n.dedup_key, ALIAS_LIMIT)

    def request(self, notification: Notification) -> tuple[str, dict[str, Any]]:
        """The URL and JSON body for `notification`."""
        n = notification
        if n.action is Action.TRIGGER:
            return f"{self._base}/v2/alerts", self._create_body(n)
        verb = "close" if n.action is Action.RESOLVE else "acknowledge"
        alias = quote(self.alias(n), safe="")
        url = f"{self._base}/v2/alerts/{alias}/{verb}?identifierType=alias"
        note = "Recovered" if n.action is Action.RESOLVE else "Acknowledged"
        if n.action is Action.RESOLVE and n.ended_at:
            note += f" at {self.rfc3339(n.ended_at)}"
        return url, {"source": self._config.source, "user": self._config.user, "note": note}

    def _create_body(self, n: Notification) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message": truncate(n.title, MESSAGE_LIMIT),
            "alias": self.alias(n),
            "description": truncate(self._description(n), DESCRIPTION_LIMIT),
            "details": self._details(n),
            "source": self._config.source,
            "user": self._config.user,
            "tags": self._tags(n),
            "priority": self._config.priority_map[n.severity],
        }
        if n.slo:
            body["entity"] = truncate(n.slo, ENTITY_LIMIT)
        if self._config.responders:
            body["responders"] = [r.model_dump(exclude_none=True) for r in self._config.responders]
        return body

    @staticmethod
    def _description(n: Notification) -> str:
        parts = [n.summary] if n.summary else []
        if n.slo:
            parts.append(
                f"Burn rate: {format_burn_rates(n.burn_rates)}\n"
                f"Budget left: {format_budget(n.budget_remaining)}"
            )
        if n.root_cause:
            parts.append(f"Root cause: {n.root_cause}")
        if n.impacted:
            lines = impact_lines(n.impacted, IMPACTED_LIMIT)
            parts.append("Impact:\n" + "\n".join(f"- {line}" for line in lines))
        if n.links:
            parts.append("\n".join(f"{link.text}: {link.href}" for link in n.links))
        return "\n\n".join(parts)

    @staticmethod
    def _details(n: Notification) -> dict[str, str]:
        # Opsgenie details are a flat string-to-string map.
        details = {f"label.{k}": v for k, v in n.labels.items()}
        details.update({f"burn_rate.{w}": f"{r:.6g}" for w, r in n.burn_rates.items()})
        extra = {
            "slo": n.slo,
            "severity": n.severity.value,
            "kind": n.kind,
            "budget_remaining": None if n.budget_remaining is None else f"{n.budget_remaining:.6g}",
            "root_cause": n.root_cause,
            "incident_id": n.incident_id,
            "dedup_key": n.dedup_key,
            "started_at": HttpReceiver.rfc3339(n.started_at),
        }
        details.update({k: v for k, v in extra.items() if v is not None})
        return {k: truncate(v, DETAIL_VALUE_LIMIT) for k, v in details.items()}

    def _tags(self, n: Notification) -> list[str]:
        tags = ["dataslo", f"severity:{n.severity.value}", *self._config.tags]
        if n.slo:
            tags.append(f"slo:{n.slo}")
        for label in ("team", "owner", "tier"):
            if label in n.labels:
                tags.append(f"{label}:{n.labels[label]}")
        unique = list(dict.fromkeys(truncate(t, TAG_LIMIT) for t in tags))
        return unique[:MAX_TAGS]

    def _send(self, notification: Notification, client: httpx.Client) -> DeliveryResult:
        url, body = self.request(notification)
        return send_request(
            client,
            self.name,
            url,
            content=encode_json(body),
            headers={"Authorization": f"GenieKey {self._api_key.reveal()}"},
            remote_id=json_field("requestId"),
            now=self._clock,
        )
