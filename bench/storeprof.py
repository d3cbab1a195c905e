"""Where the writer's time goes, without HTTP: `python -m bench.storeprof`.

Stores the benchmark traffic through `EventStore.store` (what the group-commit writer
calls) in groups of `--group` events (32 ~ one group commit under 32 clients; 500 ~ one
batch request) and reports the rate, Python CPU per event, SQL statements and their time
per group, and, with `--cprofile`, the app/ functions by cumulative time. For an unbiased
sampling profile run it under py-spy:

    .venv/bin/py-spy record --format raw -o bench/.work/store.txt -- .venv/bin/python -m bench.storeprof
    .venv/bin/python -m bench.profile bench/.work/store.txt
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from collections import Counter, defaultdict

import orjson
from sqlalchemy import event

from bench import harness
from bench.events import Traffic


def _statement_key(statement: str) -> str:
    statement = " ".join(statement.split())
    words = statement.split()
    if not words:
        return "?"
    verb = words[0].upper()
    table = ""
    if verb == "INSERT" and len(words) > 2:
        table = words[2]
    elif verb == "UPDATE" and len(words) > 1:
        cols = statement.split(" SET ", 1)[1].split(" WHERE ", 1)[0] if " SET " in statement else ""
        table = f"{words[1]} SET {','.join(c.split('=')[0].strip() for c in cols.split(', '))[:60]}"
    elif verb in ("SELECT", "DELETE") and " FROM " in statement:
        table = statement.split(" FROM ", 1)[1].split()[0]
    return f"{verb} {table}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.storeprof", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--group", type=int, default=32, help="events per transaction (default %(default)s)")
    p.add_argument("--events", type=int, default=3000, help="events measured (default %(default)s)")
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--store", choices=("postgres", "sqlite"), default="postgres")
    p.add_argument("--postgres-url", default=harness.DEFAULT_POSTGRES_URL)
    p.add_argument("--cprofile", action="store_true", help="also print app/ functions by cumulative time")
    args = p.parse_args(argv)

    from app.ingest.schema import parse_event
    from app.ingest.writer import EventStore
    from app.store.db import make_engine, make_session_factory
    from bench.ingest import PG_DATABASES

    url = harness.reset_postgres(args.postgres_url) if args.store == "postgres" else harness.reset_sqlite("storeprof")
    if args.store == "postgres":
        from sqlalchemy.engine import make_url

        PG_DATABASES.add(make_url(url).database)
    harness.migrate(url)
    engine = make_engine(url)
    store = EventStore(make_session_factory(engine))
    traffic = Traffic()
    raws = [orjson.loads(b) for b, _, _ in traffic.events(args.warmup + args.events)]
    t0 = time.perf_counter()
    parsed = [parse_event(r) for r in raws]
    parse_us = (time.perf_counter() - t0) / len(raws) * 1e6
    g = args.group
    for i in range(0, args.warmup, g):
        store.store(parsed[i : min(i + g, args.warmup)])

    seconds: dict[str, float] = defaultdict(float)
    counts: Counter[str] = Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, params, context, executemany):
        conn.info["bench_t0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, params, context, executemany):
        key = _statement_key(statement)
        seconds[key] += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
        counts[key] += 1

    profiler = cProfile.Profile() if args.cprofile else None
    groups = 0
    from bench.ingest import _postgres_cpu, postgres_cpu_since

    busy0, pg0 = harness.machine_busy()[0], _postgres_cpu()
    t0, cpu0 = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    for i in range(args.warmup, args.warmup + args.events, g):
        store.store(parsed[i : min(i + g, args.warmup + args.events)])
        groups += 1
    if profiler:
        profiler.disable()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    busy = (harness.machine_busy()[0] - busy0) / elapsed
    pg = postgres_cpu_since(pg0) / elapsed
    print(f"{args.store}, {g} events per transaction: {args.events / elapsed:,.0f} events/s, "
          f"{elapsed / groups * 1e3:.1f} ms per transaction; Python CPU {cpu / args.events * 1e6:.0f} us/event "
          f"({cpu / elapsed:.2f} cores); PostgreSQL {pg:.2f} cores; machine busy {busy:.2f} cores; "
          f"(parse_event {parse_us:.0f} us/event, not included)"
          + ("  (cProfile on: times inflated)" if profiler else ""))
    total_sql = sum(seconds.values())
    print(f"{sum(counts.values()) / groups:.1f} statements per transaction, "
          f"{total_sql / groups * 1e3:.1f} ms in execute ({total_sql / elapsed:.0%} of wall time)")
    for key, secs in sorted(seconds.items(), key=lambda kv: -kv[1])[:25]:
        print(f"  {secs / groups * 1e3:8.2f} ms {counts[key] / groups:7.2f}x  {key}")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(r"/app/", 40)
        print(out.getvalue())
    engine.dispose()


if __name__ == "__main__":
    main()
