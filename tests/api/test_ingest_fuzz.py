"""No input, however malformed, gets a 500 from the ingest endpoints."""

from __future__ import annotations

import json

import pytest
from factories import run_event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.main import create_app
from app.settings import Settings

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)

FIELDS = ["eventTime", "producer", "schemaURL", "eventType", "run", "job", "inputs", "outputs"]


def mutate(base: dict, data) -> dict:
    event = json.loads(json.dumps(base))
    for _ in range(data.draw(st.integers(1, 4))):
        target = event
        path = data.draw(st.sampled_from([[], ["run"], ["job"], ["run", "facets"], ["outputs", 0]]))
        try:
            for p in path:
                target = target[p]
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(target, dict):
            continue
        key = data.draw(st.sampled_from(FIELDS + ["runId", "namespace", "name", "facets", "schema",
                                                  "outputFacets", "parent", "columnLineage"]))
        if data.draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = data.draw(json_values)
    return event


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def fuzz_client(request, tmp_path_factory):
    """PostgreSQL is the stricter store (NUL bytes, index entry sizes, int64), so fuzz both."""
    import shutil

    from fastapi.testclient import TestClient

    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("fuzz") / "db.sqlite"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_database")
        from backends import PostgresUsage

        PostgresUsage.count += 1
    with TestClient(create_app(Settings(database_url=url, slo_scheduler=False))) as c:
        yield c


BASE = run_event("COMPLETE", "3f5e83fa-3480-44ff-99c5-ff943904e5e8",
                 inputs=[{"namespace": "n", "name": "in"}],
                 outputs=[{"namespace": "n", "name": "out", "facets": {}, "outputFacets": {}}])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_events_never_500(fuzz_client, data):
    event = mutate(BASE, data)
    r = fuzz_client.post("/api/v1/lineage", content=json.dumps(event), headers={"content-type": "application/json"})
    assert r.status_code in (201, 422), r.text
    r = fuzz_client.post("/api/v1/lineage/batch", json=[event, BASE])
    assert r.status_code == 200, r.text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=200), encoding=st.sampled_from([None, "gzip", "br"]),
       ctype=st.sampled_from(["application/json", "text/plain", None]))
def test_arbitrary_bytes_never_500(fuzz_client, body, encoding, ctype):
    headers = {}
    if encoding:
        headers["content-encoding"] = encoding
    if ctype:
        headers["content-type"] = ctype
    for path in ("/api/v1/lineage", "/api/v1/lineage/batch"):
        r = fuzz_client.post(path, content=body, headers=headers)
        assert r.status_code < 500, r.text
