"""/api/v1/slos: CRUD with admin scope, 422 with lines, listings, status, history, export."""

from __future__ import annotations

import json

import yaml
from backends import create_tokens
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.slo.loader import load_slo_documents
from app.slo.service import Evaluator

from .support import apply, at, evaluate, finished, write

NATIVE = """\
name: orders-fresh
owner: team-orders
tier: "1"
labels: {domain: sales}
sli:
  kind: freshness
  max_age: 2h
target:
  dataset: {namespace: warehouse, name: orders}
objective: 0.99
"""

OPENSLO = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: loader-success
  annotations: {dataslo.io/owner: team-orders, dataslo.io/min-events: "1"}
spec:
  budgetingMethod: Occurrences
  indicator:
    metadata: {name: loader-success}
    spec:
      ratioMetric:
        counter: false
        good: {metricSource: {type: dataslo, spec: {sli: success_rate, jobNamespace: pipelines, jobName: loader}}}
        total: {metricSource: {type: dataslo, spec: {sli: success_rate, jobNamespace: pipelines, jobName: loader}}}
  timeWindow:
  - {duration: 1w, isRolling: true}
  objectives:
  - target: 0.9
"""

YAML = {"content-type": "application/yaml"}


def test_create_from_native_and_openslo_then_list_read_replace_delete(client):
    r = client.post("/api/v1/slos", content=NATIVE, headers=YAML)
    assert r.status_code == 201, r.text
    created = r.json()["slos"][0]
    assert created["target"] == {"kind": "dataset", "namespace": "warehouse", "name": "orders",
                                 "nodeId": "dataset:warehouse:orders", "known": False}
    assert (created["owner"], created["tier"], created["labels"]) == ("team-orders", "1", {"domain": "sales"})
    r = client.post("/api/v1/slos", content=json.dumps(yaml.safe_load(OPENSLO)),
                    headers={"content-type": "application/json"})
    assert r.status_code == 201, r.text
    loader_id = r.json()["slos"][0]["id"]
    assert client.post("/api/v1/slos", content=NATIVE, headers=YAML).status_code == 409

    listed = client.get("/api/v1/slos").json()
    assert listed["totalCount"] == 2
    assert [s["name"] for s in listed["slos"]] == ["loader-success", "orders-fresh"]
    one = client.get(f"/api/v1/slos/{loader_id}").json()
    assert one["window"] == "7d" and one["definition"]["min_events"] == 1

    exported = client.get(f"/api/v1/slos/{loader_id}/openslo").json()
    back, original = load_slo_documents(yaml.safe_dump(exported))[0], load_slo_documents(OPENSLO)[0]
    assert back.model_dump(exclude={"service"}) == original.model_dump(exclude={"service"})
    as_yaml = client.get(f"/api/v1/slos/{loader_id}/openslo", params={"format": "yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")

    replaced = client.put(f"/api/v1/slos/{loader_id}", content=OPENSLO.replace("0.9", "0.95"), headers=YAML)
    assert replaced.status_code == 200 and replaced.json()["changed"] is True
    assert client.get(f"/api/v1/slos/{loader_id}").json()["objective"] == 0.95
    renamed = client.put(f"/api/v1/slos/{loader_id}", content=NATIVE, headers=YAML)
    assert renamed.status_code == 422 and renamed.json()["detail"][0]["path"] == "name"
    assert client.delete(f"/api/v1/slos/{loader_id}").status_code == 204
    assert client.get(f"/api/v1/slos/{loader_id}").status_code == 404
    assert client.get("/api/v1/slos").json()["totalCount"] == 1


def test_invalid_documents_come_back_with_file_line_path_and_reason(client):
    body = NATIVE.replace("max_age: 2h", "max_agee: 2h").replace("objective: 0.99", "objective: 1.5")
    r = client.post("/api/v1/slos", content=body, headers=YAML)
    assert r.status_code == 422
    assert r.json()["detail"] == [
        {"file": "<request>", "line": 7, "path": "sli.max_agee", "reason": "unknown field"},
        {"file": "<request>", "line": 10, "path": "objective",
         "reason": "the objective lies strictly between 0 and 1, e.g. 0.99 or 99%"},
    ]
    # JSON is parsed as YAML too, so its problems have lines as well.
    doc = {"name": "x", "sli": {"kind": "duration"}, "target": {"job": {"namespace": "a", "name": "b"}},
           "objective": 0.9}
    r = client.post("/api/v1/slos", content=json.dumps(doc, indent=2), headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"] == [{"file": "<request>", "line": 3, "path": "sli.threshold",
                                   "reason": "required field is missing"}]
    assert client.post("/api/v1/slos", content="a: [", headers=YAML).json()["detail"][0]["line"] == 1
    two = client.post("/api/v1/slos", content=NATIVE + "---\n" + NATIVE.replace("orders-fresh", "b"),
                      headers=YAML)
    assert two.status_code == 422 and "exactly one SLO" in two.json()["message"]
    assert client.get("/api/v1/slos?status=melting").status_code == 422


def test_writes_need_the_admin_scope_and_file_slos_are_read_only(db_url, engine, tmp_path):
    tokens = create_tokens(db_url, reader=["read"], boss=["admin"])
    read, admin = tokens["reader"], tokens["boss"]
    folder = tmp_path / "slos"
    folder.mkdir()
    (folder / "orders.yaml").write_text(NATIVE)
    settings = Settings(database_url=db_url, auth="auto", slo_scheduler=False, slo_dir=folder)
    with TestClient(create_app(settings)) as client:
        as_reader = {"authorization": f"Bearer {read}", **YAML}
        as_admin = {"authorization": f"Bearer {admin}", **YAML}
        assert client.post("/api/v1/slos", content=OPENSLO, headers=as_reader).status_code == 403
        assert client.post("/api/v1/slos", content=OPENSLO, headers=YAML).status_code == 401
        listed = client.get("/api/v1/slos", headers=as_reader).json()["slos"]
        assert [(s["name"], s["source"]) for s in listed] == [("orders-fresh", "file")]
        r = client.delete(f"/api/v1/slos/{listed[0]['id']}", headers=as_admin)
        assert r.status_code == 409 and "orders.yaml" in r.json()["message"]
        assert client.post("/api/v1/slos", content=OPENSLO, headers=as_admin).status_code == 201


def test_status_lists_what_spent_the_budget_and_history_carries_values_forward(client, factory, post):
    for i in range(6):
        post(*write("loader", "orders", 60 * i, rows=10))
    post(*finished("loader", 30, ok=False), *finished("loader", 200, ok=False))
    apply(factory, NATIVE + "---\n" + OPENSLO)
    evaluator = Evaluator()
    evaluate(factory, evaluator, at(240))
    result = evaluate(factory, evaluator, at(600))  # last write 11:00: stale from 13:00
    ids = {name: e.slo_id for name, e in result.items()}

    def named(status: str) -> set[str]:
        return {s["name"] for s in client.get("/api/v1/slos", params={"status": status}).json()["slos"]}

    # 180 stale minutes of the 432 a 30-day period at 99 % allows: burning, not yet overspent.
    assert (named("burning"), named("breaching"), named("ok")) == ({"orders-fresh"}, {"loader-success"}, set())
    status = client.get(f"/api/v1/slos/{ids['orders-fresh']}/status").json()
    assert status["status"]["objective"] == 0.99
    stale = status["spent"][0]
    assert (stale["kind"], stale["from"], stale["ongoing"]) == ("stale", "2026-11-01T13:00:00Z", True)
    assert stale["minutes"] == 180
    assert status["status"]["windows"]["1h"]["sli"] == 0.0
    assert status["status"]["windows"]["1h"]["burn_rate"] == 100.0
    assert status["status"]["exact"]["burn_rates"]["1h"] == "100"

    job = client.get(f"/api/v1/slos/{ids['loader-success']}/status").json()
    assert job["spentTotal"] == 2
    assert [s["run"]["state"] for s in job["spent"]] == ["FAILED", "FAILED"]
    assert job["spent"][0]["run"]["link"].startswith("/api/v1/jobs/runs/")
    assert client.get(job["spent"][0]["run"]["link"]).status_code == 200
    holding = {c["name"]: c["holds"] for c in job["status"]["conditions"]}
    assert set(holding) == {"page:1h/5m", "page:6h/30m", "ticket:1d/2h", "ticket:3d/6h"}

    history = client.get(f"/api/v1/slos/{ids['orders-fresh']}/history",
                         params={"from": "2026-11-01T09:00:00Z", "to": "2026-11-01T18:00:00Z",
                                 "step": "3h"}).json()
    points = [(p["at"], p["state"], p["evaluated_at"]) for p in history["points"]]
    assert points == [("2026-11-01T12:00:00Z", "ok", "2026-11-01T10:00:00Z"),
                      ("2026-11-01T15:00:00Z", "ok", "2026-11-01T10:00:00Z"),
                      ("2026-11-01T18:00:00Z", "burning", "2026-11-01T16:00:00Z")]
    assert history["points"][-1]["burn_rates"]["1h"] == 100.0
    assert client.get(f"/api/v1/slos/{ids['orders-fresh']}/history", params={"step": "1s"}).status_code == 422
    assert client.get(f"/api/v1/slos/{ids['orders-fresh']}/history", params={"step": "soon"}).status_code == 422
    assert client.get("/api/v1/slos/999/status").status_code == 404


def test_a_changed_definition_shows_as_pending_until_evaluated_and_asks_for_a_pass(client, factory, post):
    post(*finished("loader", 30, ok=True), *finished("loader", 60, ok=False))
    apply(factory, OPENSLO)
    evaluator = Evaluator()
    slo_id = evaluate(factory, evaluator, at(120))["loader-success"].slo_id
    before = client.get(f"/api/v1/slos/{slo_id}/status").json()
    assert before["status"]["objective"] == 0.9 and "pending" not in before

    asked = []
    client.app.state.evaluate_soon = lambda: asked.append(True)
    assert client.put(f"/api/v1/slos/{slo_id}", content=OPENSLO.replace("0.9", "0.5"), headers=YAML).status_code == 200
    assert asked == [True]  # once the change committed
    assert client.put(f"/api/v1/slos/{slo_id}", content=NATIVE, headers=YAML).status_code == 422
    assert asked == [True]  # a refused change asks for nothing

    # The stored counts were judged at 90 %: not shown under the new 50 % objective.
    pending = client.get(f"/api/v1/slos/{slo_id}/status").json()
    assert pending["status"] is None
    assert pending["pending"]["evaluatedRevision"] == 1 and pending["pending"]["revision"] == 2

    evaluate(factory, evaluator, at(121))
    after = client.get(f"/api/v1/slos/{slo_id}/status").json()
    assert "pending" not in after and after["status"]["objective"] == 0.5
