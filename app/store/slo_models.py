"""Tables of the SLO engine: definitions, the SLOs they expand to, outcomes, evaluations.

Why several tables rather than one:
- `slo_definitions` keeps each document as written (native form, defaults spelled
  out), keyed by its unique name. A definition whose target is a selector (namespace
  glob, tags, owner) matches many datasets or jobs.
- `slos` holds what is evaluated: one row per (definition, dataset or job). A definition
  naming one dataset has exactly one; a selector has one per match, added and removed as
  the estate changes. Budgets, history, metrics and alerts are per row of this table.
- `slo_outcomes` is the durable incremental state: the verdict of every counted event
  (a run, a scheduled tick, a write, an assertion, or a time slice of them), keyed so a
  retried or re-sent event replaces its verdict instead of adding one. Window sums are
  kept in memory and moved by the rows entering and leaving each window, so evaluating
  never rescans the period; after a restart one aggregate over this table restores them.
- `slo_fresh_spans` holds the closed stale stretches of freshness SLOs, so a restart
  reads a few rows per SLO instead of a month of writes (app.slo.fresh_store).
- `slo_evaluations` stores each evaluation whose numbers changed, for history and
  burn-down charts (an unchanged evaluation would only repeat the previous row).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models import Base, BigIntPK
from app.store.types import JSONType, NullableJSON, utcnow


class SloDefinitionRow(Base):
    __tablename__ = "slo_definitions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    # The native document (app.slo.definitions.to_native), defaults spelled out.
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    sli_kind: Mapped[str] = mapped_column(String(32))
    # dataset | job: what each expanded SLO measures.
    entity: Mapped[str] = mapped_column(String(8))
    # api | cli | file: a definition loaded from DATASLO_SLO_DIR belongs to its file.
    source: Mapped[str] = mapped_column(String(8))
    source_file: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(255))
    tier: Mapped[str | None] = mapped_column(String(64))
    labels: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Bumped whenever the document changes: expanded SLOs recompute their outcomes.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Slo(Base):
    """One evaluated SLO: a definition applied to one dataset or job."""

    __tablename__ = "slos"
    __table_args__ = (
        UniqueConstraint("definition_id", "namespace", "entity_name", name="uq_slos_target"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    definition_id: Mapped[int] = mapped_column(
        ForeignKey("slo_definitions.id", ondelete="CASCADE"), index=True
    )
    entity: Mapped[str] = mapped_column(String(8))
    namespace: Mapped[str] = mapped_column(String(1024))
    entity_name: Mapped[str] = mapped_column(String(2048))
    # The dataset or job row, once it exists (a definition may name one not yet seen).
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    # Definition revision whose outcomes are in slo_outcomes; 0 = not computed yet.
    materialized_revision: Mapped[int] = mapped_column(Integer, default=0)
    # Latest evaluation, denormalised so listings filter by state without a join.
    state: Mapped[str | None] = mapped_column(String(16), index=True)
    severity: Mapped[str | None] = mapped_column(String(8))
    latest_evaluation_id: Mapped[int | None] = mapped_column(BigInteger)
    # Digest of the numbers behind the latest evaluation: a pass after a restart stores
    # a new evaluation only when they differ.
    report_key: Mapped[str | None] = mapped_column(String(32))
    # Freshness: the stored stale spans (slo_fresh_spans) are exact from this instant on.
    fresh_from: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SloOutcome(Base):
    """The current verdict of one counted thing, in one minute bucket."""

    __tablename__ = "slo_outcomes"
    __table_args__ = (
        UniqueConstraint("slo_id", "key", name="uq_slo_outcomes_key"),
        # Rows entering and leaving windows as the clock moves, across every SLO.
        Index("ix_slo_outcomes_bucket", "bucket"),
        # Recomputing a stretch of one SLO's history after a late event.
        Index("ix_slo_outcomes_ref", "slo_id", "ref_at"),
        # Where a changed run's previous verdicts lie.
        Index("ix_slo_outcomes_run", "run_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    slo_id: Mapped[int] = mapped_column(ForeignKey("slos.id", ondelete="CASCADE"))
    # run:<id>, tick:<iso>, v:<version id>, q:<assertion id>, s:<slice index>,
    # w:<run id> (a write a freshness SLO counts: kept for its instant, never counted)
    key: Mapped[str] = mapped_column(String(96))
    # Minutes since the epoch of the outcome's instant (finish, due time, write, check).
    bucket: Mapped[int] = mapped_column(BigInteger)
    good: Mapped[bool] = mapped_column(Boolean)
    # False for the raw events of a time-sliced SLO: only their slices are counted.
    counted: Mapped[bool] = mapped_column(Boolean, default=True)
    # The run that decided the verdict (the final attempt), for "what spent the budget".
    run_id: Mapped[int | None] = mapped_column(BigInteger)
    # When the thing belongs: the schedule tick of a run group, a run's start, a write.
    ref_at: Mapped[datetime]
    # An expected run that never started: bad with no run to point at.
    missing: Mapped[bool] = mapped_column(Boolean, default=False)


class SloFreshSpan(Base):
    """A stretch during which a freshness SLO's dataset was stale, ended by a write.

    Stored from `slos.fresh_from` up to the dataset's last write; the open stretch after
    that write follows from the write and the clock alone, so it is never stored.
    """

    __tablename__ = "slo_fresh_spans"
    __table_args__ = (Index("ix_slo_fresh_spans_slo", "slo_id", "start_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    slo_id: Mapped[int] = mapped_column(ForeignKey("slos.id", ondelete="CASCADE"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]


class SloEvaluation(Base):
    __tablename__ = "slo_evaluations"
    __table_args__ = (
        Index("ix_slo_evaluations_slo_time", "slo_id", "evaluated_at"),
        # Retention finds the oldest rows without scanning the table.
        Index("ix_slo_evaluations_time", "evaluated_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    slo_id: Mapped[int] = mapped_column(ForeignKey("slos.id", ondelete="CASCADE"))
    evaluated_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str | None] = mapped_column(String(8))
    # A float copy for charts and sorting; the exact value is in `report`.
    budget_remaining: Mapped[float | None] = mapped_column(Float)
    # Windows, budget and conditions with exact fractions as "p/q" strings.
    report: Mapped[dict[str, Any]] = mapped_column(JSONType)


class SloEvaluatorState(Base):
    """Where the evaluator stands: the event watermark and the clock of its last pass.

    `token` changes with every pass; a replica whose in-memory sums were built from a
    different token (another replica evaluated meanwhile, or a pass rolled back) knows
    they are stale and rebuilds them.
    """

    __tablename__ = "slo_evaluator"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_watermark: Mapped[int] = mapped_column(BigInteger, default=0)
    evaluated_at: Mapped[datetime | None]
    token: Mapped[str] = mapped_column(String(32))
    # Sequence gaps below the watermark still waiting for their transaction to commit.
    pending: Mapped[list[Any] | None] = mapped_column(NullableJSON)
