"""Blast radius answers: complete totals and owners over everything reached, pages in a
fixed order, the same answer from the caches and from the database, never stale."""

from __future__ import annotations

import json
import random
from contextlib import contextmanager

import pytest
from factories import dataset, new_run_id, run_event
from sqlalchemy import update

from app.errors import InvalidInput
from app.lineage.cache import GraphCache
from app.lineage.impact import DEFAULT_PAGE, impact
from app.lineage.nodecache import NodeCache
from app.store.models import Dataset, Job

from .rows import Estate, at


def _random_estate(session, rng: random.Random) -> Estate:
    e = Estate(session)
    for j in range(40):
        e.reads(f"j{j}", *[f"d{i}" for i in rng.sample(range(60), rng.randint(1, 3))])
        e.writes(f"j{j}", *[f"d{i}" for i in rng.sample(range(60), rng.randint(1, 3))])
    states = [None, "COMPLETED", "FAILED", "ABORTED", "RUNNING"]
    for job_id in e.jobs.values():
        session.execute(update(Job).where(Job.id == job_id).values(
            latest_run_state=rng.choice(states), latest_run_at=rng.choice([None, at(rng.randrange(5))]),
            owners=[{"name": f"team:{rng.randrange(4)}", "type": "TEAM"}]))
    for ds_id in e.ds.values():
        session.execute(update(Dataset).where(Dataset.id == ds_id).values(
            last_modified_at=at(rng.randrange(50)),
            owners=rng.choice([[], [{"name": "team:0"}], ["person:x", "team:1"]])))
    session.commit()
    return e


@contextmanager
def _too_big_nodes(session):
    small = NodeCache(max_nodes=3)
    assert not small.refresh(session) and small.too_big and small.datasets == {}
    yield None


def _no_cache(monkeypatch) -> None:
    monkeypatch.setattr("app.lineage.cache.cache_for", lambda s: GraphCache(max_edges=0))


def test_cached_and_database_answers_are_identical(session, monkeypatch):
    rng = random.Random(8)
    e = _random_estate(session, rng)
    starts = [f"dataset:ns:{n}" for n in rng.sample(sorted(e.ds), 8)] + [
        f"job:ns:{n}" for n in rng.sample(sorted(e.jobs), 4)]
    params = [{"direction": d, "limit": lim, "offset": off, "depth": dep}
              for d in ("downstream", "upstream", "both")
              for lim, off, dep in ((None, 0, None), (3, 2, None), (5, 0, 2), (2, 40, None))]
    cached = [impact(session, s, **p) for s in starts for p in params]
    session.commit()
    # Too many nodes to hold their metadata: the graph is cached, the rest read.
    monkeypatch.setattr("app.lineage.impact.current_nodes", _too_big_nodes)
    nodes_read = [impact(session, s, **p) for s in starts for p in params]
    session.commit()
    _no_cache(monkeypatch)
    database = [impact(session, s, **p) for s in starts for p in params]
    assert cached == nodes_read == database
    assert any(a["summary"]["failing"] for a in cached) and any(a["nodes"] for a in cached)


def test_pages_cover_everything_in_order_and_totals_stay_complete(session):
    e = Estate(session)
    e.reads("fan", "src")
    e.writes("fan", *[f"t{i:03d}" for i in range(150)])
    for i in range(0, 150, 10):
        e.reads(f"use{i}", f"t{i:03d}")
        e.writes(f"use{i}", f"out{i}")
    session.execute(update(Job).values(owners=[{"name": "team:fan"}]))
    session.commit()
    first = impact(session, "dataset:ns:src")
    assert first["limit"] == DEFAULT_PAGE and len(first["nodes"]) == DEFAULT_PAGE
    assert first["totalCount"] == 1 + 150 + 15 + 15 and not first["truncated"]
    assert first["summary"]["datasets"] == 165 and first["summary"]["jobs"] == 16
    assert first["summary"]["owners"] == [{"name": "team:fan", "nodes": 16}]
    assert first["summary"]["maxDistance"] == 4
    pages = [impact(session, "dataset:ns:src", limit=37, offset=o) for o in range(0, 200, 37)]
    listed = [(n["distance"], n["type"], n["namespace"], n["name"]) for p in pages for n in p["nodes"]]
    assert len(listed) == 181 and listed == sorted(listed)
    assert listed[:3] == [(1, "JOB", "ns", "fan"), (2, "DATASET", "ns", "t000"), (2, "DATASET", "ns", "t001")]
    assert [n["id"] for n in first["nodes"]] == [
        f"{t.lower()}:{ns}:{name}" for _, t, ns, name in listed[:DEFAULT_PAGE]]
    assert all(p["summary"] == first["summary"] and p["totalCount"] == 181 for p in pages)
    assert impact(session, "dataset:ns:src", offset=500)["nodes"] == []


def test_a_dataset_shows_the_writer_that_ran_last(session):
    e = Estate(session)
    e.reads("reader", "src")
    e.writes("reader", "mid")
    e.reads("a", "mid"); e.reads("b", "mid"); e.reads("c", "mid")
    e.writes("a", "t"); e.writes("b", "t"); e.writes("c", "t")
    session.commit()
    values = {"a": ("FAILED", at(1)), "b": ("COMPLETED", at(2)), "c": ("ABORTED", None)}
    for name, (state, when) in values.items():
        session.execute(update(Job).where(Job.id == e.jobs[name]).values(
            latest_run_state=state, latest_run_at=when))
    session.commit()
    answer = impact(session, "dataset:ns:src")
    t = next(n for n in answer["nodes"] if n["name"] == "t")
    assert (t["lastRunState"], t["lastRunAt"]) == ("COMPLETED", at(2))
    assert answer["summary"]["failing"] == 2  # jobs a and c; t's last writer (b) completed
    session.execute(update(Job).where(Job.id == e.jobs["a"]).values(latest_run_at=at(2)))
    session.commit()
    # A tie on the run time goes to the lowest job id (a), whichever order edges came in.
    again = impact(session, "dataset:ns:src")
    assert next(n for n in again["nodes"] if n["name"] == "t")["lastRunState"] == "FAILED"
    assert again["summary"]["failing"] == 3


@pytest.mark.parametrize("bad", [{"offset": -1}, {"limit": 0}, {"direction": "sideways"}])
def test_bad_page_parameters(session, bad):
    Estate(session).reads("j", "a")
    session.commit()
    with pytest.raises(InvalidInput):
        impact(session, "dataset:ns:a", **bad)


def _post(client, *events) -> None:
    for event in events:
        r = client.post("/api/v1/lineage", content=json.dumps(event),
                        headers={"content-type": "application/json"})
        assert r.status_code == 201, r.text


def _run(client, job, ins, outs, state, at_min, owners) -> None:
    run_id = new_run_id()
    facets = {"ownership": {"_producer": "t", "_schemaURL": "x",
                            "owners": [{"name": o, "type": "TEAM"} for o in owners]}}
    kw = {"inputs": [dataset(n) for n in ins], "outputs": [dataset(n) for n in outs], "job_facets": facets}
    _post(client, run_event("START", run_id, job, at=at_min, **kw),
          run_event(state, run_id, job, at=at_min + 1, **kw))


def test_the_default_call_never_lags_an_acknowledged_event(client):
    """What a user calls, with default parameters, right after each 201: the caches were
    loaded by the first answer, and every later answer shows the event just stored."""
    _run(client, "clean", ["raw"], ["clean"], "COMPLETE", 0, ["team:data"])
    _run(client, "report", ["clean"], ["report"], "COMPLETE", 2, ["team:bi"])

    def answer():
        r = client.get("/api/v1/lineage/impact", params={"nodeId": "dataset:warehouse:raw"})
        assert r.status_code == 200, r.text
        return r.json()

    first = answer()
    assert [(n["id"], n["lastRunState"]) for n in first["nodes"]] == [
        ("job:pipelines:clean", "COMPLETED"), ("dataset:warehouse:clean", "COMPLETED"),
        ("job:pipelines:report", "COMPLETED"), ("dataset:warehouse:report", "COMPLETED")]
    assert first["summary"]["owners"] == [{"name": "team:bi", "nodes": 1}, {"name": "team:data", "nodes": 1}]
    _run(client, "report", ["clean"], ["report", "report_v2"], "FAIL", 5, ["team:bi", "team:oncall"])
    second = answer()
    assert [(n["id"], n["lastRunState"]) for n in second["nodes"]][2:] == [
        ("job:pipelines:report", "FAILED"), ("dataset:warehouse:report", "FAILED"),
        ("dataset:warehouse:report_v2", "FAILED")]
    assert second["summary"]["failing"] == 3 and second["totalCount"] == 5
    assert {o["name"] for o in second["summary"]["owners"]} == {"team:bi", "team:data", "team:oncall"}
    # The job stops writing the old table: its edge closes with this completed run.
    _run(client, "report", ["clean"], ["report_v2"], "COMPLETE", 9, ["team:bi"])
    third = answer()
    assert [n["id"] for n in third["nodes"]][2:] == ["job:pipelines:report", "dataset:warehouse:report_v2"]
    assert third["summary"]["failing"] == 0 and third["nodes"][3]["lastUpdatedAt"].endswith("Z")


def test_a_node_missing_from_the_node_cache_is_read_not_dropped(session):
    from app.lineage.nodecache import node_cache_for

    e = Estate(session)
    e.reads("j", "a")
    e.writes("j", "b")
    session.commit()
    before = impact(session, "dataset:ns:a")
    session.commit()
    cache = node_cache_for(session)
    del cache.datasets[e.ds["b"]], cache.dataset_owners[e.ds["b"]]  # as if a change were lost
    assert impact(session, "dataset:ns:a") == before
    assert e.ds["b"] in cache.datasets
