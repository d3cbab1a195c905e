"""The in-process graph cache answers exactly as the database walk, through changes."""

from __future__ import annotations

import random
import time

import pytest
from sqlalchemy import delete, select, update

from app.lineage.cache import GraphCache, cache_for
from app.lineage.traverse import Walk, walk
from app.store.db import make_engine, make_session_factory
from app.store.models import LineageEdge

from .rows import Estate, at


def _random_estate(session, rng: random.Random, datasets: int = 60, jobs: int = 40) -> Estate:
    e = Estate(session)
    for j in range(jobs):
        ins = rng.sample(range(datasets), rng.randint(0, 3))
        outs = rng.sample(range(datasets), rng.randint(1, 3))
        e.reads(f"j{j}", *[f"d{i}" for i in ins])
        e.writes(f"j{j}", *[f"d{i}" for i in outs])
    session.commit()
    return e


def _same(session, e: Estate, rng: random.Random, rounds: int = 25) -> None:
    for _ in range(rounds):
        direction = rng.choice(["downstream", "upstream"])
        seeds_ds = rng.sample(sorted(e.ds.values()), rng.randint(0, 2))
        seeds_jobs = rng.sample(sorted(e.jobs.values()), 1 if not seeds_ds else 0)
        kw = {"direction": direction, "datasets": seeds_ds, "jobs": seeds_jobs, "keep_edges": True,
              "max_hops": rng.choice([None, 1, 2, 5]), "limit": rng.choice([None, 3, 10, 50])}
        cached = walk(session, use_cache=True, **kw)
        db = walk(session, use_cache=False, **kw)
        assert (cached.datasets, cached.jobs, cached.edges, cached.truncated) == (
            db.datasets, db.jobs, db.edges, db.truncated), kw
        # The levels a walk records as it goes are those its distances say, cut included.
        rebuilt = Walk(datasets=dict(db.datasets), jobs=dict(db.jobs)).levels()
        for recorded in (cached.levels(), db.levels()):
            assert [(sorted(j), sorted(d)) for j, d in recorded if j or d] == [
                (sorted(j), sorted(d)) for j, d in rebuilt], kw


def test_cache_equals_database_walk_through_changes(session, engine):
    rng = random.Random(3)
    e = _random_estate(session, rng)
    _same(session, e, rng)
    graph = cache_for(session)
    assert graph.loaded and not graph.too_big and graph.edge_count > 0
    full_loads = []
    original = graph._load_all
    graph._load_all = lambda s: (full_loads.append(1), original(s))  # catch-up must be incremental
    # Close some edges, open new ones, delete a few: the next walk must see all of it.
    ids = session.scalars(select(LineageEdge.id)).all()
    session.execute(update(LineageEdge).where(LineageEdge.id.in_(ids[::5])).values(valid_to=at(50)))
    session.execute(delete(LineageEdge).where(LineageEdge.id.in_(ids[1::7])))
    for j in range(10):
        e.reads(f"new{j}", f"d{rng.randrange(60)}")
        e.writes(f"new{j}", f"fresh{j}")
    session.commit()
    _same(session, e, rng)
    assert full_loads == []
    open_edges = session.scalar(select(LineageEdge.id).where(LineageEdge.valid_to.is_(None)).limit(1))
    assert open_edges is not None
    assert graph.edge_count == len(session.scalars(
        select(LineageEdge.id).where(LineageEdge.valid_to.is_(None))).all())


def test_cache_sees_what_another_process_committed(session, db_url):
    e = Estate(session)
    e.reads("j", "a")
    e.writes("j", "b")
    session.commit()
    assert set(walk(session, direction="downstream", datasets=[e.ds["a"]]).datasets) == {e.ds["a"], e.ds["b"]}
    other = make_engine(db_url)  # another replica with its own connection pool
    with make_session_factory(other)() as s2:
        e2 = Estate(s2)
        e2.ds, e2.jobs = dict(e.ds), dict(e.jobs)
        e2.writes("j", "c")
        s2.execute(update(LineageEdge).where(LineageEdge.dataset_id == e.ds["b"]).values(valid_to=at(9)))
        s2.commit()
        c_id = e2.ds["c"]
    other.dispose()
    session.rollback()  # a new transaction, as a new request would have
    reached = walk(session, direction="downstream", datasets=[e.ds["a"]]).datasets
    assert set(reached) == {e.ds["a"], c_id}


def test_history_walks_never_use_the_cache(session):
    e = Estate(session)
    e.reads("j", "a")
    e.writes("j", "old", since=0, until=10)
    session.commit()
    assert e.ds["old"] not in walk(session, direction="downstream", datasets=[e.ds["a"]]).datasets
    assert e.ds["old"] in walk(session, direction="downstream", datasets=[e.ds["a"]], at=at(5)).datasets


def test_estates_too_big_to_cache_are_walked_in_the_database(session, monkeypatch):
    e = Estate(session)
    e.reads("j", "a")
    e.writes("j", "b", "c")
    session.commit()
    small = GraphCache(max_edges=2)
    monkeypatch.setattr("app.lineage.cache.cache_for", lambda s: small)
    result = walk(session, direction="downstream", datasets=[e.ds["a"]])
    assert small.too_big and small.readers == {}
    assert set(result.datasets) == {e.ds["a"], e.ds["b"], e.ds["c"]}


def test_log_pruned_past_the_cache_forces_a_reload(session):
    e = Estate(session)
    e.reads("j", "a")
    e.writes("j", "b")
    session.commit()
    graph = GraphCache()
    assert graph.refresh(session)
    graph.max_seq = -5  # as if the triggers had pruned rows this cache never read
    e.writes("j", "c")
    session.commit()
    assert graph.refresh(session)
    assert list(graph.outputs[e.jobs["j"]]) == sorted([e.ds["b"], e.ds["c"]])


@pytest.mark.parametrize("direction", ["downstream", "upstream"])
def test_cycles_and_self_loops_in_the_cache(session, direction):
    e = Estate(session)
    e.reads("loop", "t")
    e.writes("loop", "t")
    e.reads("f", "t"); e.writes("f", "u")
    e.reads("g", "u"); e.writes("g", "t")
    session.commit()
    cached = walk(session, direction=direction, datasets=[e.ds["t"]])
    db = walk(session, direction=direction, datasets=[e.ds["t"]], use_cache=False)
    assert (cached.datasets, cached.jobs) == (db.datasets, db.jobs)
    assert set(cached.jobs) == set(e.jobs.values())


def test_service_start_loads_the_caches_in_the_background(app_settings):
    from fastapi.testclient import TestClient

    from app.lineage.cache import install
    from app.lineage.nodecache import node_cache_for
    from app.main import create_app

    engine = make_engine(app_settings.database_url)
    with make_session_factory(engine)() as s:
        Estate(s).reads("j", "a")
        s.commit()
    engine.dispose()
    settings = app_settings.model_copy(update={"lineage_cache_max_edges": 12345})
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
        app_engine = client.app.state.engine
        graph = install(app_engine, 0)  # the one the start-up made, with the setting's limit
        with make_session_factory(app_engine)() as s:
            nodes = node_cache_for(s)
        deadline = time.monotonic() + 10
        while not (graph.loaded and nodes.loaded) and time.monotonic() < deadline:
            time.sleep(0.02)
        # The loader holds each cache's lock while it fills it: take them to read a
        # finished load, not one in progress.
        with graph.lock, nodes.lock:
            assert graph.max_edges == 12345 and graph.edge_count == 1
            assert nodes.loaded and len(nodes.jobs) == 1 and len(nodes.datasets) == 1


def test_the_size_limit_comes_from_the_settings(monkeypatch, session):
    from app.settings import get_settings

    monkeypatch.setenv("DATASLO_LINEAGE_CACHE_MAX_EDGES", "7")
    get_settings.cache_clear()
    try:
        assert GraphCache().max_edges == 7
        assert cache_for(session).max_edges == 7
    finally:
        get_settings.cache_clear()
