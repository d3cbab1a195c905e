"""Graph correctness on hand-built estates, sent through the real ingestion endpoint."""

from __future__ import annotations

import json

import pytest
from factories import PRODUCER, dataset, new_run_id, run_event, ts
from sqlalchemy import func, select

from app.store.db import make_engine
from app.store.models import LineageEdge

NS = "warehouse"


def post(client, *events):
    for event in events:
        r = client.post("/api/v1/lineage", content=json.dumps(event),
                        headers={"content-type": "application/json"})
        assert r.status_code == 201, r.text


def run(client, job, inputs=(), outputs=(), at=0, job_facets=None, parent=None, state="COMPLETE"):
    """One run of `job` reading and writing the named datasets: START then its end."""
    run_id = new_run_id()
    ins = [d if isinstance(d, dict) else dataset(d) for d in inputs]
    outs = [d if isinstance(d, dict) else dataset(d) for d in outputs]
    post(client,
         run_event("START", run_id, job, at=at, inputs=ins, outputs=outs, job_facets=job_facets,
                   parent=parent),
         run_event(state, run_id, job, at=at + 1, inputs=ins, outputs=outs, job_facets=job_facets,
                   parent=parent))
    return run_id


def lineage(client, node, **params):
    r = client.get("/api/v1/lineage", params={"nodeId": node, **params})
    assert r.status_code == 200, r.text
    return r.json()


def ids(graph):
    return {n["id"] for n in graph["graph"]}


def node(graph, node_id):
    return next(n for n in graph["graph"] if n["id"] == node_id)


def impact_ids(client, node_id, **params):
    r = client.get("/api/v1/lineage/impact", params={"nodeId": node_id, **params})
    assert r.status_code == 200, r.text
    return [(n["id"], n["distance"]) for n in r.json()["nodes"]]


def D(name: str) -> str:
    return f"dataset:{NS}:{name}"


def J(name: str) -> str:
    return f"job:pipelines:{name}"


def test_diamond(client):
    run(client, "split", ["a"], ["b", "c"])
    run(client, "left", ["b"], ["d"])
    run(client, "right", ["c"], ["d"])
    run(client, "tail", ["d"], ["e"])
    g = lineage(client, D("d"))
    assert ids(g) == {D(x) for x in "abcde"} | {J(x) for x in ("split", "left", "right", "tail")}
    assert [n["id"] for n in g["graph"]] == sorted(ids(g))
    assert node(g, D("d"))["inEdges"] == [
        {"origin": J("left"), "destination": D("d")}, {"origin": J("right"), "destination": D("d")}]
    assert impact_ids(client, D("a")) == [
        (J("split"), 1), (D("b"), 2), (D("c"), 2), (J("left"), 3), (J("right"), 3), (D("d"), 4),
        (J("tail"), 5), (D("e"), 6)]
    up = lineage(client, D("b"), direction="upstream")
    assert ids(up) == {D("b"), J("split"), D("a")}


def test_cycle_through_different_jobs(client):
    run(client, "forward", ["x"], ["y"])
    run(client, "backward", ["y"], ["x"])
    g = lineage(client, D("x"), depth=50)
    assert ids(g) == {D("x"), D("y"), J("forward"), J("backward")}
    assert impact_ids(client, D("x")) == [(J("forward"), 1), (D("y"), 2), (J("backward"), 3)]
    assert impact_ids(client, D("x"), direction="upstream") == [
        (J("backward"), 1), (D("y"), 2), (J("forward"), 3)]


def test_dataset_written_by_two_jobs(client):
    run(client, "loader_eu", ["eu_raw"], ["orders"])
    run(client, "loader_us", ["us_raw"], ["orders"])
    run(client, "report", ["orders"], ["daily"])
    g = lineage(client, D("orders"), direction="upstream")
    assert ids(g) == {D("orders"), J("loader_eu"), J("loader_us"), D("eu_raw"), D("us_raw")}
    assert impact_ids(client, D("eu_raw")) == [
        (J("loader_eu"), 1), (D("orders"), 2), (J("report"), 3), (D("daily"), 4)]


def test_job_that_stops_writing_a_dataset_keeps_history(client, db_url):
    first = run(client, "etl", ["src"], ["old_target"], at=0)
    assert D("old_target") in ids(lineage(client, J("etl")))
    run(client, "etl", ["src"], ["new_target"], at=60)
    now = lineage(client, J("etl"))
    assert D("new_target") in ids(now) and D("old_target") not in ids(now)
    assert node(now, J("etl"))["data"]["outputs"] == [{"namespace": NS, "name": "new_target"}]
    assert impact_ids(client, D("src")) == [(J("etl"), 1), (D("new_target"), 2)]
    before = lineage(client, J("etl"), at=ts(30))
    assert D("old_target") in ids(before) and D("new_target") not in ids(before)
    # Replaying the first run's events neither duplicates edges nor reopens the old one.
    engine = make_engine(db_url)
    with engine.connect() as conn:
        edges_before = conn.scalar(select(func.count()).select_from(LineageEdge))
    post(client, run_event("START", first, "etl", at=0, inputs=[dataset("src")],
                           outputs=[dataset("old_target")]))
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(LineageEdge)) == edges_before
    engine.dispose()
    assert D("old_target") not in ids(lineage(client, J("etl")))


def test_duplicate_events_never_duplicate_edges(client):
    run_id = new_run_id()
    event = run_event("COMPLETE", run_id, "dup", at=1, inputs=[dataset("i")], outputs=[dataset("o")])
    post(client, event, event, event)
    g = lineage(client, J("dup"))
    assert node(g, J("dup"))["inEdges"] == [{"origin": D("i"), "destination": J("dup")}]
    assert node(g, J("dup"))["outEdges"] == [{"origin": J("dup"), "destination": D("o")}]


STREAMING = {"jobType": {"_producer": PRODUCER, "_schemaURL": "x", "processingType": "STREAMING",
                         "integration": "FLINK", "jobType": "JOB"}}


def test_streaming_job_keeps_its_edges_while_running(client):
    run_id = new_run_id()
    post(client, run_event("START", run_id, "stream", at=0, inputs=[dataset("topic_a")],
                           outputs=[dataset("sink_a")], job_facets=STREAMING))
    post(client, run_event("RUNNING", run_id, "stream", at=5, inputs=[dataset("topic_b")],
                           outputs=[dataset("sink_b")], job_facets=STREAMING))
    post(client, run_event("COMPLETE", run_id, "stream", at=9, inputs=[dataset("topic_b")],
                           outputs=[dataset("sink_b")], job_facets=STREAMING))
    g = lineage(client, J("stream"))
    assert {D("topic_a"), D("topic_b"), D("sink_a"), D("sink_b")} <= ids(g)
    assert node(g, J("stream"))["data"]["type"] == "STREAMING"


def _symlinked(name, alias_ns, alias_name):
    return dataset(name, namespace="s3://lake", facets={"symlinks": {
        "_producer": PRODUCER, "_schemaURL": "x",
        "identifiers": [{"namespace": alias_ns, "name": alias_name, "type": "TABLE"}]}})


def test_symlinked_datasets_are_one_node(client):
    run(client, "spark_write", ["raw"], [_symlinked("warehouse/orders", "hive://metastore", "sales.orders")])
    # A second job names the table only by its alias; it must land on the same node.
    run(client, "trino_read", [dataset("sales.orders", namespace="hive://metastore")], ["summary"])
    canonical = "dataset:s3://lake:warehouse/orders"
    g = lineage(client, canonical)
    assert ids(g) == {canonical, J("spark_write"), J("trino_read"), D("raw"), D("summary")}
    by_alias = lineage(client, "dataset:hive://metastore:sales.orders")
    assert by_alias["nodeId"] == canonical and ids(by_alias) == ids(g)
    hits = client.get("/api/v1/search", params={"q": "sales.orders"}).json()["results"]
    assert [h["nodeId"] for h in hits] == [canonical]


def test_parent_jobs_appear_as_such_without_false_edges(client):
    dag_run = new_run_id()
    post(client, run_event("START", dag_run, "daily_dag", at=0))
    run(client, "daily_dag.extract", ["api_dump"], ["staging"], at=1, parent=(dag_run, "daily_dag"))
    run(client, "daily_dag.load", ["staging"], ["mart"], at=3, parent=(dag_run, "daily_dag"))
    post(client, run_event("COMPLETE", dag_run, "daily_dag", at=5))
    g = lineage(client, D("staging"))
    assert J("daily_dag") not in ids(g)
    extract = node(g, J("daily_dag.extract"))
    assert extract["data"]["parentJob"] == J("daily_dag")
    dag = lineage(client, J("daily_dag"))
    assert node(dag, J("daily_dag"))["inEdges"] == [] and node(dag, J("daily_dag"))["outEdges"] == []
    assert node(dag, J("daily_dag"))["data"]["childJobs"] == [J("daily_dag.extract"), J("daily_dag.load")]
    assert {D("api_dump"), D("staging"), D("mart")} <= ids(dag)
    assert impact_ids(client, D("api_dump")) == [
        (J("daily_dag.extract"), 1), (D("staging"), 2), (J("daily_dag.load"), 3), (D("mart"), 4)]
    # Impact of the DAG is the impact of its tasks, which start at distance 0.
    assert impact_ids(client, J("daily_dag")) == [(D("mart"), 1), (D("staging"), 1)]


def test_impact_carries_owners_and_last_run_state(client):
    owners = {"ownership": {"_producer": PRODUCER, "_schemaURL": "x",
                            "owners": [{"name": "team:growth", "type": "TEAM"}]}}
    run(client, "ingest", ["events"], ["sessions"], at=0)
    run(client, "score", ["sessions"], ["scores"], at=5, job_facets=owners, state="FAIL")
    body = client.get("/api/v1/lineage/impact", params={"nodeId": D("events")}).json()
    score = next(n for n in body["nodes"] if n["id"] == J("score"))
    assert score["lastRunState"] == "FAILED" and score["owners"] == [{"name": "team:growth", "type": "TEAM"}]
    sessions = next(n for n in body["nodes"] if n["id"] == D("sessions"))
    assert sessions["lastRunState"] == "COMPLETED" and sessions["lastUpdatedAt"] == ts(1).replace("+00:00", "Z")
    assert {"name": "team:growth", "nodes": 1} in body["summary"]["owners"]


def test_limit_and_truncation_flag(client):
    run(client, "fan", ["hub"], [f"leaf_{i:02d}" for i in range(20)])
    full = lineage(client, D("hub"))
    assert full["truncated"] is False and full["nodeCount"] == 22
    cut = lineage(client, D("hub"), limit=5)
    assert cut["truncated"] is True and len(cut["graph"]) == 5
    assert ids(cut) == {D("hub"), J("fan"), D("leaf_00"), D("leaf_01"), D("leaf_02")}


@pytest.mark.parametrize("params,status", [
    ({"nodeId": "dataset:warehouse:missing"}, 404),
    ({"nodeId": "nonsense"}, 422),
    ({"nodeId": D("a"), "direction": "sideways"}, 422),
    ({"nodeId": D("a"), "depth": "-1"}, 422),
    ({"nodeId": D("a"), "depth": "abc"}, 422),
    ({"nodeId": D("a"), "limit": "0"}, 422),
    ({"nodeId": D("a"), "at": "yesterday"}, 422),
    ({}, 422),
])
def test_bad_requests(client, params, status):
    run(client, "j", ["a"], ["b"])
    r = client.get("/api/v1/lineage", params=params)
    assert r.status_code == status, r.text
    r = client.get("/api/v1/lineage/impact", params=params)
    assert r.status_code == status, r.text
