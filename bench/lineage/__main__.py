"""`python -m bench.lineage`: lineage query benchmarks on synthetic estates (issue 3).

    python -m bench.lineage                      # 10k and 100k datasets on PostgreSQL
    python -m bench.lineage --sizes 10000        # one size
    python -m bench.lineage --reuse              # keep an estate loaded by an earlier run
    python -m bench.lineage --load-only          # load (or check) the estates, measure nothing
    python -m bench.lineage --store sqlite       # the embedded store instead

Each size gets its own database (dataslo_bench_lineage_<size>k on the server named by
--postgres-url, or bench/.work/lineage_<size>k.db), dropped, migrated and loaded through
the ingestion path unless --reuse finds it already loaded. Figures are printed with the
targets and written as JSON to bench/.work/lineage-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.store.db import make_engine
from bench import harness
from bench.lineage import estate, load, measure

TARGETS = {"impact_p50_ms": 50, "impact_ratio": 3.0, "lineage_p50_ms": 100, "search_p50_ms": 20}


def _database(args: argparse.Namespace, size: int) -> tuple[str, bool]:
    """URL of the size's database, and whether it still holds a loaded estate to reuse."""
    tag = f"lineage_{size // 1000}k"
    if args.store == "sqlite":
        path = harness.WORK / f"{tag}.db"
        if args.reuse and path.exists():
            return f"sqlite:///{path}", True
        return harness.reset_sqlite(tag), False
    url = make_url(args.postgres_url).set(database=f"dataslo_bench_{tag}")
    url_text = url.render_as_string(hide_password=False)
    if args.reuse and _loaded(url_text):
        return url_text, True
    return harness.reset_postgres(url_text), False


def _loaded(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(text("SELECT count(*) FROM jobs")).scalar_one())
    except DBAPIError:  # no such database (or schema) yet: load it
        return False
    finally:
        engine.dispose()


def run_size(args: argparse.Namespace, size: int, log) -> dict:
    log(f"\n[{size:,} datasets on {args.store}]")
    t0 = time.perf_counter()
    est = estate.build(size)
    log(f"  estate: {len(est.datasets):,} datasets, {len(est.jobs):,} jobs, {est.edge_count:,} edges "
        f"({time.perf_counter() - t0:.1f} s to generate)")
    url, reused = _database(args, size)
    engine = make_engine(url)
    result: dict = {"datasets": len(est.datasets), "jobs": len(est.jobs), "edges": est.edge_count}
    try:
        if reused:
            log("  reusing the estate already loaded")
            result["load"] = {"reused": True}
        else:
            harness.migrate(url)
            log("  loading through the ingestion path (EventStore.store, batches of 500)")
            result["load"] = load.ingest(engine, est, log)
            log(f"  loaded in {result['load']['seconds']} s: {result['load']}")
        if args.load_only:
            return result
        log("  hub impact (downstream, unbounded depth)")
        result["impact"] = measure.hub_impact(engine, url, est, args.reps, log)
        log("  lineage at depth 20 around typical nodes")
        result["lineage"] = measure.lineage_depth20(engine, url, est, args.reps, log)
        log("  search")
        result["search"] = measure.search_bench(engine, url, est, args.reps, log)
        log("  memory of the lineage caches")
        result["cache_memory"] = measure.cache_memory(engine)
    finally:
        engine.dispose()
    _print(size, result, log)
    return result


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _print(size: int, r: dict, log) -> None:
    i, g, s = r["impact"], r["lineage"], r["search"]
    reach = sorted(x["datasets"] + x["jobs"] for x in i["reach"])
    log(f"  results at {size:,} datasets:")
    log(f"    hub impact: {i['hubs']} hubs reaching {reach[0]:,}-{reach[-1]:,} nodes")
    log(f"      in-memory BFS p50 {i['in_memory_bfs']['p50_ms']} ms; walk p50 {i['walk']['p50_ms']} ms "
        f"(x{i['ratio_walk_to_bfs']}; without the graph cache {i['walk_without_cache']['p50_ms']} ms)")
    log(f"      impact, the user's call (HTTP, default parameters: totals, owners, first page): "
        f"p50 {i['impact_http']['p50_ms']} ms (x{i['ratio_impact_http_to_bfs']}); "
        f"domain function p50 {i['impact']['p50_ms']} ms (x{i['ratio_impact_to_bfs']}); "
        f"every node in one page (limit=100000) p50 {i['impact_http_all']['p50_ms']} ms")
    log(f"    lineage depth 20: {g['nodes']} nodes, median graph {g['graph_nodes_median']} nodes; "
        f"p50 {g['lineage']['p50_ms']} ms, HTTP p50 {g['lineage_http']['p50_ms']} ms")
    log(f"    search: {s['queries']} queries; p50 {s['search']['p50_ms']} ms, "
        f"HTTP p50 {s['search_http']['p50_ms']} ms")
    for name, m in r["cache_memory"].items():
        log(f"    {name} cache: {m['entries']:,} entries, {m['held_mib']} MiB held "
            f"({m['peak_mib']} MiB peak while loading)")


def verdicts(results: dict, log) -> bool:
    """Targets apply to the 100k estate (the issue's); smaller sizes are for scaling."""
    big = results["sizes"].get("100000")
    if big is None:
        log("\n(no 100k run: targets not judged)")
        return True
    i, g, s = big["impact"], big["lineage"], big["search"]
    checks = [
        ("hub impact traversal p50 <= 50 ms", i["walk"]["p50_ms"] <= TARGETS["impact_p50_ms"]),
        ("hub impact traversal <= 3x in-memory BFS", i["ratio_walk_to_bfs"] <= TARGETS["impact_ratio"]),
        ("impact answer, default HTTP call, p50 <= 50 ms",
         i["impact_http"]["p50_ms"] <= TARGETS["impact_p50_ms"]),
        ("impact answer, default HTTP call, <= 3x in-memory BFS",
         i["ratio_impact_http_to_bfs"] <= TARGETS["impact_ratio"]),
        ("lineage depth 20 p50 <= 100 ms", g["lineage"]["p50_ms"] <= TARGETS["lineage_p50_ms"]),
        ("search p50 <= 20 ms", s["search"]["p50_ms"] <= TARGETS["search_p50_ms"]),
    ]
    log("\ntargets (100k datasets):")
    for name, ok in checks:
        log(f"  {_verdict(ok)}  {name}")
    return all(ok for _, ok in checks)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.lineage", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000", help="dataset counts, comma-separated")
    p.add_argument("--store", choices=("postgres", "sqlite"), default="postgres")
    p.add_argument("--postgres-url", default=os.environ.get("DATASLO_BENCH_POSTGRES_URL",
                                                            harness.DEFAULT_POSTGRES_URL))
    p.add_argument("--reps", type=int, default=7, help="timed repetitions of each query")
    p.add_argument("--reuse", action="store_true", help="reuse an estate loaded by an earlier run")
    p.add_argument("--load-only", action="store_true", help="load the estates, measure nothing")
    p.add_argument("--out", help="JSON results file (default bench/.work/lineage-<time>.json)")
    args = p.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, flush=True)

    results: dict = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_avg": os.getloadavg()},
        "store": args.store,
        "sizes": {},
    }
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        results["sizes"][str(size)] = run_size(args, size, log)
    if args.load_only:
        return 0
    ok = verdicts(results, log)
    harness.WORK.mkdir(parents=True, exist_ok=True)
    out = args.out or str(harness.WORK / f"lineage-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
    log(f"\nresults: {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
