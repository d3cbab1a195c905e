"""Timing the lineage queries on a loaded estate, next to the in-memory baseline.

Every figure is a p50 over repeated runs, and the database and in-memory runs are
interleaved so both see the same machine load (CI machines are shared). Each query is
timed twice: the domain function and the HTTP endpoint through the ASGI app in-process
(what a client sees: routing, auth, the session, serialisation). The impact target is
judged on the HTTP call a user makes, with default parameters. Before timing, the
database walk is checked against the in-memory BFS (same nodes, same distances) and the
impact answer's totals against the BFS reach, or the run fails.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.lineage.cache import GraphCache
from app.lineage.graph import lineage_graph
from app.lineage.impact import impact
from app.lineage.nodecache import NodeCache
from app.lineage.nodes import resolve
from app.lineage.params import MAX_LIMIT
from app.lineage.search import search
from app.lineage.traverse import walk
from app.store.db import make_session_factory
from app.store.models import Dataset
from bench.lineage.estate import ENTITIES, LAYERS, Estate
from bench.lineage.load import Adjacency

IMPACT_PATH = "/api/v1/lineage/impact"


def _ms(fn: Callable[..., object], *args, **kwargs) -> float:
    started = time.perf_counter()
    fn(*args, **kwargs)
    return (time.perf_counter() - started) * 1000


def _p50(samples: list[float]) -> float:
    return round(statistics.median(samples), 2)


def _summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50_ms": _p50(samples), "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
            "min_ms": round(ordered[0], 2), "n": len(samples)}


class Http:
    """The real app in-process (lifespan running), so the endpoint figures include routing,
    auth, the session dependency and JSON encoding."""

    def __init__(self, url: str) -> None:
        from fastapi.testclient import TestClient

        from app.main import create_app
        from app.settings import Settings

        self.client = TestClient(create_app(Settings(database_url=url, auth="auto")))
        self.client.__enter__()
        # A user calls a service that has finished starting: wait for its background
        # warm-up (lineage caches loaded, then frozen out of the collector's walks).
        warming = self.client.app.state.lineage_warming
        deadline = time.monotonic() + 600
        while not warming.done() and time.monotonic() < deadline:
            time.sleep(0.05)

    def get(self, path: str, **params):
        r = self.client.get(path, params=params)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path} {params} -> {r.status_code} {r.text[:300]}")
        return r

    def close(self) -> None:
        self.client.__exit__(None, None, None)


def _hub_ids(session: Session, est: Estate) -> list[tuple[str, int]]:
    out = []
    for hub in est.hubs:
        node = resolve(session, est.node_id(hub))
        out.append((node.node_id, node.id))
    return out


def check_walk(session: Session, adj: Adjacency, hub_id: int) -> dict:
    """The cached walk, the database walk and the baseline must agree exactly."""
    mem_ds, mem_jobs = adj.downstream(hub_id)
    for use_cache in (True, False):
        got = walk(session, direction="downstream", datasets=[hub_id], use_cache=use_cache)
        if got.datasets != mem_ds or got.jobs != mem_jobs:
            raise AssertionError(f"walk (cache={use_cache}) differs from in-memory BFS at {hub_id}")
    return {"datasets": len(mem_ds) - 1, "jobs": len(mem_jobs),
            "max_distance": max(mem_ds.values()) if mem_ds else 0}


def _check_answer(http: Http, node_id: str, reach: dict) -> None:
    """The answer a user gets must count exactly what the baseline BFS reached."""
    body = http.get(IMPACT_PATH, nodeId=node_id, direction="downstream").json()
    summary = body["summary"]
    if (summary["datasets"], summary["jobs"], body["totalCount"], body["truncated"]) != (
            reach["datasets"], reach["jobs"], reach["datasets"] + reach["jobs"], False):
        raise AssertionError(f"impact of {node_id} counts {summary} / {body['totalCount']}, "
                             f"the in-memory BFS reached {reach}")
    if not summary["owners"] or len(body["nodes"]) != min(100, body["totalCount"]):
        raise AssertionError(f"impact of {node_id}: no owner roll-up or a short first page")


def hub_impact(engine: Engine, url: str, est: Estate, reps: int, log) -> dict:
    """The user's call is GET /api/v1/lineage/impact?nodeId=<hub>&direction=downstream with
    every other parameter at its default: that is the headline figure, next to the BFS."""
    factory = make_session_factory(engine)
    adj = Adjacency(engine)
    http = Http(url)
    with factory() as session:
        hubs = _hub_ids(session, est)
        reach = [check_walk(session, adj, ds_id) for _, ds_id in hubs]
    for (node_id, _), r in zip(hubs, reach, strict=True):
        _check_answer(http, node_id, r)
    # The estate and the baseline's lists are bench objects, not the server's: keep them out
    # of the garbage collector's full passes, which would otherwise bill every allocation-
    # heavy step (ours and the baseline's alike) for scanning them.
    gc.collect()
    gc.freeze()
    samples: dict[str, list[float]] = {k: [] for k in (
        "in_memory_bfs", "walk", "walk_without_cache", "impact", "impact_http", "impact_http_all")}
    for rep in range(reps + 1):
        for node_id, ds_id in hubs:
            with factory() as session:
                timed = {"in_memory_bfs": _ms(adj.downstream, ds_id),
                         "walk": _ms(walk, session, direction="downstream", datasets=[ds_id]),
                         "impact": _ms(impact, session, node_id)}
            timed["impact_http"] = _ms(http.get, IMPACT_PATH, nodeId=node_id, direction="downstream")
            if rep <= 2:  # slow at 100k; three rounds say enough
                with factory() as session:
                    timed["walk_without_cache"] = _ms(walk, session, direction="downstream",
                                                      datasets=[ds_id], use_cache=False)
                timed["impact_http_all"] = _ms(http.get, IMPACT_PATH, nodeId=node_id,
                                               direction="downstream", limit=MAX_LIMIT)
            if rep:  # the first round warms caches and connections
                for key, value in timed.items():
                    samples[key].append(value)
    http.close()
    gc.unfreeze()
    log(f"    hubs reach {[r['datasets'] + r['jobs'] for r in reach]} nodes")
    bfs = _p50(samples["in_memory_bfs"])
    return {
        "hubs": len(hubs),
        "reach": reach,
        **{key: _summary(values) for key, values in samples.items()},
        "ratio_walk_to_bfs": round(_p50(samples["walk"]) / bfs, 2),
        "ratio_impact_to_bfs": round(_p50(samples["impact"]) / bfs, 2),
        "ratio_impact_http_to_bfs": round(_p50(samples["impact_http"]) / bfs, 2),
    }


def _function_and_http(factory, items: list, reps: int, function: Callable, over_http: Callable
                       ) -> tuple[list[float], list[float]]:
    """Each item through the domain function (own session) and over HTTP, interleaved so
    both see the same machine load; the first round only warms up."""
    fn_samples: list[float] = []
    api_samples: list[float] = []
    for rep in range(reps + 1):
        for item in items:
            with factory() as session:
                t = _ms(function, session, item)
            a = _ms(over_http, item)
            if rep:
                fn_samples.append(t)
                api_samples.append(a)
    return fn_samples, api_samples


def typical_nodes(session: Session, est: Estate, count: int, seed: int = 11) -> list[str]:
    """Datasets in the middle layers that some job reads or writes: what people look at."""
    rng = random.Random(seed)
    middle = [i for i, lay in enumerate(est.layer) if 2 <= lay <= 5]
    picked = rng.sample(middle, count)
    names = [est.datasets[i][1] for i in picked]
    known = set(session.scalars(select(Dataset.name).where(Dataset.name.in_(names))))
    return [est.node_id(i) for i in picked if est.datasets[i][1] in known]


def lineage_depth20(engine: Engine, url: str, est: Estate, reps: int, log) -> dict:
    factory = make_session_factory(engine)
    http = Http(url)
    with factory() as session:
        nodes = typical_nodes(session, est, 25)
        sizes = [lineage_graph(session, n, depth=20)["nodeCount"] for n in nodes]
    fn_samples, api_samples = _function_and_http(
        factory, nodes, reps, lambda session, node_id: lineage_graph(session, node_id, depth=20),
        lambda node_id: http.get("/api/v1/lineage", nodeId=node_id, depth=20))
    http.close()
    log(f"    graph sizes: median {statistics.median(sizes)}, max {max(sizes)} nodes")
    return {"nodes": len(nodes), "graph_nodes_median": statistics.median(sizes),
            "graph_nodes_max": max(sizes), "truncated": sum(1 for s in sizes if s >= 10_000),
            "lineage": _summary(fn_samples), "lineage_http": _summary(api_samples)}


def search_queries(est: Estate, seed: int = 5) -> list[str]:
    """A mix of what people type: entity words, exact-ish table names, layer fragments."""
    rng = random.Random(seed)
    queries = list(rng.sample(ENTITIES, 6))
    for _ in range(10):
        name = est.datasets[rng.randrange(len(est.datasets))][1]
        queries.append(name.rsplit(".", 1)[-1])  # entity_12345: one or few hits
    for _ in range(6):
        name = est.datasets[rng.randrange(len(est.datasets))][1]
        queries.append(name[: rng.randrange(6, 14)])  # a prefix such as "sales3.mar"
    queries += [f"{LAYERS[i]}." for i in (1, 5)] + ["_dag.agg_1", "no_such_table"]
    return queries


def search_bench(engine: Engine, url: str, est: Estate, reps: int, log) -> dict:
    factory = make_session_factory(engine)
    http = Http(url)
    queries = search_queries(est)
    fn_samples, api_samples = _function_and_http(
        factory, queries, reps, lambda session, q: search(session, q, limit=10),
        lambda q: http.get("/api/v1/search", q=q, limit=10))
    http.close()
    return {"queries": len(queries), "search": _summary(fn_samples), "search_http": _summary(api_samples)}


def cache_memory(engine: Engine) -> dict:
    """What a process holds for fast lineage answers: each cache loaded afresh while
    tracemalloc counts (which slows the load, so its time here is an upper bound)."""
    factory = make_session_factory(engine)
    out = {}
    for name, cache in (("graph", GraphCache(max_edges=10**9)), ("nodes", NodeCache(max_nodes=10**9))):
        gc.collect()
        tracemalloc.start()
        started = time.perf_counter()
        with factory() as session:
            cache.refresh(session)
        seconds = time.perf_counter() - started
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        entries = cache.edge_count if isinstance(cache, GraphCache) else len(cache.datasets) + len(cache.jobs)
        out[name] = {"entries": entries, "held_mib": round(held / 2**20, 1),
                     "peak_mib": round(peak / 2**20, 1), "load_seconds_traced": round(seconds, 2)}
    return out
