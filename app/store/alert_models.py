"""Alerting tables: incidents, their SLO alerts and timeline, the notification outbox,
delivery attempts, silences and maintenance windows.

Why these shapes:
- An *alert* is one SLO condition with a stable identity (SLO + severity); an *incident*
  groups the alerts that share a root cause, and is what people are notified about.
  `open_key` columns hold the identity only while open and NULL afterwards, so a unique
  index enforces "at most one open incident per root, one firing alert per SLO+severity"
  in the database itself, whichever process writes.
- The outbox is written in the same transaction as the state change it announces, one
  row per (notification, receiver); the row id is the delivery order and the
  idempotency key survives retries and restarts. Every attempt gets its own row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models import Base, BigIntPK
from app.store.types import JSONType, NullableJSON, utcnow


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_state_started", "state", "started_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # slo_burn | schema_change | stuck_run
    kind: Mapped[str] = mapped_column(String(32))
    # What leads the incident, by database id: "job:12", "dataset:40", "run:7", "schema:40:913".
    root_key: Mapped[str] = mapped_column(String(255), index=True)
    # root_key while open, NULL once resolved: one open incident per root.
    open_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Stable across trigger/acknowledge/resolve of this incident; vendors fold on it.
    dedup_key: Mapped[str] = mapped_column(String(255), unique=True)
    severity: Mapped[str] = mapped_column(String(8))
    # firing | acknowledged | resolved
    state: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    # {kind, id, namespace, name, reason, ...}: the most upstream cause found.
    root_cause: Mapped[dict[str, Any]] = mapped_column(default=dict)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    owner: Mapped[str | None] = mapped_column(String(255), index=True)
    slo_name: Mapped[str | None] = mapped_column(String(255))
    burn_rates: Mapped[dict[str, Any]] = mapped_column(default=dict)
    budget_remaining: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(255))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(255))
    resolution: Mapped[str | None] = mapped_column(Text)


class IncidentAlert(Base):
    """One SLO condition (SLO + severity) while it fires, attached to an incident."""

    __tablename__ = "incident_alerts"
    __table_args__ = (Index("ix_incident_alerts_key", "key", "started_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    # "slo:<slo_id>:<severity>"
    key: Mapped[str] = mapped_column(String(128))
    open_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    slo_id: Mapped[int] = mapped_column(Integer)
    slo_name: Mapped[str] = mapped_column(String(255), index=True)
    severity: Mapped[str] = mapped_column(String(8))
    # firing | resolved
    state: Mapped[str] = mapped_column(String(16))
    # root (its target is the incident's root) | symptom
    role: Mapped[str] = mapped_column(String(8))
    target_kind: Mapped[str] = mapped_column(String(8))
    target_id: Mapped[int] = mapped_column(Integer)
    target_namespace: Mapped[str] = mapped_column(String(1024))
    target_name: Mapped[str] = mapped_column(String(2048))
    owner: Mapped[str | None] = mapped_column(String(255))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    burn_rates: Mapped[dict[str, Any]] = mapped_column(default=dict)
    budget_remaining: Mapped[float | None] = mapped_column(Float)
    conditions: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(255))
    # False after it was resolved together with its root while still burning: it may
    # fire again only after a healthy evaluation (or a grace period), not on the next tick.
    rearmed: Mapped[bool] = mapped_column(Boolean, default=True)


class IncidentImpact(Base):
    """An asset downstream of the root cause (the blast radius), one row per owner."""

    __tablename__ = "incident_impacts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    node_kind: Mapped[str] = mapped_column(String(8))
    node_id: Mapped[int] = mapped_column(Integer)
    namespace: Mapped[str] = mapped_column(String(1024))
    name: Mapped[str] = mapped_column(String(2048))
    owner: Mapped[str] = mapped_column(String(255), default="", index=True)
    distance: Mapped[int] = mapped_column(Integer, default=0)


class IncidentEvent(Base):
    """The incident timeline, append-only."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)


class IncidentReceiver(Base):
    """A receiver an incident was routed to, and how often it must hear about it again."""

    __tablename__ = "incident_receivers"
    __table_args__ = (UniqueConstraint("incident_id", "receiver", name="uq_incident_receivers"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    receiver: Mapped[str] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(128))
    # The route's repeat interval for unacknowledged pages (seconds), if any.
    repeat_seconds: Mapped[float | None] = mapped_column(Float)
    # When the last trigger for it was queued: the clock of repeats and re-sends.
    last_trigger_at: Mapped[datetime | None]


class OutboxNotification(Base):
    __tablename__ = "alert_outbox"
    __table_args__ = (
        Index("ix_alert_outbox_status", "status", "id"),
        Index("ix_alert_outbox_stream", "incident_id", "receiver", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    receiver: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    # state (a state change) | escalation | repeat (unacknowledged page) | resend (Alertmanager)
    reason: Mapped[str] = mapped_column(String(16), default="state")
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    dedup_key: Mapped[str] = mapped_column(String(255))
    # Notification.to_dict(): exactly what the receiver renders, frozen at queue time.
    payload: Mapped[dict[str, Any]] = mapped_column()
    # pending | sending | delivered | skipped | silenced | failed | expired
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    # A worker owns a `sending` row until then; past it the row is in doubt and retried.
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    silence_id: Mapped[int | None] = mapped_column(Integer)


class DeliveryAttempt(Base):
    __tablename__ = "alert_delivery_attempts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("alert_outbox.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    # delivered | failed | skipped
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    retryable: Mapped[bool] = mapped_column(Boolean, default=False)
    retry_after: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class Silence(Base):
    __tablename__ = "alert_silences"
    __table_args__ = (Index("ix_alert_silences_ends", "ends_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # [{"name", "value", "regex": bool, "equal": bool}]: all must match.
    matchers: Mapped[list[Any]] = mapped_column(JSONType)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(255))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MaintenanceWindow(Base):
    """A recurring (cron in a time zone + duration) or one-off window.

    `mute` holds notifications of matching alerts; `exclude_budget` tells the SLO side
    to leave the window's events out of the error budget.
    """

    __tablename__ = "maintenance_windows"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    matchers: Mapped[list[Any]] = mapped_column(JSONType)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    cron: Mapped[str | None] = mapped_column(String(128))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    # One-off: the window itself. Recurring: the span in which occurrences count.
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    exclude_budget: Mapped[bool] = mapped_column(Boolean, default=False)
    mute: Mapped[bool] = mapped_column(Boolean, default=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(255), default="")
    # api | config (config windows are replaced whenever the routing file is loaded)
    source: Mapped[str] = mapped_column(String(16), default="api")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertCursor(Base):
    """Progress markers of the detectors (e.g. the last dataset change looked at)."""

    __tablename__ = "alert_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime | None]


class SchemaSeen(Base):
    """The newest dataset version whose schema the breaking-change detector compared."""

    __tablename__ = "alert_schema_seen"

    dataset_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer)
