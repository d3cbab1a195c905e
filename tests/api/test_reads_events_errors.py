"""The read API's raw event listing, awkward names, errors, statement counts and scopes."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from backends import create_tokens
from reads_support import (
    T0,
    at,
    dataset,
    get,
    ids,
    names,
    parent,
    post,
    rid,
    run_event,
    service,
)
from sqlalchemy import event

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
    tokens = create_tokens(db_url, ingester=["ingest"], reader=["read"])
    ingest_only, reader = tokens["ingester"], tokens["reader"]
    with service(db_url) as client:
        assert client.get("/api/v1/namespaces").status_code == 401
        denied = client.get("/api/v1/namespaces", headers={"Authorization": f"Bearer {ingest_only}"})
        assert denied.status_code == 403
        allowed = client.get("/api/v1/namespaces", headers={"Authorization": f"Bearer {reader}"})
        assert allowed.status_code == 200 and allowed.json() == {"namespaces": [], "totalCount": 0}
