"""The Marquez-shaped read API: namespaces, jobs, datasets and runs, checked exactly
(shapes, totals, ordering) after events went in through POST /api/v1/lineage."""

from __future__ import annotations

from typing import Any

from reads_support import (
    at,
    dataset,
    drop_times,
    error,
    facet,
    get,
    ids,
    names,
    parent,
    post,
    rid,
    run_event,
    service,
)

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
