"""The Marquez-shaped read API, end to end: events go in through POST /api/v1/lineage and
what the read endpoints answer is checked exactly (shapes, totals, ordering, errors)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from app.auth import create_token
from app.main import create_app
from app.settings import Settings
from app.store.db import make_engine, make_session_factory

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PRODUCER = "https://github.com/dataslo/tests"
T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


# -- event builders ------------------------------------------------------------------------


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def rid(n: int) -> str:
    return str(uuid.UUID(int=n))


def facet(**fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/x.json", **fields}


def dataset(namespace: str, name: str, *, fields: list[tuple[str, str]] | None = None,
            rows: int | None = None, size: int | None = None, **facets: Any) -> dict[str, Any]:
    ds: dict[str, Any] = {"namespace": namespace, "name": name, "facets": dict(facets)}
    if fields is not None:
        ds["facets"]["schema"] = facet(fields=[{"name": n, "type": t} for n, t in fields])
    if rows is not None or size is not None:
        ds["outputFacets"] = {"outputStatistics": facet(rowCount=rows, size=size)}
    return ds


def parent(run_id: str, namespace: str, name: str) -> dict[str, Any]:
    return facet(run={"runId": run_id}, job={"namespace": namespace, "name": name})


def error(message: str) -> dict[str, Any]:
    return facet(message=message, programmingLanguage="python")


def run_event(event_type: str | None, run_id: str, job: str, minutes: float, *, namespace: str = "ns",
              inputs: list[dict] | None = None, outputs: list[dict] | None = None,
              run_facets: dict[str, Any] | None = None,
              job_facets: dict[str, Any] | None = None) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "eventTime": at(minutes),
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": run_id, "facets": run_facets or {}},
        "job": {"namespace": namespace, "name": job, "facets": job_facets or {}},
        "inputs": inputs or [],
        "outputs": outputs or [],
    }
    if event_type is not None:
        ev["eventType"] = event_type
    return ev


@contextmanager
def service(db_url: str) -> Iterator[TestClient]:
    # Scheduled work off: its background queries would be counted by the N+1 test.
    with TestClient(create_app(Settings(database_url=db_url, auth="auto", slo_scheduler=False))) as client:
        yield client


def post(client: TestClient, *events: dict[str, Any]) -> None:
    for ev in events:
        r = client.post("/api/v1/lineage", json=ev)
        assert r.status_code == 201, r.text


def get(client: TestClient, path: str, status: int = 200, **params: Any) -> Any:
    r = client.get(path, params=params)
    assert r.status_code == status, (path, r.status_code, r.text)
    return r.json()


def ids(items: list[dict[str, Any]]) -> list[Any]:
    return [i["id"] for i in items]


def names(items: list[dict[str, Any]]) -> list[str]:
    return [i["name"] for i in items]


def drop_times(obj: dict[str, Any]) -> dict[str, Any]:
    """createdAt/updatedAt are arrival times: check their format, then leave them out."""
    out = dict(obj)
    for key in ("createdAt", "updatedAt"):
        assert ISO.match(out.pop(key)), obj
    return out


# -- namespaces ----------------------------------------------------------------------------


def test_namespaces_are_listed_by_name_with_pagination(db_url):
    with service(db_url) as client:
        assert get(client, "/api/v1/namespaces") == {"namespaces": [], "totalCount": 0}
        post(client, run_event("START", rid(1), "job", 0, namespace="ns-b",
                               inputs=[dataset("ns-c", "in")], outputs=[dataset("ns-a", "out")]))
        body = get(client, "/api/v1/namespaces")
        assert body["totalCount"] == 3
        assert names(body["namespaces"]) == ["ns-a", "ns-b", "ns-c"]
        first = body["namespaces"][0]
        assert drop_times(first) == {
            "name": "ns-a", "ownerName": None, "description": None, "isHidden": False,
        }
        page = get(client, "/api/v1/namespaces", limit=1, offset=1)
        assert page["totalCount"] == 3 and names(page["namespaces"]) == ["ns-b"]
        assert get(client, "/api/v1/namespaces", offset=5) == {"namespaces": [], "totalCount": 3}
        assert get(client, "/api/v1/namespaces", limit=0) == {"namespaces": [], "totalCount": 3}
        assert get(client, "/api/v1/namespaces/ns-b")["name"] == "ns-b"


# -- jobs and datasets ---------------------------------------------------------------------

WAREHOUSE = "s3://warehouse"
ORDERS_OUT = "marts/orders.parquet"


def _airflow_task_events() -> list[dict[str, Any]]:
    job_facets = {
        "jobType": facet(processingType="BATCH", integration="AIRFLOW", jobType="TASK"),
        "sql": facet(query="INSERT INTO marts.orders SELECT * FROM orders"),
        "ownership": facet(owners=[{"name": "team:data", "type": "TEAM"}]),
        "tags": facet(tags=[{"key": "tier", "value": "gold", "source": "MANUAL"}]),
        "documentation": facet(description="Loads the orders mart"),
        "sourceCodeLocation": facet(type="git", url="https://github.com/acme/dags/blob/main/etl.py"),
    }
    run_facets = {
        "parent": parent(rid(100), "airflow", "etl"),
        "nominalTime": facet(nominalStartTime=at(-60), nominalEndTime=at(0)),
    }
    source = dataset("postgres://db:5432", "shop.public.orders")
    out_start = dataset(
        WAREHOUSE, ORDERS_OUT, fields=[("id", "BIGINT"), ("amount", "DECIMAL")],
        dataSource=facet(name="warehouse", uri="s3://warehouse"),
        symlinks=facet(identifiers=[{"namespace": "hive://metastore", "name": "marts.orders",
                                     "type": "TABLE"}]),
        ownership=facet(owners=[{"name": "alice", "type": "USER"}]),
        tags=facet(tags=[{"key": "pii", "value": "false"}]),
    )
    out_complete = dataset(WAREHOUSE, ORDERS_OUT, rows=42, size=4096)
    start = run_event("START", rid(1), "etl.load", 0, namespace="airflow", inputs=[source],
                      outputs=[out_start], run_facets=run_facets, job_facets=job_facets)
    complete = run_event("COMPLETE", rid(1), "etl.load", 10, namespace="airflow", inputs=[source],
                         outputs=[out_complete], run_facets=run_facets)
    return [start, complete]


def test_job_has_the_marquez_shape_and_our_extras(db_url):
    start, complete = _airflow_task_events()
    with service(db_url) as client:
        post(client, complete, start)  # out of order: COMPLETE arrives first
        listed = get(client, "/api/v1/namespaces/airflow/jobs")
        assert listed["totalCount"] == 2  # the DAG job exists from its first mention as parent
        assert names(listed["jobs"]) == ["etl", "etl.load"]
        job = get(client, "/api/v1/namespaces/airflow/jobs/etl.load")
        assert job == listed["jobs"][1]
        latest = job.pop("latestRun")
        assert drop_times(job) == {
            "id": {"namespace": "airflow", "name": "etl.load"},
            "type": "BATCH",
            "name": "etl.load",
            "simpleName": "load",
            "parentJobName": "etl",
            "parentJob": {"namespace": "airflow", "name": "etl"},
            "namespace": "airflow",
            "inputs": [{"namespace": "postgres://db:5432", "name": "shop.public.orders"}],
            "outputs": [{"namespace": WAREHOUSE, "name": ORDERS_OUT}],
            "location": "https://github.com/acme/dags/blob/main/etl.py",
            "description": "Loads the orders mart",
            "facets": start["job"]["facets"],
            "owners": [{"name": "team:data", "type": "TEAM"}],
            "tags": [{"key": "tier", "value": "gold", "source": "MANUAL"}],
            "sql": "INSERT INTO marts.orders SELECT * FROM orders",
            "jobType": "TASK",
            "processingType": "BATCH",
            "integration": "AIRFLOW",
        }
        dataset_body = get(client, f"/api/v1/namespaces/{WAREHOUSE}/datasets/{ORDERS_OUT}")
        version = dataset_body["currentVersion"]
        assert version is not None
        assert drop_times(latest) == {
            "id": rid(1),
            "nominalStartTime": at(-60),
            "nominalEndTime": at(0),
            "state": "COMPLETED",
            "startedAt": at(0),
            "endedAt": at(10),
            "durationMs": 600_000,
            "args": {},
            "jobVersion": None,
            "inputDatasetVersions": [{
                "datasetVersionId": {"namespace": "postgres://db:5432", "name": "shop.public.orders",
                                     "version": None},
                "facets": {}, "rowCount": None, "byteSize": None, "fileCount": None,
            }],
            "outputDatasetVersions": [{
                "datasetVersionId": {"namespace": WAREHOUSE, "name": ORDERS_OUT, "version": version},
                "facets": {}, "rowCount": 42, "byteSize": 4096, "fileCount": None,
            }],
            "context": {},
            "facets": start["run"]["facets"],
            "job": {"namespace": "airflow", "name": "etl.load"},
            "parentRunId": rid(100),
            "parentJob": {"namespace": "airflow", "name": "etl"},
            "errorMessage": None,
        }
        parent_job = get(client, "/api/v1/namespaces/airflow/jobs/etl")
        # The DAG run exists from its first mention (NEW): no event of its own has come yet.
        assert (parent_job["latestRun"]["id"], parent_job["latestRun"]["state"]) == (rid(100), "NEW")
        dag_runs = get(client, "/api/v1/namespaces/airflow/jobs/etl/runs")["runs"]
        assert [(r["id"], r["state"]) for r in dag_runs] == [(rid(100), "NEW")]
        assert parent_job["parentJobName"] is None and parent_job["simpleName"] == "etl"


def test_dataset_has_the_marquez_shape_and_resolves_aliases(db_url):
    start, complete = _airflow_task_events()
    with service(db_url) as client:
        post(client, start, complete)
        listed = get(client, f"/api/v1/namespaces/{WAREHOUSE}/datasets")
        assert listed["totalCount"] == 1
        body = get(client, f"/api/v1/namespaces/{WAREHOUSE}/datasets/{ORDERS_OUT}")
        assert body == listed["datasets"][0]
        assert body["currentVersion"] is not None
        expected_facets = {**start["outputs"][0]["facets"]}
        assert drop_times(body) == {
            "id": {"namespace": WAREHOUSE, "name": ORDERS_OUT},
            "type": "DB_TABLE",
            "name": ORDERS_OUT,
            "physicalName": ORDERS_OUT,
            "namespace": WAREHOUSE,
            "sourceName": "warehouse",
            "fields": [
                {"name": "id", "type": "BIGINT", "tags": [], "description": None},
                {"name": "amount", "type": "DECIMAL", "tags": [], "description": None},
            ],
            "tags": [{"key": "pii", "value": "false", "source": None}],
            "lastModifiedAt": at(10),
            "lastLifecycleState": None,
            "description": None,
            "facets": expected_facets,
            "currentVersion": body["currentVersion"],
            "owners": [{"name": "alice", "type": "USER"}],
            "symlinks": [{"namespace": "hive://metastore", "name": "marts.orders", "type": "TABLE"}],
            "datasetType": None,
        }
        # The alias resolves to the same dataset, though its namespace holds nothing else.
        alias = get(client, "/api/v1/namespaces/hive:%2F%2Fmetastore/datasets/marts.orders")
        assert alias == body
        # A dataset that was only read: no version, no freshness, no schema.
        source = get(client, "/api/v1/namespaces/postgres:%2F%2Fdb:5432/datasets/shop.public.orders")
        assert (source["currentVersion"], source["lastModifiedAt"], source["fields"]) == (None, None, [])


def test_input_versions_point_at_what_the_writer_produced(db_url):
    with service(db_url) as client:
        post(
            client,
            run_event("START", rid(1), "writer", 0, outputs=[dataset("ns", "t")]),
            run_event("COMPLETE", rid(1), "writer", 5, outputs=[dataset("ns", "t", rows=7, size=70)]),
            run_event("START", rid(2), "reader", 6, inputs=[dataset("ns", "t")]),
        )
        version = get(client, "/api/v1/namespaces/ns/datasets/t")["currentVersion"]
        run = get(client, f"/api/v1/jobs/runs/{rid(2)}")
        assert run["inputDatasetVersions"] == [{
            "datasetVersionId": {"namespace": "ns", "name": "t", "version": version},
            "facets": {}, "rowCount": 7, "byteSize": 70, "fileCount": None,
        }]
        assert run["outputDatasetVersions"] == []
        assert run["state"] == "RUNNING" and run["endedAt"] is None and run["durationMs"] is None


def test_jobs_are_paginated_by_name(db_url):
    with service(db_url) as client:
        post(client, *[run_event("START", rid(i), f"job-{i:02d}", i) for i in range(12)])
        page = get(client, "/api/v1/namespaces/ns/jobs", limit=5, offset=10)
        assert page["totalCount"] == 12
        assert names(page["jobs"]) == ["job-10", "job-11"]
        assert names(get(client, "/api/v1/namespaces/ns/jobs", limit=3)["jobs"]) == [
            "job-00", "job-01", "job-02"]
        datasets = get(client, "/api/v1/namespaces/ns/datasets")
        assert datasets == {"datasets": [], "totalCount": 0}


def test_streaming_jobs_have_the_stream_type(db_url):
    with service(db_url) as client:
        post(client, run_event("START", rid(1), "clicks", 0, job_facets={
            "jobType": facet(processingType="STREAMING", integration="FLINK", jobType="JOB")}))
        job = get(client, "/api/v1/namespaces/ns/jobs/clicks")
        assert (job["type"], job["processingType"], job["integration"], job["jobType"]) == (
            "STREAM", "STREAMING", "FLINK", "JOB")
        assert (job["latestRun"]["state"], job["latestRun"]["endedAt"]) == ("RUNNING", None)


# -- runs ------------------------------------------------------------------------------------


def test_runs_newest_first_with_state_and_duration_from_event_time(db_url):
    day = 24 * 60
    with service(db_url) as client:
        post(
            client,
            # Day 2: starts, fails with a message; a late RUNNING arrives afterwards.
            run_event("START", rid(2), "nightly", day),
            run_event("FAIL", rid(2), "nightly", day + 3,
                      run_facets={"errorMessage": error("division by zero")}),
            # Day 3: only a COMPLETE ever arrives (Airflow DAG-level runs do this).
            run_event("COMPLETE", rid(3), "nightly", 2 * day + 30),
            # Day 1: COMPLETE before START.
            run_event("COMPLETE", rid(1), "nightly", 20),
            run_event("START", rid(1), "nightly", 0),
            run_event("RUNNING", rid(2), "nightly", day + 1),
            run_event("START", rid(2), "nightly", day),  # a retried duplicate
        )
        body = get(client, "/api/v1/namespaces/ns/jobs/nightly/runs")
        assert body["totalCount"] == 3
        runs = body["runs"]
        assert ids(runs) == [rid(3), rid(2), rid(1)]
        summary = [(r["state"], r["startedAt"], r["endedAt"], r["durationMs"], r["errorMessage"])
                   for r in runs]
        assert summary == [
            ("COMPLETED", None, at(2 * day + 30), None, None),
            ("FAILED", at(day), at(day + 3), 180_000, "division by zero"),
            ("COMPLETED", at(0), at(20), 1_200_000, None),
        ]
        assert runs[1]["facets"]["errorMessage"]["message"] == "division by zero"
        page = get(client, "/api/v1/namespaces/ns/jobs/nightly/runs", limit=2, offset=1)
        assert page["totalCount"] == 3 and ids(page["runs"]) == [rid(2), rid(1)]
        # The job's latest run is the newest by eventTime, not the last to arrive.
        job = get(client, "/api/v1/namespaces/ns/jobs/nightly")
        assert job["latestRun"]["id"] == rid(3)
        assert job["latestRun"] == runs[0]
        assert get(client, f"/api/v1/jobs/runs/{rid(2)}") == {**runs[1], "jobs": [
            {"namespace": "ns", "name": "nightly"}]}


def test_parent_runs_are_linked_and_created_on_first_mention(db_url):
    dag_run = rid(500)
    with service(db_url) as client:
        post(client, run_event("START", rid(501), "dag.extract", 1, namespace="airflow",
                               run_facets={"parent": parent(dag_run, "airflow", "dag")}))
        child = get(client, f"/api/v1/jobs/runs/{rid(501)}")
        assert (child["parentRunId"], child["parentJob"]) == (dag_run, {"namespace": "airflow",
                                                                        "name": "dag"})
        assert child["jobs"] == [{"namespace": "airflow", "name": "dag.extract"}]
        mentioned = get(client, f"/api/v1/jobs/runs/{dag_run}")
        assert (mentioned["state"], mentioned["startedAt"], mentioned["parentRunId"]) == ("NEW", None, None)
        assert mentioned["job"] == {"namespace": "airflow", "name": "dag"}
        post(client, run_event("START", dag_run, "dag", 0, namespace="airflow"),
             run_event("COMPLETE", dag_run, "dag", 9, namespace="airflow"))
        finished = get(client, f"/api/v1/jobs/runs/{dag_run}")
        assert (finished["state"], finished["durationMs"]) == ("COMPLETED", 540_000)
        task = get(client, "/api/v1/namespaces/airflow/jobs/dag.extract")
        assert (task["parentJobName"], task["simpleName"]) == ("dag", "extract")


def test_a_run_id_shared_by_several_jobs(db_url):
    shared = rid(77)
    with service(db_url) as client:
        post(client, run_event("START", shared, "asset_a", 0, namespace="dagster"))
        post(client, run_event("COMPLETE", shared, "asset_b", 5, namespace="dagster"))
        run = get(client, f"/api/v1/jobs/runs/{shared}")
        # Most recently updated first; the two jobs' runs stay separate runs.
        assert run["job"] == {"namespace": "dagster", "name": "asset_b"}
        assert run["state"] == "COMPLETED"
        assert run["jobs"] == [{"namespace": "dagster", "name": "asset_b"},
                               {"namespace": "dagster", "name": "asset_a"}]
        a_runs = get(client, "/api/v1/namespaces/dagster/jobs/asset_a/runs")["runs"]
        assert [(r["id"], r["state"]) for r in a_runs] == [(shared, "RUNNING")]
        # Upper-case ids name the same run.
        assert get(client, f"/api/v1/jobs/runs/{shared.upper()}")["id"] == shared


# -- jobs by last run state ----------------------------------------------------------------


def test_jobs_filtered_by_last_run_state(db_url):
    with service(db_url) as client:
        post(
            client,
            run_event("START", rid(1), "a", 0, namespace="one"),
            run_event("FAIL", rid(1), "a", 5, namespace="one",
                      run_facets={"errorMessage": error("boom")}),
            run_event("START", rid(2), "b", 1, namespace="one"),
            run_event("COMPLETE", rid(2), "b", 6, namespace="one"),
            run_event("START", rid(3), "c", 2, namespace="one"),
            run_event("FAIL", rid(4), "d", 9, namespace="two"),
            # b failed earlier, then recovered: its last run counts, not its history.
            run_event("FAIL", rid(5), "b", -30, namespace="one"),
        )
        failed = get(client, "/api/v1/jobs", lastRunStates="FAILED")
        assert failed["totalCount"] == 2
        assert ids(failed["jobs"]) == [{"namespace": "two", "name": "d"},
                                       {"namespace": "one", "name": "a"}]
        assert failed["jobs"][1]["latestRun"]["errorMessage"] == "boom"
        both = get(client, "/api/v1/jobs", lastRunStates=["FAILED", "RUNNING"])
        assert names(both["jobs"]) == ["d", "a", "c"]
        comma = get(client, "/api/v1/jobs", lastRunStates="failed,running")
        assert comma == both
        scoped = get(client, "/api/v1/jobs", lastRunStates="FAILED", namespace="one")
        assert (scoped["totalCount"], names(scoped["jobs"])) == (1, ["a"])
        everything = get(client, "/api/v1/jobs")
        assert everything["totalCount"] == 4
        assert names(everything["jobs"]) == ["d", "b", "a", "c"]  # most recently run first
        assert names(get(client, "/api/v1/jobs", limit=1, offset=1)["jobs"]) == ["b"]
        assert get(client, "/api/v1/jobs", lastRunStates="ABORTED") == {"jobs": [], "totalCount": 0}
        bad = get(client, "/api/v1/jobs", 422, lastRunStates="FAILED,EXPLODED")
        assert "EXPLODED" in bad["message"]
        missing = get(client, "/api/v1/jobs", 404, namespace="nope")
        assert missing["message"] == "namespace 'nope' not found"


# -- raw events ----------------------------------------------------------------------------


def test_raw_events_filtered_on_event_time(db_url):
    events = [run_event("START", rid(i), f"job-{i}", i * 10) for i in range(5)]
    with service(db_url) as client:
        post(client, events[3], events[0], events[4], events[1], events[2])
        post(client, events[2])  # a duplicate is stored once
        everything = get(client, "/api/v1/events/lineage")
        assert everything["totalCount"] == 5
        assert everything["events"] == events[::-1]  # as sent, newest first
        window = get(client, "/api/v1/events/lineage", after=at(10), before=at(30))
        assert window == {"events": [events[2], events[1]], "totalCount": 2}
        asc = get(client, "/api/v1/events/lineage", after=at(10), sortDirection="asc")
        assert asc["totalCount"] == 4 and asc["events"] == events[1:]
        paged = get(client, "/api/v1/events/lineage", sortDirection="asc", limit=2, offset=2)
        assert paged == {"events": events[2:4], "totalCount": 5}
        # Other offsets name the same instants.
        shifted = (T0 + timedelta(minutes=20)).astimezone(timezone(timedelta(hours=2))).isoformat()
        assert get(client, "/api/v1/events/lineage", before=shifted)["events"] == [events[1], events[0]]
        assert get(client, "/api/v1/events/lineage", before=at(0))["totalCount"] == 0


# -- names, errors, efficiency -----------------------------------------------------------------


def test_names_with_slashes_and_dots(db_url):
    with service(db_url) as client:
        post(client, run_event("START", rid(1), "reports/daily.v2", 0, namespace="s3://bucket",
                               outputs=[dataset("s3://bucket", "raw/2026/events.json")]))
        post(client, run_event("START", rid(2), "etl/runs", 0, namespace="team/jobs"))
        encoded = get(client, "/api/v1/namespaces/s3:%2F%2Fbucket/jobs/reports%2Fdaily.v2")
        plain = get(client, "/api/v1/namespaces/s3://bucket/jobs/reports/daily.v2")
        assert encoded == plain and encoded["name"] == "reports/daily.v2"
        runs = get(client, "/api/v1/namespaces/s3://bucket/jobs/reports/daily.v2/runs")
        assert ids(runs["runs"]) == [rid(1)]
        ds = get(client, "/api/v1/namespaces/s3://bucket/datasets/raw/2026/events.json")
        assert ds["id"] == {"namespace": "s3://bucket", "name": "raw/2026/events.json"}
        # Percent-encoded names are unambiguous even when they look like our own paths.
        job = get(client, "/api/v1/namespaces/team%2Fjobs/jobs/etl%2Fruns")
        assert job["id"] == {"namespace": "team/jobs", "name": "etl/runs"}
        runs = get(client, "/api/v1/namespaces/team%2Fjobs/jobs/etl%2Fruns/runs", limit=1)
        assert (runs["totalCount"], ids(runs["runs"])) == (1, [rid(2)])
        assert get(client, "/api/v1/namespaces/team%2Fjobs")["name"] == "team/jobs"
        listed = get(client, "/api/v1/namespaces/team%2Fjobs/jobs")
        assert names(listed["jobs"]) == ["etl/runs"]


def test_unknown_names_give_404(db_url):
    with service(db_url) as client:
        post(client, run_event("START", rid(1), "job", 0, outputs=[dataset("ns", "table")]))
        cases = {
            "/api/v1/namespaces/nope": "namespace 'nope' not found",
            "/api/v1/namespaces/nope/jobs": "namespace 'nope' not found",
            "/api/v1/namespaces/nope/datasets": "namespace 'nope' not found",
            "/api/v1/namespaces/nope/jobs/job": "namespace 'nope' not found",
            "/api/v1/namespaces/ns/jobs/other": "job 'other' not found in namespace 'ns'",
            "/api/v1/namespaces/ns/jobs/other/runs": "job 'other' not found in namespace 'ns'",
            "/api/v1/namespaces/ns/datasets/other": "dataset 'other' not found in namespace 'ns'",
            "/api/v1/namespaces/nope/datasets/table": "namespace 'nope' not found",
            f"/api/v1/jobs/runs/{rid(9)}": f"run '{rid(9)}' not found",
        }
        for path, message in cases.items():
            assert get(client, path, 404) == {"error": "not_found", "message": message}, path


@pytest.mark.parametrize(
    ("path", "params", "where"),
    [
        ("/api/v1/namespaces", {"limit": 1001}, "query.limit"),
        ("/api/v1/namespaces", {"limit": -1}, "query.limit"),
        ("/api/v1/namespaces", {"limit": "ten"}, "query.limit"),
        ("/api/v1/namespaces", {"offset": -1}, "query.offset"),
        ("/api/v1/namespaces/ns/jobs", {"limit": 5000}, "query.limit"),
        ("/api/v1/namespaces/ns/datasets", {"offset": "x"}, "query.offset"),
        ("/api/v1/namespaces/ns/jobs/job/runs", {"limit": 1001}, "query.limit"),
        ("/api/v1/jobs", {"limit": 1001}, "query.limit"),
        ("/api/v1/events/lineage", {"limit": 1001}, "query.limit"),
        ("/api/v1/events/lineage", {"before": "yesterday"}, "query.before"),
        ("/api/v1/jobs/runs/not-a-uuid", {}, "path.run_id"),
    ],
)
def test_bad_parameters_give_422_naming_the_parameter(db_url, path, params, where):
    with service(db_url) as client:
        post(client, run_event("START", rid(1), "job", 0))
        body = get(client, path, 422, **params)
        assert body["error"] == "invalid"
        assert [d["path"] for d in body["detail"]] == [where]


def test_bad_values_give_422_with_a_reason(db_url):
    with service(db_url) as client:
        body = get(client, "/api/v1/events/lineage", 422, sortDirection="sideways")
        assert body == {"error": "invalid",
                        "message": "sortDirection must be 'desc' or 'asc'; got 'sideways'"}
        body = get(client, "/api/v1/events/lineage", 422, after=at(10), before=at(0))
        assert body["message"] == "'after' must not be later than 'before'"
        body = get(client, "/api/v1/jobs", 422, lastRunStates="DONE")
        assert body["message"] == (
            "unknown run state 'DONE'; expected one of NEW, RUNNING, COMPLETED, FAILED, ABORTED")


def test_lists_cost_the_same_statements_whatever_the_page_size(db_url):
    """No N+1: a page of 2 jobs and a page of 12 issue the same number of statements."""
    with service(db_url) as client:
        for i in range(12):
            post(
                client,
                run_event("START", rid(i), f"job-{i:02d}", i, inputs=[dataset("ns", f"in-{i}")],
                          outputs=[dataset("ns", f"out-{i}", fields=[("a", "INT")])],
                          run_facets={"parent": parent(rid(1000 + i), "ns", "dag")}),
                run_event("COMPLETE", rid(i), f"job-{i:02d}", i + 1,
                          outputs=[dataset("ns", f"out-{i}", rows=i)]),
            )
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args):
            if "api_tokens" not in statement:  # the token cache refreshes on its own clock
                statements.append(statement)

        engine = client.app.state.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            costs = {}
            for path in ("/api/v1/namespaces/ns/jobs", "/api/v1/namespaces/ns/datasets",
                         "/api/v1/namespaces/ns/jobs/dag/runs", "/api/v1/jobs"):
                per_size = []
                for limit in (2, 12):
                    statements.clear()
                    body = get(client, path, limit=limit)
                    assert len(next(v for k, v in body.items() if k != "totalCount")) == limit
                    per_size.append(len(statements))
                costs[path] = per_size
        finally:
            event.remove(engine, "before_cursor_execute", count)
        for path, (small, large) in costs.items():
            assert small == large, (path, costs)
            assert large <= 12, (path, costs)


def test_reads_need_the_read_scope(db_url):
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        ingest_only = create_token(session, "ingester", ["ingest"])
        reader = create_token(session, "reader", ["read"])
        session.commit()
    engine.dispose()
    with service(db_url) as client:
        assert client.get("/api/v1/namespaces").status_code == 401
        denied = client.get("/api/v1/namespaces", headers={"Authorization": f"Bearer {ingest_only}"})
        assert denied.status_code == 403
        allowed = client.get("/api/v1/namespaces", headers={"Authorization": f"Bearer {reader}"})
        assert allowed.status_code == 200 and allowed.json() == {"namespaces": [], "totalCount": 0}
