"""Demo estate for `make run`: three days of a small Airflow-style pipeline.

Built with the openlineage-python client's own event classes, so what the demo stores is
exactly what a real producer would send. One run fails, so the UI and the API have a
failure, an error message and a stale downstream table to show.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    ownership_job,
    parent_run,
    schema_dataset,
)
from openlineage.client.serde import Serde
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.ingest.schema import parse_event
from app.ingest.writer import EventStore
from app.store.models import LineageEvent

PRODUCER = "https://github.com/dataslo/dataslo/demo"
NS = "demo-airflow"
WAREHOUSE = "postgres://warehouse:5432"

# task -> (inputs, outputs, owner)
PIPELINE = {
    "extract_orders": (["shop.public.orders"], ["raw.orders"], "team-ingest"),
    "extract_customers": (["shop.public.customers"], ["raw.customers"], "team-ingest"),
    "build_sales_daily": (["raw.orders", "raw.customers"], ["analytics.sales_daily"], "team-analytics"),
    "publish_exec_dashboard": (["analytics.sales_daily"], ["bi.exec_dashboard"], "team-bi"),
}
SCHEMAS = {
    "raw.orders": [("order_id", "bigint"), ("customer_id", "bigint"), ("amount", "numeric")],
    "raw.customers": [("customer_id", "bigint"), ("country", "text")],
    "analytics.sales_daily": [("day", "date"), ("country", "text"), ("revenue", "numeric")],
    "bi.exec_dashboard": [("day", "date"), ("revenue", "numeric")],
}


def _dataset_facets(name: str) -> dict:
    fields = [schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in SCHEMAS.get(name, [])]
    return {"schema": schema_dataset.SchemaDatasetFacet(fields=fields)} if fields else {}


def demo_events(now: datetime | None = None, days: int = 3) -> list[dict]:
    now = now or datetime.now(UTC)
    events: list[RunEvent] = []
    for day in range(days, 0, -1):
        start = (now - timedelta(days=day)).replace(hour=5, minute=0, second=0, microsecond=0)
        dag_run = str(uuid.uuid4())
        dag_job = Job(namespace=NS, name="daily_sales",
                      facets={"jobType": job_type_job.JobTypeJobFacet("BATCH", "AIRFLOW", "DAG")})
        events.append(RunEvent(eventTime=start.isoformat(), producer=PRODUCER, eventType=RunState.START,
                               run=Run(runId=dag_run), job=dag_job))
        failed_today = day == 1  # yesterday's build failed: the dashboard is stale
        clock = start
        for task, (inputs, outputs, owner) in PIPELINE.items():
            run_id = str(uuid.uuid4())
            job = Job(namespace=NS, name=f"daily_sales.{task}", facets={
                "jobType": job_type_job.JobTypeJobFacet("BATCH", "AIRFLOW", "TASK"),
                "ownership": ownership_job.OwnershipJobFacet(owners=[ownership_job.Owner(name=owner)]),
            })
            parent = {"parent": parent_run.ParentRunFacet(
                run=parent_run.Run(runId=dag_run), job=parent_run.Job(namespace=NS, name="daily_sales"))}
            ins = [InputDataset(namespace=WAREHOUSE, name=n, facets=_dataset_facets(n)) for n in inputs]
            outs = [OutputDataset(namespace=WAREHOUSE, name=n, facets=_dataset_facets(n),
                                  outputFacets={"outputStatistics": output_statistics_output_dataset.
                                                OutputStatisticsOutputDatasetFacet(rowCount=10_000 + day * 137)})
                    for n in outputs]
            events.append(RunEvent(eventTime=clock.isoformat(), producer=PRODUCER, eventType=RunState.START,
                                   run=Run(runId=run_id, facets=parent), job=job, inputs=ins, outputs=outs))
            clock += timedelta(minutes=7)
            fails = failed_today and task == "build_sales_daily"
            end_facets = dict(parent)
            if fails:
                end_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                    message="division by zero in revenue per country", programmingLanguage="SQL")
            events.append(RunEvent(eventTime=clock.isoformat(), producer=PRODUCER,
                                   eventType=RunState.FAIL if fails else RunState.COMPLETE,
                                   run=Run(runId=run_id, facets=end_facets), job=job, inputs=ins,
                                   outputs=[] if fails else outs))
            if fails:
                break
        events.append(RunEvent(eventTime=clock.isoformat(), producer=PRODUCER,
                               eventType=RunState.FAIL if failed_today else RunState.COMPLETE,
                               run=Run(runId=dag_run), job=dag_job))
    return [Serde.to_dict(e) for e in events]


def load_demo(session_factory: sessionmaker[Session]) -> int:
    """Load the demo into an empty store; a store that has events is left alone."""
    with session_factory() as session:
        if session.scalar(select(func.count()).select_from(LineageEvent)):
            return 0
    events = [parse_event(e) for e in demo_events()]
    EventStore(session_factory).store(events)
    return len(events)
