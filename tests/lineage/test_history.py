"""Run lineage, column lineage, schema history and search, through ingestion and the API."""

from __future__ import annotations

from backends import create_tokens
from factories import PRODUCER, dataset, new_run_id, run_event

from .test_scenarios import NS, D, post, run


def cll(fields: dict[str, list[tuple[str, str, str, str]]], dataset_level=()) -> dict:
    """columnLineage facet: {output field: [(input dataset, input field, type, subtype)]}."""
    def inputs(items):
        return [{"namespace": NS, "name": ds, "field": f,
                 "transformations": [{"type": t, "subtype": st, "description": "", "masking": False}]}
                for ds, f, t, st in items]
    return {"columnLineage": {"_producer": PRODUCER, "_schemaURL": "x",
                              "fields": {out: {"inputFields": inputs(v)} for out, v in fields.items()},
                              "dataset": inputs(dataset_level)}}


def test_run_lineage_follows_the_versions_a_run_read(client):
    a = run(client, "extract", ["api"], [dataset("raw", output=True, rows=10)], at=0)
    b = run(client, "transform", ["raw"], ["clean"], at=10)
    c = run(client, "report", ["clean"], ["dashboard"], at=20)
    # extract runs again: report's input chain is now behind the latest raw.
    a2 = run(client, "extract", ["api"], ["raw"], at=30)
    r = client.get("/api/v1/runlineage/upstream", params={"runId": c})
    assert r.status_code == 200, r.text
    runs = r.json()["runs"]
    assert [(x["run"]["id"], x["depth"], x["job"]["name"]) for x in runs] == [
        (c, 0, "report"), (b, 1, "transform"), (a, 2, "extract")]
    clean = runs[0]["inputs"][0]
    assert clean["name"] == "clean" and clean["producedBy"]["runId"] == b and clean["isLatest"] is True
    raw = runs[1]["inputs"][0]
    assert raw["producedBy"] == {"runId": a, "job": {"namespace": "pipelines", "name": "extract"}}
    assert raw["isLatest"] is False and raw["latestVersion"] != raw["version"]
    assert runs[2]["inputs"][0]["producedBy"] is None  # nobody we know wrote `api`
    shallow = client.get("/api/v1/runlineage/upstream", params={"runId": c, "depth": 1}).json()
    assert [x["run"]["id"] for x in shallow["runs"]] == [c, b]
    assert a2 not in [x["run"]["id"] for x in runs]
    assert client.get("/api/v1/runlineage/upstream", params={"runId": new_run_id()}).status_code == 404


def test_run_id_shared_by_two_jobs_gives_both_runs(client):
    """One integration reuses a runId across the jobs of a run; both runs are answered."""
    shared = new_run_id()
    post(client,
         run_event("COMPLETE", shared, "step_a", at=1, inputs=[dataset("x")], outputs=[dataset("y")]),
         run_event("COMPLETE", shared, "step_b", at=2, inputs=[dataset("y")], outputs=[dataset("z")]))
    runs = client.get("/api/v1/runlineage/upstream", params={"runId": shared}).json()["runs"]
    by_job = {r["job"]["name"]: r for r in runs}
    assert set(by_job) == {"step_a", "step_b"} and {r["depth"] for r in runs} == {0}
    assert by_job["step_b"]["inputs"][0]["producedBy"]["job"]["name"] == "step_a"


def test_column_lineage_up_and_down_with_transformations(client):
    out = dataset("orders_clean", facets=cll(
        {"id": [("orders", "order_id", "DIRECT", "IDENTITY")],
         "total": [("orders", "amount", "DIRECT", "AGGREGATION")]},
        dataset_level=[("orders", "status", "INDIRECT", "FILTER")]),
        fields=[("id", "int"), ("total", "decimal")])
    run(client, "clean", [dataset("orders", fields=[("order_id", "int"), ("amount", "decimal"),
                                                      ("status", "string")])], [out])
    rep = dataset("revenue", facets=cll({"revenue": [("orders_clean", "total", "DIRECT", "AGGREGATION")]}),
                  fields=[("revenue", "decimal")])
    run(client, "report", ["orders_clean"], [rep], at=5)
    r = client.get("/api/v1/column-lineage", params={"nodeId": f"datasetField:{NS}:revenue:revenue"})
    assert r.status_code == 200, r.text
    graph = {n["id"]: n for n in r.json()["graph"]}
    assert set(graph) == {f"datasetField:{NS}:revenue:revenue", f"datasetField:{NS}:orders_clean:total",
                          f"datasetField:{NS}:orders:amount", f"datasetField:{NS}:orders:status"}
    total = graph[f"datasetField:{NS}:orders_clean:total"]
    assert total["type"] == "DATASET_FIELD" and total["data"]["fieldType"] == "decimal"
    assert total["data"]["inputFields"] == [
        {"namespace": NS, "dataset": "orders", "field": "amount", "transformations": [
            {"type": "DIRECT", "subtype": "AGGREGATION", "description": None, "masking": False}]},
        {"namespace": NS, "dataset": "orders", "field": "status", "transformations": [
            {"type": "INDIRECT", "subtype": "FILTER", "description": None, "masking": False}]},
    ]
    down = client.get("/api/v1/column-lineage", params={
        "nodeId": f"datasetField:{NS}:orders:amount", "withDownstream": "true", "depth": 5}).json()
    down_ids = {n["id"] for n in down["graph"]}
    assert {f"datasetField:{NS}:orders_clean:total", f"datasetField:{NS}:revenue:revenue"} <= down_ids
    assert f"datasetField:{NS}:orders_clean:id" not in down_ids
    # A filter column feeds every output field at dataset level.
    status = client.get("/api/v1/column-lineage", params={
        "nodeId": f"datasetField:{NS}:orders:status", "withDownstream": "true"}).json()
    assert {f"datasetField:{NS}:orders_clean:id", f"datasetField:{NS}:orders_clean:total"} <= {
        n["id"] for n in status["graph"]}
    whole = client.get("/api/v1/column-lineage", params={"nodeId": D("orders_clean")}).json()
    assert {f"datasetField:{NS}:orders_clean:id", f"datasetField:{NS}:orders:order_id"} <= {
        n["id"] for n in whole["graph"]}


def test_column_lineage_follows_the_latest_run_only(client):
    v1 = dataset("t", facets=cll({"x": [("s", "a", "DIRECT", "IDENTITY")]}))
    run(client, "job", ["s"], [v1], at=0)
    v2 = dataset("t", facets=cll({"x": [("s", "b", "DIRECT", "IDENTITY")]}))
    run(client, "job", ["s"], [v2], at=10)
    body = client.get("/api/v1/column-lineage", params={"nodeId": f"datasetField:{NS}:t:x"}).json()
    assert {n["id"] for n in body["graph"]} == {f"datasetField:{NS}:t:x", f"datasetField:{NS}:s:b"}


def test_schema_versions_and_breaking_changes(client):
    run(client, "w", [], [dataset("tbl", fields=[("id", "int"), ("name", "string")])], at=0)
    run(client, "w", [], [dataset("tbl")], at=10)  # no schema facet: unknown, not empty
    run(client, "w", [], [dataset("tbl", fields=[("id", "bigint"), ("name", "string"), ("email", "string")])],
        at=20)
    run(client, "w", [], [dataset("tbl", fields=[("id", "bigint"), ("email", "string")])], at=30)
    r = client.get(f"/api/v1/namespaces/{NS}/datasets/tbl/versions")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalCount"] == 4
    changes = [v["schemaChange"] for v in body["versions"]]
    assert changes[3] is None and changes[2] is None  # first schema, then a schema-less write
    assert changes[1] == {"added": [{"name": "email", "type": "string"}], "removed": [],
                          "typeChanged": [{"name": "id", "from": "int", "to": "bigint"}], "breaking": True}
    assert changes[0] == {"added": [], "removed": [{"name": "name", "type": "string"}],
                          "typeChanged": [], "breaking": True}
    latest = client.get(f"/api/v1/namespaces/{NS}/datasets/tbl/schema-diff").json()
    assert latest["removed"] == [{"name": "name", "type": "string"}] and latest["breaking"] is True
    first, last = body["versions"][3]["version"], body["versions"][0]["version"]
    span = client.get(f"/api/v1/namespaces/{NS}/datasets/tbl/schema-diff",
                      params={"from": first, "to": last}).json()
    assert span["removed"] == [{"name": "name", "type": "string"}]
    assert span["typeChanged"] == [{"name": "id", "from": "int", "to": "bigint"}]
    page = client.get(f"/api/v1/namespaces/{NS}/datasets/tbl/versions", params={"limit": 1, "offset": 1}).json()
    assert page["versions"][0]["schemaChange"] == changes[1]
    schema_less = body["versions"][2]["version"]
    assert client.get(f"/api/v1/namespaces/{NS}/datasets/tbl/schema-diff",
                      params={"from": schema_less}).status_code == 422
    assert client.get(f"/api/v1/namespaces/{NS}/datasets/nope/versions").status_code == 404
    assert client.get(f"/api/v1/namespaces/{NS}/datasets/tbl/schema-diff",
                      params={"to": "999999"}).status_code == 404


def test_versions_of_a_dataset_whose_namespace_and_name_have_slashes(client):
    ds = dataset("/tmp/out/part", namespace="gs://bucket", fields=[("a", "int")])
    run(client, "w", [], [ds])
    r = client.get("/api/v1/namespaces/gs%3A%2F%2Fbucket/datasets/%2Ftmp%2Fout%2Fpart/versions")
    assert r.status_code == 200, r.text
    assert r.json()["versions"][0]["id"] == {"namespace": "gs://bucket", "name": "/tmp/out/part"}


def test_search_ranks_exact_then_prefix_then_infix(client):
    run(client, "orders_loader", ["raw_orders"], ["orders", "orders_daily"])
    run(client, "misc", ["x"], ["y"])
    body = client.get("/api/v1/search", params={"q": "ORDERS"}).json()
    assert [(r["type"], r["name"]) for r in body["results"]] == [
        ("DATASET", "orders"), ("DATASET", "orders_daily"), ("JOB", "orders_loader"), ("DATASET", "raw_orders")]
    assert body["results"][0]["nodeId"] == D("orders")
    jobs = client.get("/api/v1/search", params={"q": "orders", "filter": "JOB"}).json()
    assert [r["name"] for r in jobs["results"]] == ["orders_loader"]
    limited = client.get("/api/v1/search", params={"q": "orders", "limit": 2}).json()
    assert limited["totalCount"] == 2 and limited["hasMore"] is True
    by_namespace = client.get("/api/v1/search", params={"q": "pipelines"}).json()
    assert {r["name"] for r in by_namespace["results"]} == {"orders_loader", "misc"}
    assert client.get("/api/v1/search", params={"q": "100%_"}).json()["results"] == []
    assert client.get("/api/v1/search", params={"q": " "}).status_code == 422
    assert client.get("/api/v1/search", params={"q": "x", "filter": "TABLE"}).status_code == 422


def test_reads_need_the_read_scope(client, db_url):
    tokens = create_tokens(db_url, ingester=["ingest"], reader=["read"])
    ingest_only, reader = tokens["ingester"], tokens["reader"]
    post_headers = {"authorization": f"Bearer {ingest_only}", "content-type": "application/json"}
    import json

    r = client.post("/api/v1/lineage", content=json.dumps(run_event("COMPLETE", new_run_id(), "j",
                    outputs=[dataset("o")])), headers=post_headers)
    assert r.status_code == 201, r.text
    assert client.get("/api/v1/lineage", params={"nodeId": D("o")}).status_code == 401
    assert client.get("/api/v1/lineage", params={"nodeId": D("o")},
                      headers={"authorization": f"Bearer {ingest_only}"}).status_code == 403
    ok = client.get("/api/v1/lineage", params={"nodeId": D("o")}, headers={"authorization": f"Bearer {reader}"})
    assert ok.status_code == 200
    assert post is not None
