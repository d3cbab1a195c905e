"""Core ORM models: what OpenLineage events tell, kept queryable.

Identity rules (see README "Data model"):
- a job is (namespace, name); a dataset is (namespace, name), with symlink aliases
  resolving to the same row;
- a run is (runId, job): one integration reuses a runId across several jobs of one
  run, and those must stay separate runs;
- the raw event is kept append-only, keyed by the hash of its canonical JSON, which is
  what makes ingestion idempotent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.store.types import JSONType, NullableJSON, UTCDateTime, utcnow

# BIGINT on PostgreSQL, but INTEGER on SQLite so the primary key stays the rowid alias.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType}


class Namespace(Base):
    __tablename__ = "namespaces"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(1024), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("namespace_id", "name", name="uq_jobs_namespace_name"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id"))
    name: Mapped[str] = mapped_column(String(2048))
    # From the jobType facet: BATCH/STREAMING, the integration, and QUERY/TASK/DAG/...
    processing_type: Mapped[str | None] = mapped_column(String(32))
    integration: Mapped[str | None] = mapped_column(String(128))
    job_type: Mapped[str | None] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text)
    source_code_language: Mapped[str | None] = mapped_column(String(64))
    source_code: Mapped[str | None] = mapped_column(Text)
    source_code_url: Mapped[str | None] = mapped_column(Text)
    sql: Mapped[str | None] = mapped_column(Text)
    owners: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    tags: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    facets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    parent_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    # Denormalised latest run, so "jobs whose last run failed" is an index scan.
    latest_run_uuid: Mapped[str | None] = mapped_column(String(36))
    latest_run_state: Mapped[str | None] = mapped_column(String(16), index=True)
    latest_run_at: Mapped[datetime | None]
    # eventTime of the completed run whose inputs/outputs last reshaped this job's edges.
    edges_as_of: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (
        UniqueConstraint("namespace_id", "name", name="uq_datasets_namespace_name"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id"))
    name: Mapped[str] = mapped_column(String(2048))
    source_name: Mapped[str | None] = mapped_column(String(1024))
    source_uri: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    dataset_type: Mapped[str | None] = mapped_column(String(64))
    owners: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    tags: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    facets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lifecycle_state: Mapped[str | None] = mapped_column(String(32))
    current_version_id: Mapped[int | None] = mapped_column(BigInteger)
    # When a completed run last wrote it: the freshness clock. Marquez leaves this null.
    last_modified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasetField(Base):
    """The current schema of a dataset, one row per top-level field."""

    __tablename__ = "dataset_fields"
    __table_args__ = (UniqueConstraint("dataset_id", "name", name="uq_dataset_fields"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(1024))
    type: Mapped[str | None] = mapped_column(String(1024))
    description: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)


class DatasetSymlink(Base):
    """An alias identifier (from the symlinks facet) that resolves to a dataset."""

    __tablename__ = "dataset_symlinks"
    __table_args__ = (UniqueConstraint("namespace", "name", name="uq_dataset_symlinks"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(1024))
    name: Mapped[str] = mapped_column(String(2048))
    type: Mapped[str | None] = mapped_column(String(64))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("run_uuid", "job_id", name="uq_runs_uuid_job"),
        Index("ix_runs_job_created", "job_id", "created_at"),
        Index("ix_runs_state_started", "state", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    run_uuid: Mapped[str] = mapped_column(String(36), index=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    parent_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True)
    # NEW, RUNNING, COMPLETED, FAILED, ABORTED (Marquez's names).
    state: Mapped[str] = mapped_column(String(16), default="NEW")
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    # eventTime of the event that set `state`; terminal states are ordered by it.
    state_event_time: Mapped[datetime | None]
    nominal_start_time: Mapped[datetime | None]
    nominal_end_time: Mapped[datetime | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    error_language: Mapped[str | None] = mapped_column(String(64))
    stack_trace: Mapped[str | None] = mapped_column(Text)
    facets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # eventTime at which each facet was last set, so a late event never overwrites a newer facet.
    facet_times: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasetVersion(Base):
    """What one run wrote to one dataset: row count, size and the schema at that version."""

    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("dataset_id", "run_id", name="uq_dataset_versions_run"),
        Index("ix_dataset_versions_dataset_time", "dataset_id", "event_time"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    event_time: Mapped[datetime]
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    byte_size: Mapped[int | None] = mapped_column(BigInteger)
    file_count: Mapped[int | None] = mapped_column(BigInteger)
    fields: Mapped[list[Any] | None] = mapped_column(NullableJSON)
    lifecycle_state: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunInput(Base):
    """A dataset a run read, and the version of it that was current when it did."""

    __tablename__ = "run_inputs"
    __table_args__ = (UniqueConstraint("run_id", "dataset_id", name="uq_run_inputs"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    dataset_version_id: Mapped[int | None] = mapped_column(BigInteger)
    event_time: Mapped[datetime]


class QualityAssertion(Base):
    """One data-quality assertion result (dataQualityAssertions facet or the `test` run facet)."""

    __tablename__ = "quality_assertions"
    __table_args__ = (
        UniqueConstraint(
            "run_id", "dataset_id", "assertion", "column_name", name="uq_quality_assertions"
        ),
        Index("ix_quality_assertions_dataset_time", "dataset_id", "event_time"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    # Null for run-level tests that name no dataset.
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id"))
    assertion: Mapped[str] = mapped_column(String(1024))
    # '' rather than NULL so the uniqueness above holds on every database.
    column_name: Mapped[str] = mapped_column(String(1024), default="")
    success: Mapped[bool] = mapped_column(Boolean)
    severity: Mapped[str | None] = mapped_column(String(32))
    event_time: Mapped[datetime]


class QualityMetrics(Base):
    """dataQualityMetrics of an input dataset for one run."""

    __tablename__ = "quality_metrics"
    __table_args__ = (UniqueConstraint("run_id", "dataset_id", name="uq_quality_metrics"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    byte_size: Mapped[int | None] = mapped_column(BigInteger)
    file_count: Mapped[int | None] = mapped_column(BigInteger)
    column_metrics: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    event_time: Mapped[datetime]


class ColumnLineage(Base):
    """One input field feeding one output field, as a run's columnLineage facet said."""

    __tablename__ = "column_lineage"
    __table_args__ = (
        UniqueConstraint(
            "run_id",
            "output_dataset_id",
            "output_field",
            "input_dataset_id",
            "input_field",
            "transformation_type",
            "transformation_subtype",
            name="uq_column_lineage",
        ),
        Index("ix_column_lineage_output", "output_dataset_id", "output_field"),
        Index("ix_column_lineage_input", "input_dataset_id", "input_field"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    output_dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    # '' for dataset-level dependencies (the facet's `dataset` list).
    output_field: Mapped[str] = mapped_column(String(1024))
    input_dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    input_field: Mapped[str] = mapped_column(String(1024))
    transformation_type: Mapped[str] = mapped_column(String(32), default="")
    transformation_subtype: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str | None] = mapped_column(Text)
    masking: Mapped[bool | None] = mapped_column(Boolean)
    event_time: Mapped[datetime]


class LineageEdge(Base):
    """A job reading (`in`) or writing (`out`) a dataset over a span of time.

    Open edges (valid_to NULL) are the current graph; closed ones answer `at=`.
    """

    __tablename__ = "lineage_edges"
    __table_args__ = (
        UniqueConstraint(
            "job_id", "dataset_id", "direction", "valid_from", name="uq_lineage_edges"
        ),
        Index("ix_lineage_edges_dataset", "dataset_id", "direction", "valid_to"),
        Index("ix_lineage_edges_job", "job_id", "direction", "valid_to"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    direction: Mapped[str] = mapped_column(String(3))
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]


class LineageEvent(Base):
    """The raw event, append-only, for audit and replay."""

    __tablename__ = "lineage_events"
    __table_args__ = (Index("ix_lineage_events_event_time", "event_time"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    event_hash: Mapped[str] = mapped_column(String(64), unique=True)
    event_kind: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str | None] = mapped_column(String(16))
    event_time: Mapped[datetime]
    run_uuid: Mapped[str | None] = mapped_column(String(36), index=True)
    job_namespace: Mapped[str | None] = mapped_column(String(1024))
    job_name: Mapped[str | None] = mapped_column(String(2048))
    producer: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The canonical JSON text that was hashed (sorted keys, compact): sha256(payload) ==
    # event_hash. Text, not JSONB: written once, read whole, never queried inside.
    payload: Mapped[str] = mapped_column(Text)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    # sha256 of the secret: tokens are high-entropy, so a slow KDF buys nothing here.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
