"""SLO engine: definitions, expanded SLOs, outcome verdicts, evaluations, evaluator state.

Also one index on `runs`: the success-rate SLI recomputes the run groups of a job from a
given instant on (a late or retried run changes the verdict of its schedule tick), and a
group is found by its anchor: the nominal time, else the start, else the end. Indexing
that expression per job makes the lookup a range scan on both databases.

Revision ID: 0004_slo
Revises: 0001_core
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004_slo"
down_revision = "0001_core"
branch_labels = ("slo",)
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_ = sa.JSON().with_variant(JSONB(), "postgresql")
NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
TS = sa.DateTime(timezone=True)
RUN_ANCHOR = "coalesce(nominal_end_time, nominal_start_time, started_at, ended_at)"


def upgrade() -> None:
    op.create_table(
        "slo_definitions",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("document", JSON_, nullable=False),
        sa.Column("sli_kind", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("tier", sa.String(length=64), nullable=True),
        sa.Column("labels", JSON_, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "slos",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("definition_id", BIGID, nullable=False),
        sa.Column("entity", sa.String(length=8), nullable=False),
        sa.Column("namespace", sa.String(length=1024), nullable=False),
        sa.Column("entity_name", sa.String(length=2048), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=True),
        sa.Column("materialized_revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("severity", sa.String(length=8), nullable=True),
        sa.Column("latest_evaluation_id", sa.BigInteger(), nullable=True),
        sa.Column("report_key", sa.String(length=32), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["definition_id"], ["slo_definitions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("definition_id", "namespace", "entity_name", name="uq_slos_target"),
    )
    op.create_index("ix_slos_definition_id", "slos", ["definition_id"])
    op.create_index("ix_slos_state", "slos", ["state"])
    op.create_table(
        "slo_outcomes",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("slo_id", BIGID, nullable=False),
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("good", sa.Boolean(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("ref_at", TS, nullable=False),
        sa.Column("missing", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["slo_id"], ["slos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slo_id", "key", name="uq_slo_outcomes_key"),
    )
    op.create_index("ix_slo_outcomes_bucket", "slo_outcomes", ["bucket"])
    op.create_index("ix_slo_outcomes_ref", "slo_outcomes", ["slo_id", "ref_at"])
    op.create_index("ix_slo_outcomes_run", "slo_outcomes", ["run_id"])
    op.create_table(
        "slo_evaluations",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("slo_id", BIGID, nullable=False),
        sa.Column("evaluated_at", TS, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=True),
        sa.Column("budget_remaining", sa.Float(), nullable=True),
        sa.Column("report", JSON_, nullable=False),
        sa.ForeignKeyConstraint(["slo_id"], ["slos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_slo_evaluations_slo_time", "slo_evaluations", ["slo_id", "evaluated_at"])
    op.create_table(
        "slo_evaluator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_watermark", sa.BigInteger(), nullable=False),
        sa.Column("evaluated_at", TS, nullable=True),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("pending", NULLABLE_JSON, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_runs_slo_anchor", "runs", ["job_id", sa.text(RUN_ANCHOR)])


def downgrade() -> None:
    op.drop_index("ix_runs_slo_anchor", table_name="runs")
    for table in ("slo_evaluator", "slo_evaluations", "slo_outcomes", "slos", "slo_definitions"):
        op.drop_table(table)
