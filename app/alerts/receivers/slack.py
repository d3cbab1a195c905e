"""Slack incoming-webhook receiver.

Slack is where people read, not where incidents live: each state change is a
new message laid out so the reader sees, without clicking, which SLO burns,
how fast, how much budget is left, the likely root cause and who else is
hit. ``text`` is still sent because notifications and screen readers use it
instead of the blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from app.alerts.receivers.base import Clock, HttpReceiver, utc_now
from app.alerts.receivers.config import SlackConfig
from app.alerts.receivers.model import Action, DeliveryResult, Notification, Severity
from app.alerts.receivers.render import (
    action_heading,
    format_budget,
    format_burn_rates,
    impact_lines,
)
from app.alerts.receivers.transport import encode_json, send_request, truncate

# Slack's documented limits per element.
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
TEXT_LIMIT = 3000


def escape(text: str) -> str:
    """Escape the three characters Slack mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(href: str, text: str) -> str:
    # `|` and `>` would end the link early; the escaped forms render fine.
    safe_text = escape(text).replace("|", "¦")
    return f"<{escape(href).replace('|', '%7C')}|{safe_text}>"


def _icon(n: Notification) -> str:
    if n.action is Action.RESOLVE:
        return ":white_check_mark:"
    if n.action is Action.ACKNOWLEDGE:
        return ":eyes:"
    return ":rotating_light:" if n.severity is Severity.PAGE else ":warning:"


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(truncate(text, SECTION_LIMIT))}


class SlackReceiver(HttpReceiver):
    kind: ClassVar[str] = "slack"
    config_model: ClassVar[type[SlackConfig]] = SlackConfig

    def __init__(
        self,
        config: SlackConfig,
        *,
        clock: Clock = utc_now,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(config, clock=clock)
        self._max_impacted = config.max_impacted
        self._webhook_url = config.require("webhook_url", environ)

    def message(self, notification: Notification) -> dict[str, Any]:
        """The webhook body: ``text`` fallback plus Block Kit ``blocks``."""
        n = notification
        heading = action_heading(n)
        header = f"{_icon(n)} {heading}: {n.title}"
        blocks: list[dict[str, Any]] = [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": truncate(header, HEADER_LIMIT),
                    "emoji": True,
                },
            }
        ]
        if n.summary:
            blocks.append(_section(escape(n.summary)))
        blocks.append({"type": "section", "fields": self._fields(n)})
        if n.root_cause:
            blocks.append(_section("*Root cause*\n" + escape(n.root_cause)))
        if n.impacted:
            lines = impact_lines(n.impacted, self._max_impacted)
            title = f"*Impact* ({len(n.impacted)} affected)"
            blocks.append(_section(title + "\n" + "\n".join("• " + escape(x) for x in lines)))
        if n.links:
            blocks.append(_section(" · ".join(_link(x.href, x.text) for x in n.links)))
        context = [f"key `{escape(n.dedup_key)}`", f"started {self.rfc3339(n.started_at)}"]
        if n.ended_at:
            context.append(f"ended {self.rfc3339(n.ended_at)}")
        blocks.append({"type": "context", "elements": [_mrkdwn(" · ".join(context))]})
        text = f"[{heading}] {n.title}" + (f" — {n.summary}" if n.summary else "")
        return {"text": truncate(text, TEXT_LIMIT), "blocks": blocks}

    @staticmethod
    def _fields(n: Notification) -> list[dict[str, str]]:
        pairs = [
            ("SLO", n.slo or "—"),
            ("Severity", n.severity.value),
            ("Burn rate", format_burn_rates(n.burn_rates)),
            ("Budget left", format_budget(n.budget_remaining)),
        ]
        for label in ("owner", "team", "tier", "namespace"):
            if label in n.labels:
                pairs.append((label.capitalize(), n.labels[label]))
        return [
            _mrkdwn(truncate(f"*{name}*\n{escape(value)}", FIELD_LIMIT))
            for name, value in pairs[:10]  # Slack allows ten fields per section
        ]

    def _send(self, notification: Notification, client: httpx.Client) -> DeliveryResult:
        return send_request(
            client,
            self.name,
            self._webhook_url.reveal(),
            content=encode_json(self.message(notification)),
            headers={},
            now=self._clock,
        )
