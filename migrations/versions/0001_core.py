"""Core store: namespaces, jobs, datasets, runs, versions, lineage, raw events, tokens.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

# Integer on SQLite keeps primary keys as rowid aliases (autoincrementing).
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_ = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("scopes", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "lineage_events",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("event_hash", sa.String(length=64), nullable=False),
        sa.Column("event_kind", sa.String(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_uuid", sa.String(length=36), nullable=True),
        sa.Column("job_namespace", sa.String(length=1024), nullable=True),
        sa.Column("job_name", sa.String(length=2048), nullable=True),
        sa.Column("producer", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", JSON_, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_hash"),
    )
    op.create_index("ix_lineage_events_event_time", "lineage_events", ["event_time"], unique=False)
    op.create_index(
        op.f("ix_lineage_events_run_uuid"), "lineage_events", ["run_uuid"], unique=False
    )
    op.create_table(
        "namespaces",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "datasets",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("namespace_id", BIGID, nullable=False),
        sa.Column("name", sa.String(length=2048), nullable=False),
        sa.Column("source_name", sa.String(length=1024), nullable=True),
        sa.Column("source_uri", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("dataset_type", sa.String(length=64), nullable=True),
        sa.Column("owners", JSON_, nullable=False),
        sa.Column("tags", JSON_, nullable=False),
        sa.Column("facets", JSON_, nullable=False),
        sa.Column("lifecycle_state", sa.String(length=32), nullable=True),
        sa.Column("current_version_id", sa.BigInteger(), nullable=True),
        sa.Column("last_modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("namespace_id", "name", name="uq_datasets_namespace_name"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("namespace_id", BIGID, nullable=False),
        sa.Column("name", sa.String(length=2048), nullable=False),
        sa.Column("processing_type", sa.String(length=32), nullable=True),
        sa.Column("integration", sa.String(length=128), nullable=True),
        sa.Column("job_type", sa.String(length=128), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source_code_language", sa.String(length=64), nullable=True),
        sa.Column("source_code", sa.Text(), nullable=True),
        sa.Column("source_code_url", sa.Text(), nullable=True),
        sa.Column("sql", sa.Text(), nullable=True),
        sa.Column("owners", JSON_, nullable=False),
        sa.Column("tags", JSON_, nullable=False),
        sa.Column("facets", JSON_, nullable=False),
        sa.Column("parent_job_id", BIGID, nullable=True),
        sa.Column("latest_run_uuid", sa.String(length=36), nullable=True),
        sa.Column("latest_run_state", sa.String(length=16), nullable=True),
        sa.Column("latest_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("edges_as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
        ),
        sa.ForeignKeyConstraint(
            ["parent_job_id"],
            ["jobs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("namespace_id", "name", name="uq_jobs_namespace_name"),
    )
    op.create_index(op.f("ix_jobs_latest_run_state"), "jobs", ["latest_run_state"], unique=False)
    op.create_table(
        "dataset_fields",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("dataset_id", BIGID, nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("type", sa.String(length=1024), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "name", name="uq_dataset_fields"),
    )
    op.create_table(
        "dataset_symlinks",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("namespace", sa.String(length=1024), nullable=False),
        sa.Column("name", sa.String(length=2048), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("dataset_id", BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("namespace", "name", name="uq_dataset_symlinks"),
    )
    op.create_index(
        op.f("ix_dataset_symlinks_dataset_id"), "dataset_symlinks", ["dataset_id"], unique=False
    )
    op.create_table(
        "lineage_edges",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("job_id", BIGID, nullable=False),
        sa.Column("dataset_id", BIGID, nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "job_id", "dataset_id", "direction", "valid_from", name="uq_lineage_edges"
        ),
    )
    op.create_index(
        "ix_lineage_edges_dataset",
        "lineage_edges",
        ["dataset_id", "direction", "valid_to"],
        unique=False,
    )
    op.create_index(
        "ix_lineage_edges_job", "lineage_edges", ["job_id", "direction", "valid_to"], unique=False
    )
    op.create_table(
        "runs",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("run_uuid", sa.String(length=36), nullable=False),
        sa.Column("job_id", BIGID, nullable=False),
        sa.Column("parent_run_id", BIGID, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state_event_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("nominal_start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("nominal_end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_language", sa.String(length=64), nullable=True),
        sa.Column("stack_trace", sa.Text(), nullable=True),
        sa.Column("facets", JSON_, nullable=False),
        sa.Column("facet_times", JSON_, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["parent_run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_uuid", "job_id", name="uq_runs_uuid_job"),
    )
    op.create_index("ix_runs_job_created", "runs", ["job_id", "created_at"], unique=False)
    op.create_index(op.f("ix_runs_parent_run_id"), "runs", ["parent_run_id"], unique=False)
    op.create_index(op.f("ix_runs_run_uuid"), "runs", ["run_uuid"], unique=False)
    op.create_index("ix_runs_state_started", "runs", ["state", "started_at"], unique=False)
    op.create_table(
        "column_lineage",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("run_id", BIGID, nullable=True),
        sa.Column("job_id", BIGID, nullable=True),
        sa.Column("output_dataset_id", BIGID, nullable=False),
        sa.Column("output_field", sa.String(length=1024), nullable=False),
        sa.Column("input_dataset_id", BIGID, nullable=False),
        sa.Column("input_field", sa.String(length=1024), nullable=False),
        sa.Column("transformation_type", sa.String(length=32), nullable=False),
        sa.Column("transformation_subtype", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("masking", sa.Boolean(), nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["input_dataset_id"],
            ["datasets.id"],
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["output_dataset_id"],
            ["datasets.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "run_id",
            "output_dataset_id",
            "output_field",
            "input_dataset_id",
            "input_field",
            "transformation_type",
            "transformation_subtype",
            name="uq_column_lineage",
        ),
    )
    op.create_index(
        "ix_column_lineage_input",
        "column_lineage",
        ["input_dataset_id", "input_field"],
        unique=False,
    )
    op.create_index(
        "ix_column_lineage_output",
        "column_lineage",
        ["output_dataset_id", "output_field"],
        unique=False,
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("dataset_id", BIGID, nullable=False),
        sa.Column("run_id", BIGID, nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=True),
        sa.Column("byte_size", sa.BigInteger(), nullable=True),
        sa.Column("file_count", sa.BigInteger(), nullable=True),
        sa.Column("fields", JSON_, nullable=True),
        sa.Column("lifecycle_state", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "run_id", name="uq_dataset_versions_run"),
    )
    op.create_index(
        "ix_dataset_versions_dataset_time",
        "dataset_versions",
        ["dataset_id", "event_time"],
        unique=False,
    )
    op.create_index(
        op.f("ix_dataset_versions_run_id"), "dataset_versions", ["run_id"], unique=False
    )
    op.create_table(
        "quality_assertions",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("run_id", BIGID, nullable=False),
        sa.Column("dataset_id", BIGID, nullable=True),
        sa.Column("assertion", sa.String(length=1024), nullable=False),
        sa.Column("column_name", sa.String(length=1024), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("severity", sa.String(length=32), nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "run_id", "dataset_id", "assertion", "column_name", name="uq_quality_assertions"
        ),
    )
    op.create_index(
        "ix_quality_assertions_dataset_time",
        "quality_assertions",
        ["dataset_id", "event_time"],
        unique=False,
    )
    op.create_table(
        "quality_metrics",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("run_id", BIGID, nullable=False),
        sa.Column("dataset_id", BIGID, nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=True),
        sa.Column("byte_size", sa.BigInteger(), nullable=True),
        sa.Column("file_count", sa.BigInteger(), nullable=True),
        sa.Column("column_metrics", JSON_, nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "dataset_id", name="uq_quality_metrics"),
    )
    op.create_index(
        op.f("ix_quality_metrics_dataset_id"), "quality_metrics", ["dataset_id"], unique=False
    )
    op.create_table(
        "run_inputs",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("run_id", BIGID, nullable=False),
        sa.Column("dataset_id", BIGID, nullable=False),
        sa.Column("dataset_version_id", sa.BigInteger(), nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "dataset_id", name="uq_run_inputs"),
    )
    op.create_index(op.f("ix_run_inputs_dataset_id"), "run_inputs", ["dataset_id"], unique=False)


def downgrade() -> None:

    op.drop_index(op.f("ix_run_inputs_dataset_id"), table_name="run_inputs")
    op.drop_table("run_inputs")
    op.drop_index(op.f("ix_quality_metrics_dataset_id"), table_name="quality_metrics")
    op.drop_table("quality_metrics")
    op.drop_index("ix_quality_assertions_dataset_time", table_name="quality_assertions")
    op.drop_table("quality_assertions")
    op.drop_index(op.f("ix_dataset_versions_run_id"), table_name="dataset_versions")
    op.drop_index("ix_dataset_versions_dataset_time", table_name="dataset_versions")
    op.drop_table("dataset_versions")
    op.drop_index("ix_column_lineage_output", table_name="column_lineage")
    op.drop_index("ix_column_lineage_input", table_name="column_lineage")
    op.drop_table("column_lineage")
    op.drop_index("ix_runs_state_started", table_name="runs")
    op.drop_index(op.f("ix_runs_run_uuid"), table_name="runs")
    op.drop_index(op.f("ix_runs_parent_run_id"), table_name="runs")
    op.drop_index("ix_runs_job_created", table_name="runs")
    op.drop_table("runs")
    op.drop_index("ix_lineage_edges_job", table_name="lineage_edges")
    op.drop_index("ix_lineage_edges_dataset", table_name="lineage_edges")
    op.drop_table("lineage_edges")
    op.drop_index(op.f("ix_dataset_symlinks_dataset_id"), table_name="dataset_symlinks")
    op.drop_table("dataset_symlinks")
    op.drop_table("dataset_fields")
    op.drop_index(op.f("ix_jobs_latest_run_state"), table_name="jobs")
    op.drop_table("jobs")
    op.drop_table("datasets")
    op.drop_table("namespaces")
    op.drop_index(op.f("ix_lineage_events_run_uuid"), table_name="lineage_events")
    op.drop_index("ix_lineage_events_event_time", table_name="lineage_events")
    op.drop_table("lineage_events")
    op.drop_table("api_tokens")
