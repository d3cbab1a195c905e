"""Retention of stored evaluations (`slo_evaluations`), which otherwise grow forever.

Evaluations only feed history charts and the status endpoint; budgets and burn rates
come from `slo_outcomes`, so dropping old evaluations never changes a number. What is
kept: every evaluation newer than the retention, and each SLO's latest evaluation
whatever its age (the status endpoint and listings read it).

Deleting runs in chunks of `chunk` rows, at most `max_rows` per call: a backlog (the
setting just lowered, or a long-stopped service) drains over several scheduled runs
instead of one long transaction holding locks on the table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.slo.windows import as_utc
from app.store.slo_models import Slo, SloEvaluation

CHUNK = 5_000
MAX_ROWS_PER_RUN = 50_000
# How often the scheduled pruning runs; the retention is days, so this need not be tight.
INTERVAL_SECONDS = 600.0


def prune_history(session: Session, now: datetime, retention: timedelta, *,
                  chunk: int = CHUNK, max_rows: int = MAX_ROWS_PER_RUN) -> int:
    """Delete evaluations older than `retention` (flush only); returns how many."""
    if retention <= timedelta(0):
        raise ValueError("the retention must be positive")
    cutoff = as_utc(now) - retention
    latest = select(Slo.latest_evaluation_id).where(Slo.latest_evaluation_id.is_not(None))
    removed = 0
    while removed < max_rows:
        ids = list(session.scalars(
            select(SloEvaluation.id)
            .where(SloEvaluation.evaluated_at < cutoff, SloEvaluation.id.not_in(latest))
            .order_by(SloEvaluation.evaluated_at)
            .limit(min(chunk, max_rows - removed))
        ))
        if not ids:
            break
        session.execute(delete(SloEvaluation).where(SloEvaluation.id.in_(ids)))
        removed += len(ids)
    return removed


def retention_job(days: float) -> Callable[[Session, datetime], None]:
    """The scheduled job (the scheduler's wrapper holds the lease and commits)."""
    retention = timedelta(days=days)

    def job(session: Session, now: datetime) -> None:
        prune_history(session, now, retention)

    return job
