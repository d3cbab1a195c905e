"""Small text helpers shared by receivers that render notifications for humans.

Burn rates, budgets and impact lists should read the same in Slack, PagerDuty
and Opsgenie so an on-call engineer comparing two channels is not confused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from app.alerts.receivers.model import ImpactedAsset, Notification

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _window_order(window: str) -> tuple[int, str]:
    match = _DURATION.match(window)
    if match is None:  # unknown spelling: keep it, after the known windows
        return (1 << 62, window)
    return (int(match.group(1)) * _UNIT_SECONDS[match.group(2)], window)


def sorted_burn_rates(burn_rates: Mapping[str, float]) -> list[tuple[str, float]]:
    """Windows shortest first, so "5m 20× · 1h 20× · 6h 3.3×" reads as a timeline."""
    return sorted(burn_rates.items(), key=lambda item: _window_order(item[0]))


def format_burn_rates(burn_rates: Mapping[str, float]) -> str:
    if not burn_rates:
        return "n/a"
    return " · ".join(f"{window} {rate:.3g}×" for window, rate in sorted_burn_rates(burn_rates))


def format_budget(budget_remaining: float | None) -> str:
    if budget_remaining is None:
        return "n/a"
    return f"{budget_remaining * 100:.2f}%"


def format_asset(asset: ImpactedAsset) -> str:
    text = asset.name
    if asset.slo:
        text += f" (SLO {asset.slo})"
    return text + f" — owner {asset.owner or 'unknown'}"


def impact_lines(impacted: tuple[ImpactedAsset, ...], limit: int) -> list[str]:
    """At most `limit` lines plus a count of the rest.

    One broken upstream can impact dozens of datasets; listing them all would
    blow vendor size limits and bury the root cause.
    """
    lines = [format_asset(a) for a in impacted[:limit]]
    if len(impacted) > limit:
        lines.append(f"… and {len(impacted) - limit} more")
    return lines


def bounded_key(key: str, limit: int) -> str:
    """`key` if it fits, else a prefix plus a hash of the whole key.

    Vendors cap dedup keys (PagerDuty 255, Opsgenie alias 512). Plain
    truncation could merge two alerts sharing a long prefix; the hash keeps
    distinct keys distinct and the mapping stable across trigger and resolve.
    """
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return key[: limit - len(digest) - 1] + "~" + digest


def action_heading(notification: Notification) -> str:
    """A short prefix telling the reader what changed."""
    if notification.action == "resolve":
        return "RESOLVED"
    if notification.action == "acknowledge":
        return "ACKNOWLEDGED"
    return notification.severity.value.upper()
