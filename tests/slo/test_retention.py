"""Retention of stored evaluations: old rows go in bounded chunks, each SLO's latest
evaluation stays, and the scheduled job does it under its lease."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import T0
from sqlalchemy import func, select, update

from app.jobs import ScheduledJob, Scheduler
from app.slo.retention import prune_history, retention_job
from app.store.slo_models import Slo, SloEvaluation

from .support import apply

TWO = """
name: a
sli: {kind: duration, threshold: 1h}
target: {job: {namespace: n, name: j}}
objective: 0.9
---
name: b
sli: {kind: quality}
target: {dataset: {namespace: n, name: d}}
objective: 0.9
"""


def _history(factory, days_back: list[int]) -> dict[str, list[int]]:
    """Evaluations of both SLOs, one per day in `days_back` (days before T0); each SLO's
    latest points at its oldest evaluation, as after a long quiet spell."""
    apply(factory, TWO)
    ids: dict[str, list[int]] = {}
    with factory() as s:
        for slo_id, name in s.execute(select(Slo.id, Slo.namespace + ":" + Slo.entity_name)):
            rows = [SloEvaluation(slo_id=slo_id, evaluated_at=T0 - timedelta(days=d), state="ok",
                                  report={"windows": {}}) for d in days_back]
            s.add_all(rows)
            s.flush()
            ids[name] = [r.id for r in rows]
            s.execute(update(Slo).where(Slo.id == slo_id).values(latest_evaluation_id=rows[0].id))
        s.commit()
    return ids


def _remaining(factory) -> set[int]:
    with factory() as s:
        return set(s.scalars(select(SloEvaluation.id)))


def test_old_evaluations_go_in_bounded_chunks_and_each_latest_stays(factory):
    days = [100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 5, 1]
    ids = _history(factory, days)
    old = {i for rows in ids.values() for d, i in zip(days, rows, strict=True) if d > 45}
    latest = {rows[0] for rows in ids.values()}
    everything = {i for rows in ids.values() for i in rows}

    with factory() as s:  # at most 5 rows per run, in chunks of 2
        assert prune_history(s, T0, timedelta(days=45), chunk=2, max_rows=5) == 5
        s.commit()
    left = _remaining(factory)
    assert len(everything - left) == 5 and (everything - left) <= old - latest

    with factory() as s:  # the next run finishes the backlog, then there is nothing to do
        assert prune_history(s, T0, timedelta(days=45), chunk=2, max_rows=100) == len(old - latest) - 5
        assert prune_history(s, T0, timedelta(days=45), chunk=2, max_rows=100) == 0
        s.commit()
    assert _remaining(factory) == (everything - old) | latest


def test_the_retention_job_prunes_under_its_lease(factory):
    ids = _history(factory, [500, 401, 399, 10])
    scheduler = Scheduler(factory, holder="test")
    scheduler.add(ScheduledJob("slo.history_retention", retention_job(400), 600))
    assert scheduler.run_once("slo.history_retention", now=T0)
    left = _remaining(factory)
    # 401 days old goes; 500 days old is each SLO's latest, so it stays.
    assert left == {i for rows in ids.values() for i in (rows[0], rows[2], rows[3])}
    other = Scheduler(factory, holder="other replica")
    other.add(ScheduledJob("slo.history_retention", retention_job(1), 600))
    assert not other.run_once("slo.history_retention", now=T0 + timedelta(seconds=1))
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(SloEvaluation)) == 6


def test_a_retention_must_be_positive(session):
    with pytest.raises(ValueError):
        prune_history(session, T0, timedelta(0))
