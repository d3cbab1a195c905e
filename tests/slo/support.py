"""Builders shared by the SLO store/API tests: events, SLO documents, evaluation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from factories import PRODUCER, T0, dataset, new_run_id, run_event

from app.ingest.schema import parse_event
from app.ingest.writer import EventStore
from app.slo.evaluation import Evaluation
from app.slo.loader import load_slo_documents
from app.slo.service import Evaluator
from app.slo.store import apply_definition

NS = "pipelines"


def minutes(at: datetime) -> float:
    return (at - T0) / timedelta(minutes=1)


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def nominal(tick: datetime) -> dict[str, Any]:
    return {"nominalTime": {"_producer": PRODUCER, "_schemaURL": "x", "nominalStartTime": tick.isoformat()}}


def finished(job: str, end: float, ok: bool = True, *, run_id: str | None = None,
             start: float | None = None, outputs=None, tick: datetime | None = None) -> list[dict]:
    """A run's events: START (when `start` is given) then COMPLETE or FAIL at `end`."""
    run_id = run_id or new_run_id()
    facets = nominal(tick) if tick is not None else None
    events = []
    if start is not None:
        events.append(run_event("START", run_id, job, namespace=NS, at=start, run_facets=facets))
    events.append(run_event("COMPLETE" if ok else "FAIL", run_id, job, namespace=NS, at=end,
                            outputs=outputs, run_facets=facets))
    return events


def write(job: str, table: str, end: float, rows: int | None = None, ok: bool = True) -> list[dict]:
    """A run of `job` that wrote `table` (with a row count) and ended at `end`."""
    return finished(job, end, ok, outputs=[dataset(table, rows=rows, output=rows is not None)])


def apply(factory, text: str, source: str = "api") -> list[str]:
    with factory() as s:
        names = [apply_definition(s, slo, source=source).row.name for slo in load_slo_documents(text)]
        s.commit()
    return names


def evaluate(factory, evaluator: Evaluator, now: datetime) -> dict[str, Evaluation]:
    with factory() as s:
        out = evaluator.run(s, now)
        s.commit()
    return {e.name if e.target_kind == "job" or e.name not in {x.name for x in out if x is not e}
            else f"{e.name}@{e.target_name}": e for e in out}


def store_events(factory, events: list[dict]) -> None:
    """Through the ingestion store (validation and batch apply) without HTTP."""
    EventStore(factory).store([parse_event(e) for e in events])
