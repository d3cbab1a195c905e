"""POST /api/v1/lineage and /lineage/batch: status codes, idempotency, ordering, parents."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest
from factories import dataset, new_run_id, run_event, ts
from sqlalchemy import func, select

from app.store.db import make_engine, make_session_factory
from app.store.models import (
    ColumnLineage,
    Dataset,
    DatasetVersion,
    Job,
    LineageEdge,
    LineageEvent,
    QualityAssertion,
    Run,
)


@pytest.fixture
def db(db_url):
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    yield factory
    engine.dispose()


def post(client, event, **headers):
    return client.post("/api/v1/lineage", content=json.dumps(event),
                       headers={"content-type": "application/json", **headers})


def count(db, model):
    with db() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_event_is_stored_with_201_and_empty_body(client, db):
    run_id = new_run_id()
    r = post(client, run_event("START", run_id, outputs=[dataset("orders", fields=[("id", "int")])]))
    assert r.status_code == 201
    assert r.content == b""
    with db() as s:
        run = s.scalars(select(Run)).one()
        assert (run.run_uuid, run.state) == (run_id, "RUNNING")
        assert s.scalars(select(Dataset.name)).all() == ["orders"]


def test_duplicate_event_is_stored_once_and_changes_nothing(client, db):
    run_id = new_run_id()
    event = run_event("COMPLETE", run_id, at=5, outputs=[dataset("t", rows=10, output=True)])
    assert post(client, event).status_code == 201
    with db() as s:
        before = s.scalars(select(Run)).one().updated_at
    # Same event, different key order and spacing: still the same event.
    reordered = json.loads(json.dumps(event, sort_keys=True))
    assert client.post("/api/v1/lineage", content=json.dumps(reordered, indent=2),
                       headers={"content-type": "application/json"}).status_code == 201
    assert count(db, LineageEvent) == 1
    assert count(db, DatasetVersion) == 1
    with db() as s:
        assert s.scalars(select(Run)).one().updated_at == before
        stored = s.scalars(select(LineageEvent)).one()
    # The raw event is kept as the canonical text that was hashed: auditable as stored.
    assert hashlib.sha256(stored.payload.encode()).hexdigest() == stored.event_hash
    assert json.loads(stored.payload) == event


def test_complete_before_start_yields_completed_run_with_start_time(client, db):
    run_id = new_run_id()
    assert post(client, run_event("COMPLETE", run_id, at=10)).status_code == 201
    assert post(client, run_event("START", run_id, at=0)).status_code == 201
    assert post(client, run_event("RUNNING", run_id, at=12)).status_code == 201
    with db() as s:
        run = s.scalars(select(Run)).one()
        assert run.state == "COMPLETED"
        assert run.started_at.isoformat() == ts(0)
        assert run.ended_at.isoformat() == ts(10)
        job = s.scalars(select(Job)).one()
        assert job.latest_run_state == "COMPLETED"


def test_fail_is_terminal_and_error_message_is_kept(client, db):
    run_id = new_run_id()
    error = {"errorMessage": {"_producer": "p", "_schemaURL": "x", "message": "boom",
                              "programmingLanguage": "python", "stackTrace": "Traceback..."}}
    post(client, run_event("START", run_id, at=0))
    post(client, run_event("FAIL", run_id, at=3, run_facets=error))
    post(client, run_event("OTHER", run_id, at=4))
    with db() as s:
        run = s.scalars(select(Run)).one()
        assert (run.state, run.error_message, run.error_language) == ("FAILED", "boom", "python")


def test_parent_run_is_created_on_first_mention_and_linked(client, db):
    dag_run, task_run = new_run_id(), new_run_id()
    post(client, run_event("START", task_run, job="dag.task", parent=(dag_run, "dag")))
    with db() as s:
        runs = {r.run_uuid: r for r in s.scalars(select(Run))}
        jobs = {j.name: j for j in s.scalars(select(Job))}
        assert runs[task_run].parent_run_id == runs[dag_run].id
        assert runs[dag_run].state == "NEW"
        assert jobs["dag.task"].parent_job_id == jobs["dag"].id
    # The DAG's own events arrive later and fill in its run.
    post(client, run_event("COMPLETE", dag_run, job="dag", at=20))
    with db() as s:
        assert s.scalars(select(Run).where(Run.run_uuid == dag_run)).one().state == "COMPLETED"


def test_same_run_id_on_two_jobs_stays_two_runs(client, db):
    run_id = new_run_id()
    post(client, run_event("START", run_id, job="asset_a"))
    post(client, run_event("FAIL", run_id, job="asset_b", at=1))
    with db() as s:
        states = {(s.get(Job, r.job_id).name, r.state) for r in s.scalars(select(Run))}
    assert states == {("asset_a", "RUNNING"), ("asset_b", "FAILED")}


def test_outputs_announced_on_start_become_fresh_on_complete(client, db):
    run_id = new_run_id()
    post(client, run_event("START", run_id, outputs=[dataset("daily", fields=[("d", "date")])]))
    post(client, run_event("COMPLETE", run_id, at=15))
    with db() as s:
        ds = s.scalars(select(Dataset)).one()
        assert ds.last_modified_at.isoformat() == ts(15)
        assert ds.current_version_id is not None


def test_row_counts_schema_and_quality_are_queryable(client, db):
    run_id = new_run_id()
    assertions = {"dataQualityAssertions": {"_producer": "p", "_schemaURL": "x", "assertions": [
        {"assertion": "not_null", "success": True, "column": "id"},
        {"assertion": "unique", "success": False, "column": "id"}]}}
    src = dataset("src")
    src["inputFacets"] = assertions
    post(client, run_event("COMPLETE", run_id, inputs=[src],
                           outputs=[dataset("dst", fields=[("id", "int"), ("v", "text")], rows=42, output=True)]))
    with db() as s:
        version = s.scalars(select(DatasetVersion)).one()
        assert version.row_count == 42
        assert [f["name"] for f in version.fields] == ["id", "v"]
        results = {(a.assertion, a.column_name, a.success) for a in s.scalars(select(QualityAssertion))}
        assert results == {("not_null", "id", True), ("unique", "id", False)}


def test_column_lineage_is_stored(client, db):
    cl = {"columnLineage": {"_producer": "p", "_schemaURL": "x", "fields": {"total": {"inputFields": [
        {"namespace": "warehouse", "name": "src", "field": "amount",
         "transformations": [{"type": "DIRECT", "subtype": "AGGREGATION"}]}]}}}}
    post(client, run_event("COMPLETE", new_run_id(), outputs=[dataset("dst", facets=cl)]))
    with db() as s:
        edge = s.scalars(select(ColumnLineage)).one()
        assert (edge.output_field, edge.input_field, edge.transformation_type, edge.transformation_subtype) == (
            "total", "amount", "DIRECT", "AGGREGATION")


def test_edges_follow_what_the_job_last_wrote(client, db):
    first, second = new_run_id(), new_run_id()
    post(client, run_event("COMPLETE", first, outputs=[dataset("a"), dataset("b")]))
    post(client, run_event("COMPLETE", second, at=60, outputs=[dataset("a")]))
    with db() as s:
        rows = s.execute(select(Dataset.name, LineageEdge.valid_to).join(Dataset)).all()
    assert {(n, v is None) for n, v in rows} == {("a", True), ("b", False)}


@pytest.mark.parametrize(
    "body, headers, status",
    [
        (b"{not json", {"content-type": "application/json"}, 400),
        (b"hello", {"content-type": "application/json", "content-encoding": "gzip"}, 400),
        (b"{}", {"content-type": "text/plain"}, 415),
        (b"{}", {"content-type": "application/x-www-form-urlencoded"}, 415),
        (b"[]", {"content-type": "application/json"}, 422),
    ],
)
def test_bad_bodies_get_clear_errors(client, body, headers, status):
    r = client.post("/api/v1/lineage", content=body, headers=headers)
    assert r.status_code == status
    assert r.json()["error"]


def test_validation_errors_name_the_json_path(client):
    event = run_event("START", "not-a-uuid")
    del event["eventTime"]
    event["job"]["name"] = ""
    r = post(client, event)
    assert r.status_code == 422
    paths = {d["path"] for d in r.json()["detail"]}
    assert paths == {"$.eventTime", "$.run.runId", "$.job.name"}


def test_unknown_event_type_is_rejected(client):
    r = post(client, run_event("DONE", new_run_id()))
    assert r.status_code == 422
    assert r.json()["detail"][0]["path"] == "$.eventType"


def test_body_over_the_limit_is_413(client, app_settings):
    big = run_event("START", new_run_id(), run_facets={"blob": {"x": "a" * app_settings.max_body_bytes}})
    assert post(client, big).status_code == 413


def test_gzip_body_is_accepted_and_bomb_is_refused(client, db, app_settings):
    event = run_event("START", new_run_id())
    r = client.post("/api/v1/lineage", content=gzip.compress(json.dumps(event).encode()),
                    headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert r.status_code == 201
    bomb = gzip.compress(b" " * (app_settings.max_body_bytes + 10))
    r = client.post("/api/v1/lineage", content=bomb,
                    headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert r.status_code == 413
    assert count(db, LineageEvent) == 1


def test_unknown_facets_are_kept_and_deleted_null_tolerated(client, db):
    facets = {"myCompany_custom": {"_producer": "p", "_schemaURL": "x", "anything": [1, 2]},
              "nominalTime": {"_producer": "p", "_schemaURL": "x", "_deleted": None,
                              "nominalStartTime": "2026-11-01T05:00:00Z"}}
    assert post(client, run_event("START", new_run_id(), run_facets=facets)).status_code == 201
    with db() as s:
        run = s.scalars(select(Run)).one()
        assert run.facets["myCompany_custom"]["anything"] == [1, 2]
        assert run.nominal_start_time.isoformat() == "2026-11-01T05:00:00+00:00"


def test_batch_partial_success_keeps_the_good_events(client, db):
    good1, good2 = run_event("START", new_run_id()), run_event("START", new_run_id(), job="other")
    bad = run_event("START", "nope")
    r = client.post("/api/v1/lineage/batch", json=[good1, bad, good2, 17])
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "partial_success"
    assert body["summary"] == {"received": 4, "successful": 2, "failed": 2, "retriable": 0, "non_retriable": 2}
    assert [f["index"] for f in body["failed_events"]] == [1, 3]
    assert "runId" in body["failed_events"][0]["reason"]
    assert count(db, Run) == 2


def test_batch_all_good_and_duplicates_within_batch(client, db):
    event = run_event("START", new_run_id())
    r = client.post("/api/v1/lineage/batch", json=[event, event])
    assert r.json()["status"] == "success"
    assert count(db, LineageEvent) == 1


def test_batch_must_be_an_array(client):
    r = client.post("/api/v1/lineage/batch", json={"eventTime": "x"})
    assert r.status_code == 400
