"""Alerting: incidents, SLO alerts, timeline, impacts, receivers per incident, the
notification outbox and its delivery attempts, silences, maintenance windows, and the
detectors' cursors.

Revision ID: 0005_alerts
Revises: 0001_core
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005_alerts"
down_revision = "0001_core"
branch_labels = ("alerts",)
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_ = sa.JSON().with_variant(JSONB(), "postgresql")
NJSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
TS = sa.DateTime(timezone=True)


def _id() -> sa.Column:
    return sa.Column("id", BIGID, primary_key=True)


def _incident_fk() -> sa.Column:
    return sa.Column("incident_id", BIGID, sa.ForeignKey("incidents.id"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "incidents",
        _id(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("root_key", sa.String(255), nullable=False),
        sa.Column("open_key", sa.String(255), nullable=True, unique=True),
        sa.Column("dedup_key", sa.String(255), nullable=False, unique=True),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("root_cause", JSON_, nullable=False),
        sa.Column("labels", JSON_, nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("slo_name", sa.String(255), nullable=True),
        sa.Column("burn_rates", JSON_, nullable=False),
        sa.Column("budget_remaining", sa.Float(), nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("acknowledged_by", sa.String(255), nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolved_by", sa.String(255), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
    )
    op.create_index("ix_incidents_state_started", "incidents", ["state", "started_at"])
    op.create_index("ix_incidents_root_key", "incidents", ["root_key"])
    op.create_index("ix_incidents_owner", "incidents", ["owner"])

    op.create_table(
        "incident_alerts",
        _id(),
        _incident_fk(),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("open_key", sa.String(128), nullable=True, unique=True),
        sa.Column("slo_id", sa.Integer(), nullable=False),
        sa.Column("slo_name", sa.String(255), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("target_kind", sa.String(8), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("target_namespace", sa.String(1024), nullable=False),
        sa.Column("target_name", sa.String(2048), nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("labels", JSON_, nullable=False),
        sa.Column("burn_rates", JSON_, nullable=False),
        sa.Column("budget_remaining", sa.Float(), nullable=True),
        sa.Column("conditions", JSON_, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolution", sa.String(255), nullable=True),
        sa.Column("rearmed", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_incident_alerts_incident_id", "incident_alerts", ["incident_id"])
    op.create_index("ix_incident_alerts_slo_name", "incident_alerts", ["slo_name"])
    op.create_index("ix_incident_alerts_key", "incident_alerts", ["key", "started_at"])

    op.create_table(
        "incident_impacts",
        _id(),
        _incident_fk(),
        sa.Column("node_kind", sa.String(8), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("namespace", sa.String(1024), nullable=False),
        sa.Column("name", sa.String(2048), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
    )
    op.create_index("ix_incident_impacts_incident_id", "incident_impacts", ["incident_id"])
    op.create_index("ix_incident_impacts_owner", "incident_impacts", ["owner"])

    op.create_table(
        "incident_events",
        _id(),
        _incident_fk(),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", NJSON, nullable=True),
    )
    op.create_index("ix_incident_events_incident_id", "incident_events", ["incident_id"])

    op.create_table(
        "incident_receivers",
        _id(),
        _incident_fk(),
        sa.Column("receiver", sa.String(64), nullable=False),
        sa.Column("route", sa.String(128), nullable=False),
        sa.Column("repeat_seconds", sa.Float(), nullable=True),
        sa.Column("last_trigger_at", TS, nullable=True),
        sa.UniqueConstraint("incident_id", "receiver", name="uq_incident_receivers"),
    )

    op.create_table(
        "alert_outbox",
        _id(),
        _incident_fk(),
        sa.Column("receiver", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("dedup_key", sa.String(255), nullable=False),
        sa.Column("payload", JSON_, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("claimed_until", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("silence_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_alert_outbox_status", "alert_outbox", ["status", "id"])
    op.create_index("ix_alert_outbox_stream", "alert_outbox", ["incident_id", "receiver", "id"])

    op.create_table(
        "alert_delivery_attempts",
        _id(),
        sa.Column("outbox_id", BIGID, sa.ForeignKey("alert_outbox.id"), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("retryable", sa.Boolean(), nullable=False),
        sa.Column("retry_after", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index(
        "ix_alert_delivery_attempts_outbox_id", "alert_delivery_attempts", ["outbox_id"]
    )

    op.create_table(
        "alert_silences",
        _id(),
        sa.Column("matchers", JSON_, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_alert_silences_ends", "alert_silences", ["ends_at"])

    op.create_table(
        "maintenance_windows",
        _id(),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("matchers", JSON_, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("cron", sa.String(128), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("starts_at", TS, nullable=True),
        sa.Column("ends_at", TS, nullable=True),
        sa.Column("exclude_budget", sa.Boolean(), nullable=False),
        sa.Column("mute", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )

    op.create_table(
        "alert_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("at", TS, nullable=True),
    )
    op.create_table(
        "alert_schema_seen",
        sa.Column("dataset_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "alert_schema_seen",
        "alert_cursors",
        "maintenance_windows",
        "alert_silences",
        "alert_delivery_attempts",
        "alert_outbox",
        "incident_receivers",
        "incident_events",
        "incident_impacts",
        "incident_alerts",
        "incidents",
    ):
        op.drop_table(table)
