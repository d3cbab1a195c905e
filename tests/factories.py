"""Event builders for tests: small, explicit OpenLineage events we write ourselves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PRODUCER = "https://github.com/dataslo/dataslo/tests"
T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def ts(minutes: float = 0) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def dataset(name: str, namespace: str = "warehouse", fields=None, rows: int | None = None, facets=None,
            output: bool = False) -> dict:
    d: dict = {"namespace": namespace, "name": name, "facets": dict(facets or {})}
    if fields is not None:
        d["facets"]["schema"] = {"_producer": PRODUCER, "_schemaURL": "x",
                                 "fields": [{"name": n, "type": t} for n, t in fields]}
    if rows is not None and output:
        d["outputFacets"] = {"outputStatistics": {"_producer": PRODUCER, "_schemaURL": "x", "rowCount": rows}}
    return d


def run_event(event_type: str | None, run_id: str, job: str = "etl.job", *, namespace: str = "pipelines",
              at: float = 0, inputs=None, outputs=None, run_facets=None, job_facets=None,
              parent: tuple[str, str] | None = None) -> dict:
    facets = dict(run_facets or {})
    if parent:
        parent_run, parent_job = parent
        facets["parent"] = {"_producer": PRODUCER, "_schemaURL": "x", "run": {"runId": parent_run},
                            "job": {"namespace": namespace, "name": parent_job}}
    event = {
        "eventTime": ts(at),
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": run_id, "facets": facets},
        "job": {"namespace": namespace, "name": job, "facets": dict(job_facets or {})},
        "inputs": list(inputs or []),
        "outputs": list(outputs or []),
    }
    if event_type is not None:
        event["eventType"] = event_type
    return event


def new_run_id() -> str:
    return str(uuid.uuid4())
