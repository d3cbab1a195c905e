"""The real Spark and Airflow events in ../shared: their lineage must come out as they say.

Expectations are computed from the events themselves (inputs, outputs, parent facets,
columnLineage facets), so the test checks the whole path event → store → API rather than
numbers copied by hand. Skipped when ../shared is absent (a user's clone).
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from backends import SHARED_DIR

from app.ingest.schema import EventError, parse_event

EVENTS = SHARED_DIR / "openlineage" / "events"
pytestmark = pytest.mark.skipif(not EVENTS.is_dir(), reason="../shared is not present")
PRODUCERS = ("spark__", "airflow__")


def _events() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(EVENTS.glob("*.json")) if p.name.startswith(PRODUCERS)]


@pytest.fixture
def ingested(client):
    """Every shared event the validator accepts (all producers), posted as a client would."""
    for path in sorted(EVENTS.glob("*.json")):
        if path.name == "MANIFEST.json":
            continue
        try:
            parse_event(json.loads(path.read_text()))
        except EventError:
            continue
        r = client.post("/api/v1/lineage", content=path.read_bytes(), headers={"content-type": "application/json"})
        assert r.status_code == 201, (path.name, r.text)
    return client


def _job_id(job: dict) -> str:
    return f"job:{job['namespace']}:{job['name']}"


def _ds_id(ds: dict) -> str:
    return f"dataset:{ds['namespace']}:{ds['name']}"


def test_job_edges_are_what_the_events_say(ingested):
    expected: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"in": set(), "out": set()})
    for event in _events():
        job = _job_id(event["job"])
        expected[job]["in"] |= {_ds_id(d) for d in event.get("inputs", [])}
        expected[job]["out"] |= {_ds_id(d) for d in event.get("outputs", [])}
    assert any(e["in"] and e["out"] for e in expected.values())
    for job, edges in expected.items():
        body = ingested.get("/api/v1/lineage", params={"nodeId": job, "depth": 0}).json()
        node = next(n for n in body["graph"] if n["id"] == job)
        assert {e["origin"] for e in node["inEdges"]} == edges["in"], job
        assert {e["destination"] for e in node["outEdges"]} == edges["out"], job
        inputs = {_ds_id(d) for d in node["data"]["inputs"]}
        assert inputs == edges["in"], job


def test_parents_are_linked_and_carry_no_edges(ingested):
    parents: dict[str, set[str]] = defaultdict(set)
    for event in _events():
        parent = event["run"].get("facets", {}).get("parent")
        if parent:
            parents[_job_id(parent["job"])].add(_job_id(event["job"]))
    assert {"job:airflow:BQ", "job:default:shakespeare_on_spark"} <= set(parents)
    for parent, children in parents.items():
        body = ingested.get("/api/v1/lineage", params={"nodeId": parent}).json()
        node = next(n for n in body["graph"] if n["id"] == parent)
        assert node["inEdges"] == [] and node["outEdges"] == []
        assert children <= set(node["data"]["childJobs"]), parent
        for child in children:
            child_node = next(n for n in body["graph"] if n["id"] == child)
            assert child_node["data"]["parentJob"] == parent


def test_spark_symlink_names_resolve_to_the_physical_dataset(ingested):
    by_alias = ingested.get("/api/v1/lineage", params={
        "nodeId": "dataset:file:/tmp/cll_test:default.tbl1", "direction": "upstream"}).json()
    assert by_alias["nodeId"] == "dataset:file:/tmp/cll_test/tbl1"
    assert {"dataset:file:/tmp/cll_test/cll_source1", "dataset:file:/tmp/cll_test/cll_source2"} <= {
        n["id"] for n in by_alias["graph"]}


def _expected_columns() -> dict[str, dict[tuple[str, str, str], set[tuple[str, str]]]]:
    """{output field node: {(ns, dataset, field): {(type, subtype)}}} from columnLineage facets."""
    expected: dict = defaultdict(lambda: defaultdict(set))
    for event in _events():
        for out in event.get("outputs", []):
            facet = out.get("facets", {}).get("columnLineage")
            if not facet:
                continue
            for field, spec in facet.get("fields", {}).items():
                key = f"datasetField:{out['namespace']}:{out['name']}:{field}"
                for inp in spec.get("inputFields", []):
                    source = (inp["namespace"], inp["name"], inp["field"])
                    kinds = {(t.get("type", ""), t.get("subtype", "")) for t in inp.get("transformations") or []}
                    expected[key][source] |= kinds or {(spec.get("transformationType", ""), "")}
    return expected


def test_column_lineage_is_what_the_events_say(ingested):
    expected = _expected_columns()
    assert len(expected) >= 6  # Spark CLL, Shakespeare and Airflow outputs
    for field_node, inputs in expected.items():
        r = ingested.get("/api/v1/column-lineage", params={"nodeId": field_node, "depth": 1})
        assert r.status_code == 200, (field_node, r.text)
        node = next(n for n in r.json()["graph"] if n["id"] == field_node)
        got = {
            (i["namespace"], i["dataset"], i["field"]): {(t["type"], t["subtype"] or "") for t in i["transformations"]}
            for i in node["data"]["inputFields"]
        }
        assert got == dict(inputs), field_node
