"""The node metadata cache: its triggers log exactly the changes it shows, and it catches
up on every committed change, through the real ingestion path and from other replicas."""

from __future__ import annotations

import random

import pytest
from factories import dataset, new_run_id, run_event
from sqlalchemy import delete, select, text, update

from app.ingest.schema import parse_event
from app.ingest.writer import EventStore
from app.lineage.nodecache import NodeCache, NodeStore, node_cache_for
from app.store.db import make_engine, make_session_factory
from app.store.models import Dataset, Job

from .rows import Estate, at


def _log(session) -> list[tuple[str, int]]:
    return [tuple(r) for r in session.execute(text("SELECT kind, node_id FROM lineage_node_log ORDER BY seq"))]


def _ownership(*names: str) -> dict:
    return {"ownership": {"_producer": "t", "_schemaURL": "x",
                          "owners": [{"name": n, "type": "TEAM"} for n in names]}}


def _store(engine, *events) -> None:
    EventStore(make_session_factory(engine)).store([parse_event(e) for e in events])


def _run(engine, state, *, at_min, owners=("team:a",), ins=("src",), outs=("dst",)) -> None:
    run_id = new_run_id()
    kw = {"at": at_min, "inputs": [dataset(n, "wh") for n in ins],
          "outputs": [dataset(n, "wh") for n in outs],
          "job_facets": _ownership(*owners)}
    _store(engine, run_event("START", run_id, "load", **kw),
           run_event(state, run_id, "load", **{**kw, "at": at_min + 1}))


def test_triggers_log_only_the_shown_columns(session):
    e = Estate(session)
    ds, job = e.dataset("a"), e.job("j")
    session.commit()
    assert sorted(_log(session)) == [("d", ds), ("j", job)]
    session.execute(text("DELETE FROM lineage_node_log"))
    session.execute(update(Dataset).values(facets={"x": 1}, description="not shown"))
    session.execute(update(Job).values(sql="select 1", facets={"y": 2}))
    session.commit()
    assert _log(session) == []
    session.execute(update(Dataset).values(last_modified_at=at(3)))
    session.execute(update(Job).values(latest_run_state="FAILED"))
    session.execute(update(Job).values(owners=[{"name": "team:x"}]))
    session.execute(delete(Dataset).where(Dataset.id == ds))
    session.commit()
    assert _log(session) == [("d", ds), ("j", job), ("j", job), ("d", ds)]


def test_ingested_changes_show_in_the_next_transaction(session, engine):
    _run(engine, "COMPLETE", at_min=0)
    cache = node_cache_for(session)
    with_loads = []
    original = cache._load_all
    cache._load_all = lambda s: (with_loads.append(1), original(s))
    from app.lineage.impact import impact

    first = impact(session, "dataset:wh:src")
    assert [(n["id"], n["lastRunState"]) for n in first["nodes"]] == [
        ("job:pipelines:load", "COMPLETED"), ("dataset:wh:dst", "COMPLETED")]
    assert first["summary"]["owners"] == [{"name": "team:a", "nodes": 1}]
    dst_updated = first["nodes"][1]["lastUpdatedAt"]
    assert dst_updated is not None
    session.commit()
    # The job fails under new owners and starts writing a second table.
    _run(engine, "FAIL", at_min=10, owners=("team:b", "team:c"), outs=("dst", "extra"))
    second = impact(session, "dataset:wh:src")
    assert [(n["id"], n["lastRunState"]) for n in second["nodes"]] == [
        ("job:pipelines:load", "FAILED"), ("dataset:wh:dst", "FAILED"), ("dataset:wh:extra", "FAILED")]
    assert second["summary"]["owners"] == [{"name": "team:b", "nodes": 1}, {"name": "team:c", "nodes": 1}]
    assert second["summary"]["failing"] == 3
    session.commit()
    _run(engine, "COMPLETE", at_min=20, owners=("team:b",), outs=("dst", "extra"))
    third = impact(session, "dataset:wh:src")
    assert [n["lastRunState"] for n in third["nodes"]] == ["COMPLETED"] * 3
    assert third["nodes"][1]["lastUpdatedAt"] > dst_updated
    assert third["summary"]["failing"] == 0
    assert with_loads == [1]  # the first answer loaded everything; the rest caught up


def test_a_change_committed_by_another_replica_is_seen(session, db_url):
    e = Estate(session)
    e.reads("j", "a")
    e.writes("j", "b")
    session.commit()
    cache = node_cache_for(session)
    assert cache.refresh(session) and cache.jobs[e.jobs["j"]].run_state is None
    session.commit()
    other = make_engine(db_url)
    with make_session_factory(other)() as s2:
        s2.execute(update(Job).where(Job.id == e.jobs["j"]).values(latest_run_state="ABORTED"))
        s2.execute(update(Dataset).where(Dataset.id == e.ds["b"]).values(owners=[{"name": "team:z"}]))
        s2.commit()
    other.dispose()
    assert cache.refresh(session)
    assert cache.jobs[e.jobs["j"]].run_state == "ABORTED" and e.jobs["j"] in cache.failing
    assert cache.owner_sets[cache.dataset_owners[e.ds["b"]]] == ("team:z",)


def test_cache_equals_a_fresh_load_through_random_changes(session):
    rng = random.Random(5)
    e = Estate(session)
    for i in range(30):
        e.dataset(f"d{i}")
        e.job(f"j{i}")
    session.commit()
    cache = NodeCache(max_nodes=10**6)
    assert cache.refresh(session)
    states = [None, "RUNNING", "COMPLETED", "FAILED", "ABORTED"]
    for _ in range(4):
        for i in rng.sample(range(30), 10):
            session.execute(update(Job).where(Job.id == e.jobs[f"j{i}"]).values(
                latest_run_state=rng.choice(states), latest_run_at=at(rng.randrange(100)),
                owners=[{"name": f"team:{rng.randrange(3)}"}]))
        for name in rng.sample(sorted(e.ds), 10):
            session.execute(update(Dataset).where(Dataset.id == e.ds[name]).values(
                last_modified_at=at(rng.randrange(100)), owners=rng.choice([[], ["bare-name"]])))
        e.dataset(f"new{rng.random()}")
        gone = rng.choice(sorted(e.ds))
        session.execute(delete(Dataset).where(Dataset.id == e.ds.pop(gone)))
        session.commit()
        assert cache.refresh(session)
        fresh = NodeStore()
        fresh.load(session, None, None)
        assert (cache.datasets, cache.jobs, cache.failing) == (fresh.datasets, fresh.jobs, fresh.failing)


def test_log_pruned_past_the_cache_forces_a_reload(session):
    e = Estate(session)
    e.job("j")
    session.commit()
    cache = NodeCache(max_nodes=10**6)
    assert cache.refresh(session)
    cache.log.max_seq = -5  # as if the triggers had pruned rows this cache never read
    session.execute(update(Job).values(latest_run_state="FAILED"))
    session.commit()
    loads = []
    original = cache._load_all
    cache._load_all = lambda s: (loads.append(1), original(s))
    assert cache.refresh(session)
    assert loads == [1] and cache.failing == {e.jobs["j"]}


def test_session_transaction_refreshes_once(session):
    e = Estate(session)
    e.job("j")
    session.commit()
    from app.lineage.nodecache import current_nodes

    with current_nodes(session) as cache:
        assert cache.jobs[e.jobs["j"]].run_state is None
    refreshes = []
    original = cache.refresh
    cache.refresh = lambda s: (refreshes.append(1), original(s))[1]
    with current_nodes(session):
        pass
    assert refreshes == []  # same transaction: the state it already saw
    session.commit()
    assert session.scalar(select(Job.id)) == e.jobs["j"]
    with current_nodes(session):
        pass
    assert refreshes == [1]


def test_a_failed_catch_up_reloads_everything_next_time(session):
    from app.lineage.nodecache import current_nodes

    e = Estate(session)
    e.job("j")
    session.commit()
    with current_nodes(session) as cache:
        assert cache.loaded
    session.commit()
    session.execute(update(Job).values(latest_run_state="FAILED"))
    session.commit()
    original = cache.load

    def broken(*args):
        raise RuntimeError("connection lost mid-way")

    cache.load = broken  # the log is read, then applying it fails
    with pytest.raises(RuntimeError), current_nodes(session):
        pass
    cache.load = original
    session.rollback()
    with current_nodes(session) as again:
        assert again.failing == {e.jobs["j"]}


def test_an_estate_grown_past_the_limit_is_no_longer_held(session):
    e = Estate(session)
    e.job("j")
    session.commit()
    cache = NodeCache(max_nodes=2)
    assert cache.refresh(session) and len(cache.jobs) == 1
    e.dataset("a")
    e.dataset("b")
    session.commit()
    assert not cache.refresh(session)
    assert cache.too_big and cache.jobs == {} and cache.datasets == {}
