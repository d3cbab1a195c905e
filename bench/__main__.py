"""`python -m bench`: run the ingest benchmarks and print the figures with their targets.

    python -m bench                       # all: ingest (single events), batch, memory
    python -m bench --only ingest         # one of ingest|batch|memory (repeatable)
    python -m bench --quick               # a smaller smoke run (a minute or two)
    python -m bench --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/dataslo_bench

The PostgreSQL database named in --postgres-url is dropped and recreated for every run;
SQLite files live in bench/.work/. Results are also written as JSON to bench/.work/.
Exit status 1 when a target is missed or a correctness check failed (stored rows differ
from what was sent, 5xx answers). The memory run stops at the first checkpoint past
--memory-budget seconds (default 900) and reports the rate and RSS curve so far.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime

from bench import harness, ingest
from bench.events import Traffic, check_uuid_format

TARGETS = {
    "ingest": "single events on PostgreSQL >= 0.5 x no-op rate",
    "batch": "batches of 500 on PostgreSQL >= 10,000 events/s",
    "memory": "server RSS after the run < 300 MB",
}
ALIASES = {"ingest": "ingest", "single": "ingest", "batch": "batch", "memory": "memory", "mem": "memory"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", action="append", choices=sorted(ALIASES), metavar="{ingest,batch,memory}",
                   help="run only this benchmark (repeatable); default: all three")
    p.add_argument("--quick", action="store_true", help="smaller counts: a smoke run, not a measurement")
    p.add_argument("--postgres-url", default=os.environ.get("DATASLO_BENCH_POSTGRES_URL",
                                                            harness.DEFAULT_POSTGRES_URL),
                   help="database to drop, recreate and use (default %(default)s)")
    p.add_argument("--stores", default="postgres,sqlite", help="stores for the single-event run")
    p.add_argument("--workers", type=int, default=1, help="uvicorn workers, same for no-op and dataslo")
    p.add_argument("--concurrency", type=int, default=32, help="clients for single events")
    p.add_argument("--seconds", type=float, help="measured seconds per single-event phase (default 20)")
    p.add_argument("--warmup", type=float, help="warm-up seconds before each measured phase (default 3)")
    p.add_argument("--max-events", type=int,
                   help="single events pre-encoded per store; a phase ends early once all are sent (default 40,000)")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--batch-concurrency", type=int, default=4, help="concurrent batch clients")
    p.add_argument("--batch-seconds", type=float, help="measured seconds of the batch run (default 30)")
    p.add_argument("--memory-events", type=int, help="events ingested in the memory run (default 1,000,000)")
    p.add_argument("--memory-budget", type=float, metavar="SECONDS",
                   help="stop the memory run at the first checkpoint past this time (default 900)")
    p.add_argument("--memory-store", choices=("postgres", "sqlite"), default="postgres")
    p.add_argument("--profile", action="store_true",
                   help="after measuring, sample the PostgreSQL servers with py-spy (extra events, "
                        "not counted in the rates); summaries in the output and bench/.work/")
    p.add_argument("--wait-quiet", type=float, default=60.0, metavar="SECONDS",
                   help="before each measured phase, wait up to this long for the machine to be idle "
                        "(other jobs' CPU is reported either way; default %(default)s)")
    p.add_argument("--service-env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for the dataslo servers (repeatable), "
                        "e.g. DATASLO_INGEST_WRITERS=1")
    p.add_argument("--no-floor", action="store_true",
                   help="skip the durable floor (bench/floor_app.py) measured next to the no-op")
    p.add_argument("--floor-validate", action="store_true",
                   help="the floor also validates each event as issue 2 requires (parse_event)")
    p.add_argument("--no-wrk", action="store_true",
                   help="skip the wrk cross-check of the no-op rate (done only when wrk is installed)")
    p.add_argument("--out", help="JSON results file (default bench/.work/results-<time>.json)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = [ALIASES[o] for o in args.only] if args.only else ["ingest", "batch", "memory"]
    opts = ingest.Options(postgres_url=args.postgres_url, workers=args.workers, concurrency=args.concurrency,
                          stores=tuple(s.strip() for s in args.stores.split(",") if s.strip()),
                          batch_size=args.batch_size, batch_concurrency=args.batch_concurrency,
                          memory_store=args.memory_store, profile=args.profile, wait_quiet=args.wait_quiet,
                          wrk=not args.no_wrk, **({"floor": False} if args.no_floor else {}),
                          floor_validate=args.floor_validate,
                          service_env=dict(kv.split("=", 1) for kv in args.service_env),
                          log=lambda msg: print(msg, flush=True))
    if args.quick:
        opts.warmup_seconds, opts.single_seconds, opts.single_max_events = 1.0, 5.0, 10_000
        opts.batch_seconds = 10.0
        opts.memory_events, opts.memory_budget_seconds = 50_000, 300.0
        opts.profile_seconds = 8.0
        opts.wait_quiet = min(opts.wait_quiet, 10.0)
    for arg, attr in (("seconds", "single_seconds"), ("warmup", "warmup_seconds"),
                      ("max_events", "single_max_events"), ("batch_seconds", "batch_seconds"),
                      ("memory_events", "memory_events"), ("memory_budget", "memory_budget_seconds")):
        if getattr(args, arg) is not None:
            setattr(opts, attr, getattr(args, arg))

    check_uuid_format()
    traffic = Traffic()
    results: dict = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "argv": sys.argv[1:] if argv is None else argv,
        "code": _code_state(),
        "traffic": {"jobs": traffic.estate.job_count, "datasets": len(traffic.estate.datasets),
                    "events_per_day": traffic.events_per_day},
    }
    print(f"code: {results['code']['commit']} + {len(results['code']['dirty'])} changed files in app/ "
          f"(app sha256 {results['code']['app_sha256']})")
    print(f"dataslo bench on {os.cpu_count()} CPUs; {traffic.estate.job_count} jobs, "
          f"{len(traffic.estate.datasets)} datasets, {traffic.events_per_day} events per simulated day", flush=True)
    failed = False
    for name in only:
        print(f"\n[{name}] {TARGETS[name]}", flush=True)
        t0 = time.perf_counter()
        try:
            results[name] = getattr(ingest, {"ingest": "single"}.get(name, name))(opts, traffic)
        except Exception as exc:  # noqa: BLE001 - report, keep the other benchmarks
            failed = True
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"  FAILED: {type(exc).__name__}: {exc}", flush=True)
        results[name]["wall_s"] = round(time.perf_counter() - t0, 1)

    print("\nsummary")
    failed |= _summary(results)
    harness.WORK.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or str(harness.WORK / f"results-{stamp}.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=2, default=str)
    print(f"\nresults: {out}")
    return 1 if failed else 0


def _code_state() -> dict:
    """Which code was measured: others edit app/ while benchmarks run, so record it."""
    import subprocess

    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=harness.ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"),
            "dirty": [line[3:] for line in git("status", "--porcelain", "app").splitlines()],
            "app_sha256": harness.app_digest()}


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _summary(results: dict) -> bool:
    failed = False
    single = results.get("ingest")
    if single and "stores" in single:
        print(f"  no-op baseline: {single['noop_rate_per_s']:,.0f} req/s "
              f"(before {single['noop'][0]['rate_per_s']:,.0f}, after {single['noop'][-1]['rate_per_s']:,.0f})")
        if single.get("floor"):
            f = single["floor"]
            print(f"  single floor    {f['rate_per_s']:>9,.0f} events/s  ratio {f['ratio_to_noop']:.3f}  "
                  f"({f.get('kind')}: the most such an implementation can reach here)")
        for store, e in single["stores"].items():
            ok = e["check"]["ok"] and (store != "postgres" or e["ratio_to_noop"] >= 0.5)
            failed |= not ok
            print(f"  single {store:8s} {e['rate_per_s']:>9,.0f} events/s  ratio {e['ratio_to_noop']:.3f}  "
                  f"p99 {e['latency_ms']['p99']} ms  correctness {'ok' if e['check']['ok'] else 'FAILED'}"
                  + (f"  {_verdict(ok)} (target >= 0.5)" if store == "postgres" else ""))
    b = results.get("batch")
    if b and "stores" in b:
        e = b["stores"]["postgres"]
        ok = e["check"]["ok"] and e["rate_per_s"] >= 10_000
        failed |= not ok
        if b.get("floor"):
            print(f"  batch    floor    {b['floor']['rate_per_s']:>9,.0f} events/s  ({b['floor'].get('kind')})")
        print(f"  batch    postgres {e['rate_per_s']:>9,.0f} events/s  (no-op {b['noop']['rate_per_s']:,.0f})  "
              f"correctness {'ok' if e['check']['ok'] else 'FAILED'}  {_verdict(ok)} (target >= 10,000)")
    m = results.get("memory")
    if m and "checkpoints" in m:
        complete = m["events"] >= m["events_target"]
        ok = m["check"]["ok"] and m["rss_final_mb"] < 300 and m["rss_peak_mb"] < 300
        failed |= not ok
        print(f"  memory   {m['store']:8s} {m['events']:,} events in {m['elapsed_s']} s ({m['rate_per_s']:,}/s): "
              f"RSS final {m['rss_final_mb']} MB, peak {m['rss_peak_mb']} MB  "
              f"correctness {'ok' if m['check']['ok'] else 'FAILED'}  "
              + (f"{_verdict(ok)} (target < 300 MB)" if complete else
                 f"INCOMPLETE ({m['events']:,} of {m['events_target']:,}: {m.get('stopped_early')})"))
    for name in ("ingest", "batch", "memory"):
        if name in results and "error" in results[name]:
            print(f"  {name}: error {results[name]['error']}")
    return failed


if __name__ == "__main__":
    sys.exit(main())
