"""What a receiver is asked to send, and what it reports back.

`Notification` is dataslo's own vocabulary for one alert state change. It is
deliberately independent of any vendor payload so that the alerting core and
the durable outbox never depend on PagerDuty, Slack or Opsgenie shapes: each
receiver translates it at the edge. It round-trips through plain JSON
(`to_dict` / `from_dict`) because the outbox stores it in the database and the
generic webhook publishes that same document.

Two keys with different jobs:

* ``dedup_key`` is the alert's identity (e.g. ``slo:orders-freshness:page``).
  It is the same for trigger, acknowledge and resolve of one alert, so the
  vendor folds them into one incident (PagerDuty ``dedup_key``, Opsgenie
  ``alias``, an Alertmanager label).
* ``idempotency_key`` identifies this one notification (one outbox row). It
  is the same on every retry of that notification and different for the next
  state change, so a receiver that saw a retry of a request that had in fact
  succeeded can drop it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

_HEADER_SAFE = re.compile(r"[!-~]{1,255}")


class Action(StrEnum):
    """The alert state change being announced."""

    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class Severity(StrEnum):
    """dataslo's two severities; receivers map them onto vendor scales."""

    PAGE = "page"
    TICKET = "ticket"


@dataclass(frozen=True, slots=True)
class Link:
    """A link shown to the responder (dashboard, runbook, lineage view)."""

    href: str
    text: str


@dataclass(frozen=True, slots=True)
class ImpactedAsset:
    """A dataset or SLO hit by the incident, with who to tell about it.

    Root-cause grouping attaches downstream symptoms to one incident; listing
    them with their owners is what lets a single page reach everyone affected.
    """

    name: str
    owner: str | None = None
    slo: str | None = None


def _aware(value: datetime | None, what: str) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Notification:
    """One alert state change to deliver.

    Fields:
      dedup_key: stable identity of the alert across trigger/ack/resolve.
      action: trigger, acknowledge or resolve.
      severity: page or ticket.
      title: one line for subjects and headers.
      summary: a few sentences; receivers truncate to their own limits.
      idempotency_key: identity of this notification, constant across retries.
      started_at: when the alert started firing (timezone-aware).
      ended_at: when it recovered; set on resolve.
      slo: SLO name, or None for incidents without an SLO (schema change,
        stuck run).
      kind: what raised it ("slo_burn", "schema_change", "stuck_run", ...);
        Alertmanager uses it for ``alertname``.
      labels: routing labels (owner, team, tier, namespace, dataset, ...).
      burn_rates: burn rate per window, keyed by window ("5m", "1h", ...).
      budget_remaining: fraction of the error budget left (1.0 = untouched;
        negative when overspent); None when unknown or not an SLO alert.
      root_cause: human-readable most-upstream cause, when one was found.
      impacted: downstream assets attached to the incident, with owners.
      links: dashboards, runbooks, lineage.
      incident_id: dataslo's incident id, for cross-referencing.
    """

    dedup_key: str
    action: Action
    severity: Severity
    title: str
    summary: str
    idempotency_key: str
    started_at: datetime
    ended_at: datetime | None = None
    slo: str | None = None
    kind: str = "slo_burn"
    labels: Mapping[str, str] = field(default_factory=dict)
    burn_rates: Mapping[str, float] = field(default_factory=dict)
    budget_remaining: float | None = None
    root_cause: str | None = None
    impacted: tuple[ImpactedAsset, ...] = ()
    links: tuple[Link, ...] = ()
    incident_id: str | None = None

    def __post_init__(self) -> None:
        # Coerce early so a bad value fails where the notification is built,
        # not later inside a delivery worker where it would only be retried.
        object.__setattr__(self, "action", Action(self.action))
        object.__setattr__(self, "severity", Severity(self.severity))
        if not self.dedup_key.strip():
            raise ValueError("dedup_key must not be empty")
        if not _HEADER_SAFE.fullmatch(self.idempotency_key):
            # It travels as an HTTP header (Idempotency-Key), so it must be
            # plain printable ASCII; better to fail here than mid-delivery.
            raise ValueError("idempotency_key must be 1-255 printable ASCII characters")
        _aware(self.started_at, "started_at")
        _aware(self.ended_at, "ended_at")
        object.__setattr__(self, "labels", {str(k): str(v) for k, v in self.labels.items()})
        object.__setattr__(
            self, "burn_rates", {str(k): float(v) for k, v in self.burn_rates.items()}
        )
        object.__setattr__(self, "impacted", tuple(self.impacted))
        object.__setattr__(self, "links", tuple(self.links))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the outbox stores it and the webhook sends it."""
        return {
            "dedup_key": self.dedup_key,
            "idempotency_key": self.idempotency_key,
            "action": self.action.value,
            "severity": self.severity.value,
            "kind": self.kind,
            "title": self.title,
            "summary": self.summary,
            "slo": self.slo,
            "incident_id": self.incident_id,
            "labels": dict(self.labels),
            "burn_rates": dict(self.burn_rates),
            "budget_remaining": self.budget_remaining,
            "root_cause": self.root_cause,
            "impacted": [{"name": a.name, "owner": a.owner, "slo": a.slo} for a in self.impacted],
            "links": [{"href": link.href, "text": link.text} for link in self.links],
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notification:
        """Inverse of `to_dict`, for reading notifications back from the outbox."""
        ended = data.get("ended_at")
        return cls(
            dedup_key=data["dedup_key"],
            idempotency_key=data["idempotency_key"],
            action=Action(data["action"]),
            severity=Severity(data["severity"]),
            kind=data.get("kind", "slo_burn"),
            title=data["title"],
            summary=data["summary"],
            slo=data.get("slo"),
            incident_id=data.get("incident_id"),
            labels=data.get("labels") or {},
            burn_rates=data.get("burn_rates") or {},
            budget_remaining=data.get("budget_remaining"),
            root_cause=data.get("root_cause"),
            impacted=tuple(ImpactedAsset(**a) for a in data.get("impacted") or ()),
            links=tuple(Link(**link) for link in data.get("links") or ()),
            started_at=datetime.fromisoformat(data["started_at"]),
            ended_at=datetime.fromisoformat(ended) if ended else None,
        )


class Outcome(StrEnum):
    """How one delivery attempt ended."""

    DELIVERED = "delivered"
    FAILED = "failed"
    # The receiver has nothing to send for this action (Alertmanager has no
    # acknowledge; `send_resolved: false`). Done, but nothing went out, which
    # the audit trail should show differently from a delivery.
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome of one attempt, as the delivery worker and the audit log need it.

    ``retryable`` is only meaningful for failures: True for 429, 5xx and
    network errors, False for other 4xx (retrying a rejected payload cannot
    succeed and would only delay the notifications queued behind it).
    ``retry_after`` is the server's requested wait in seconds, when it gave one.
    ``error`` says why it failed (or, for SKIPPED, why nothing was sent); it
    never contains secrets, receivers scrub it before returning.
    ``remote_id`` is the vendor's reference when it returns one (PagerDuty
    dedup_key, Opsgenie requestId), kept for the audit trail.
    """

    outcome: Outcome
    latency: float = 0.0
    status_code: int | None = None
    retryable: bool = False
    retry_after: float | None = None
    error: str | None = None
    remote_id: str | None = None

    @property
    def ok(self) -> bool:
        """True when nothing is left to do for this notification."""
        return self.outcome is not Outcome.FAILED

    @classmethod
    def delivered(
        cls, *, status_code: int | None, latency: float, remote_id: str | None = None
    ) -> DeliveryResult:
        return cls(Outcome.DELIVERED, latency, status_code, remote_id=remote_id)

    @classmethod
    def skipped(cls, reason: str) -> DeliveryResult:
        return cls(Outcome.SKIPPED, error=reason)

    @classmethod
    def failed(
        cls,
        *,
        retryable: bool,
        error: str,
        latency: float = 0.0,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> DeliveryResult:
        return cls(Outcome.FAILED, latency, status_code, retryable, retry_after, error)
