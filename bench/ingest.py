"""The three ingest benchmarks of issue 2: single events, batches, memory.

Each returns a plain dict (printed and saved as JSON by `bench.__main__`). Every run checks
what the store holds afterwards against what was sent: one row in lineage_events per
event acknowledged, every run created, every ended run ended, and no 5xx.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from sqlalchemy.engine import make_url

from bench import harness
from bench.events import Traffic
from bench.loadgen import LoadResult, drive, request_bytes, run, run_wrk, wrk_path

MB = 1024 * 1024
HOST = "127.0.0.1"
SINGLE_PATH = "/api/v1/lineage"
BATCH_PATH = "/api/v1/lineage/batch"


@dataclass
class Options:
    postgres_url: str = harness.DEFAULT_POSTGRES_URL
    stores: tuple[str, ...] = ("postgres", "sqlite")
    workers: int = 1
    concurrency: int = 32
    warmup_seconds: float = 3.0
    single_seconds: float = 20.0
    single_max_events: int = 40_000  # pre-encoded; a run that sends them all ends early
    batch_size: int = 500
    batch_concurrency: int = 4
    batch_seconds: float = 30.0
    memory_events: int = 1_000_000
    memory_budget_seconds: float = 900.0
    memory_store: str = "postgres"
    profile: bool = False
    profile_seconds: float = 15.0
    service_env: dict[str, str] = field(default_factory=dict)
    wrk: bool = True  # cross-check the no-op rate with wrk when it is installed
    # The durable floor (bench/floor_app.py) after the no-op; DATASLO_BENCH_NO_FLOOR=1 skips it.
    floor: bool = field(default_factory=lambda: os.environ.get("DATASLO_BENCH_NO_FLOOR", "") in ("", "0"))
    floor_validate: bool = False  # the floor also validates each event (bench/floor_app.py)
    wait_quiet: float = 60.0
    quiet_cores: float = 0.25
    log: Callable[[str], None] = print


def _url_for(store: str, opts: Options, name: str) -> str:
    if store == "postgres":
        url = harness.reset_postgres(opts.postgres_url)
        PG_DATABASES.add(make_url(url).database)
        return url
    if store == "sqlite":
        return harness.reset_sqlite(name)
    raise SystemExit(f"unknown store {store!r} (postgres or sqlite)")


def _single_requests(traffic: Traffic, count: int, start: int = 0) -> list[tuple[bytes, int]]:
    return [(request_bytes(HOST, 0, SINGLE_PATH, body), 1) for body, _, _ in traffic.events(count, start)]


def _batch_requests(traffic: Traffic, size: int, start: int = 0,
                    count: int = 1 << 40) -> Iterator[tuple[bytes, int]]:
    for body, n in traffic.batches(count, size, start):
        yield request_bytes(HOST, 0, BATCH_PATH, body), n


class _Meter:
    """CPU of the server, of PostgreSQL and of the whole machine over one phase."""

    def __init__(self, server: harness.Server) -> None:
        self.server = server
        self.cpu0 = server.cpu()
        self.pg0 = _postgres_cpu()
        self.self0 = time.process_time()
        self.busy0, self.total0 = harness.machine_busy()

    def done(self, elapsed: float) -> dict:
        busy, _ = harness.machine_busy()
        server = self.server.cpu() - self.cpu0
        pg = postgres_cpu_since(self.pg0)
        client = time.process_time() - self.self0
        machine = busy - self.busy0
        return {
            "server_cpu_cores": round(server / elapsed, 2),
            "postgres_cpu_cores": round(pg / elapsed, 2),
            "machine_busy_cores": round(machine / elapsed, 2),
            # CPU used by anything else on the machine (other jobs): a noisy neighbour
            # makes every figure of this phase suspect, so it is reported with them.
            "foreign_cpu_cores": round(max(0.0, machine - server - pg - client) / elapsed, 2),
        }


PG_DATABASES: set[str] = set()  # benchmark databases whose backends count as "postgres CPU"
PG_AUXILIARY = ("walwriter", "checkpointer", "background writer", "wal writer")


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds per local postgres process serving the benchmark: the backends connected
    to a benchmark database and the shared WAL writer, checkpointer and background writer
    (not other clients' backends, which would count a neighbour's work as ours)."""
    out = {}
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() != "postgres":
                continue
            title = (comm.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            words = title.split()
            ours = any(db in words for db in PG_DATABASES) or any(a in title for a in PG_AUXILIARY)
            if ours:
                pid = int(comm.parent.name)
                out[pid] = harness.cpu_seconds([pid])
        except (OSError, ValueError):
            continue
    return out


def postgres_cpu_since(before: dict[int, float]) -> float:
    """CPU postgres used since `before` (processes that exited in between are not counted)."""
    now = _postgres_cpu()
    return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in now.items())


def wait_quiet(opts: Options, what: str) -> dict:
    """Wait (up to opts.wait_quiet seconds) until the machine is nearly idle, so that other
    jobs do not steal the CPU a phase measures. Returns what was seen."""
    deadline = time.monotonic() + opts.wait_quiet
    while True:
        b0, _ = harness.machine_busy()
        time.sleep(2.0)
        b1, _ = harness.machine_busy()
        busy = (b1 - b0) / 2.0
        if busy <= opts.quiet_cores:
            return {"busy_cores_before": round(busy, 2)}
        if time.monotonic() >= deadline:
            opts.log(f"  warning: machine still busy ({busy:.2f} cores) before {what}; measuring anyway")
            return {"busy_cores_before": round(busy, 2), "noisy": True}
        time.sleep(3.0)


def _phase(server: harness.Server, requests, concurrency: int, *, duration: float | None = None,
           on_response=None) -> tuple[LoadResult, dict]:
    meter = _Meter(server)
    result = run(drive(HOST, server.port, requests, concurrency, duration=duration, on_response=on_response))
    return result, meter.done(result.elapsed)


def _five_xx(*results: LoadResult) -> int:
    return sum(v for r in results for k, v in r.statuses.items() if not isinstance(k, int) or k >= 500)


def _check(sent: dict, got: dict, results: list[LoadResult], failed_in_body: int = 0) -> dict:
    problems = []
    if _five_xx(*results):
        problems.append(f"{_five_xx(*results)} responses were 5xx or connection errors")
    for key in ("events", "runs", "ended_runs"):
        if got.get(key) != sent.get(key):
            problems.append(f"{key}: stored {got.get(key)}, expected {sent.get(key)}")
    other: dict = {}
    for r in results:
        for k, v in r.statuses.items():
            if k not in (200, 201):
                other[k] = other.get(k, 0) + v
    if other:
        samples = [b for r in results for b in r.sample_bodies.values()][:1]
        problems.append(f"non-2xx statuses: {other}; sample: {samples}")
    if failed_in_body:
        problems.append(f"{failed_in_body} events reported failed in batch responses")
    return {"ok": not problems, "problems": problems, "stored": got, "expected": sent}


def _start_service(name: str, opts: Options, url: str) -> harness.Server:
    harness.migrate(url)
    server = harness.start_server(name, "app.main:create_app", workers=opts.workers,
                                  env=harness.service_env(url, **opts.service_env))
    server.code = harness.app_digest()
    return server


def _floor_url(opts: Options) -> str:
    """A fresh database `<bench db>_floor` for the floor app: it must not share the service's."""
    parsed = make_url(opts.postgres_url)
    url = harness.reset_postgres(parsed.set(database=f"{parsed.database}_floor").render_as_string(hide_password=False))
    PG_DATABASES.add(make_url(url).database)
    return url


def _floor_rows(url: str) -> int:
    import psycopg

    with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        return int(conn.execute("SELECT count(*) FROM floor_events").fetchone()[0])


def _floor_kind(opts: Options) -> str:
    return ("validated, " if opts.floor_validate else "") + "durable, group commit, postgres"


def _floor(name: str, opts: Options, requests: Iterator[tuple[bytes, int]], concurrency: int,
           duration: float, answers: _BatchAnswers | None = None) -> tuple[LoadResult, dict]:
    """The durable floor (bench/floor_app.py) on a fresh PostgreSQL database, served like the
    no-op and the service: warm-up, then a measured phase over the same requests. Checks that
    it stored one row per event sent and answered no 5xx."""
    from bench.floor_app import URL_ENV, VALIDATE_ENV

    url = _floor_url(opts)
    server = harness.start_server(name, "bench.floor_app:create_app", workers=opts.workers,
                                  env={URL_ENV: url, VALIDATE_ENV: "1" if opts.floor_validate else "0"})
    try:
        warm = run(drive(HOST, server.port, requests, concurrency, duration=opts.warmup_seconds,
                         on_response=answers))
        quiet = wait_quiet(opts, "the floor")
        result, cpu = _phase(server, requests, concurrency, duration=duration, on_response=answers)
        sent = warm.taken_units + result.taken_units
        rss = server.rss()
    finally:
        server.stop()
    check = _check({"events": sent}, {"events": _floor_rows(url)}, [warm, result],
                   answers.failed if answers else 0)
    return result, {**result.summary(), **cpu, **quiet, "kind": _floor_kind(opts), "events_sent_in_total": sent,
                    "server_rss_mb": round(rss / MB, 1), "check": check}


class _BatchAnswers:
    """Counts events a 200 batch response reports as failed (they must be none)."""

    def __init__(self) -> None:
        self.failed = 0

    def __call__(self, status: int, body: bytes, units: int) -> None:
        if status == 200:
            self.failed += orjson.loads(body)["summary"]["failed"]


# -- 1. single events over HTTP ---------------------------------------------------------------
def single(opts: Options, traffic: Traffic) -> dict:
    """No-op baseline before and after, then dataslo on each store, 32 clients, same server setup."""
    log = opts.log
    requests = _single_requests(traffic, opts.single_max_events)
    out: dict = {"concurrency": opts.concurrency, "workers": opts.workers, "seconds": opts.single_seconds,
                 "warmup_seconds": opts.warmup_seconds,
                 "avg_request_bytes": round(sum(len(r) for r, _ in requests) / len(requests)),
                 "noop": [], "stores": {}}

    def run_noop(tag: str) -> None:
        server = harness.start_server(f"noop-{tag}", "bench.noop_app:create_app", workers=opts.workers)
        try:
            # The no-op stores nothing, so it may see the same events again: cycle them.
            run(drive(HOST, server.port, itertools.cycle(requests), opts.concurrency,
                      duration=opts.warmup_seconds))
            quiet = wait_quiet(opts, f"no-op ({tag})")
            result, cpu = _phase(server, itertools.cycle(requests), opts.concurrency, duration=opts.single_seconds)
            wrk = None
            if opts.wrk and wrk_path() and tag == "before":
                # Cross-check of the Python client: wrk (C) posting one fixed event body.
                body = requests[len(requests) // 2][0].split(b"\r\n\r\n", 1)[1]
                wrk = run_wrk(f"http://{HOST}:{server.port}{SINGLE_PATH}", body, opts.concurrency,
                              max(5, round(opts.single_seconds / 2)))
        finally:
            server.stop()
        entry = {"when": tag, **result.summary(), **cpu, **quiet}
        out["noop"].append(entry)
        log(f"  no-op ({tag}): {result.rate:,.0f} req/s  p50 {entry['latency_ms']['p50']} ms  "
            f"client CPU {result.client_cpu_share:.0%}  server CPU {cpu['server_cpu_cores']}  "
            f"other jobs' CPU {cpu['foreign_cpu_cores']}")
        if wrk:
            entry["wrk_cross_check"] = wrk
            log(f"  no-op ({tag}) with wrk instead of the Python client: {wrk['rate_per_s']} req/s, "
                f"non-2xx {wrk['non_2xx']}")

    run_noop("before")
    out["floor"] = None
    if opts.floor:
        # Same events in the same order as the stores get; past the pre-encoded ones (a fast
        # floor may use them all), more are encoded on the fly rather than repeated.
        more = ((request_bytes(HOST, 0, SINGLE_PATH, body), 1)
                for body, _, _ in traffic.events(1 << 40, len(requests)))
        result, entry = _floor("floor-single", opts, itertools.chain(requests, more), opts.concurrency,
                               opts.single_seconds)
        before = out["noop"][0]["rate_per_s"]
        entry["ratio_to_noop_before"] = round(result.rate / before, 3) if before else None
        out["floor"] = entry
        if entry["events_sent_in_total"] > len(requests):
            log(f"  note: the floor used all {len(requests):,} pre-encoded events; the rest were encoded while sending")
        log(f"  floor ({_floor_kind(opts)}): {result.rate:,.0f} events/s  "
            f"ratio to no-op (before) {entry['ratio_to_noop_before']}  p50 {entry['latency_ms']['p50']} ms  "
            f"p99 {entry['latency_ms']['p99']} ms  client CPU {result.client_cpu_share:.0%}  "
            f"server CPU {entry['server_cpu_cores']}  postgres CPU {entry['postgres_cpu_cores']}  "
            f"other jobs' CPU {entry['foreign_cpu_cores']}  "
            f"check {'ok' if entry['check']['ok'] else entry['check']['problems']}")
    for store in opts.stores:
        url = _url_for(store, opts, "single")
        server = _start_service(f"single-{store}", opts, url)
        profile = None
        try:
            it = iter(requests)  # every event once, in order: the store must hold exactly those sent
            warm = run(drive(HOST, server.port, it, opts.concurrency, duration=opts.warmup_seconds))
            quiet = wait_quiet(opts, store)
            result, cpu = _phase(server, it, opts.concurrency, duration=opts.single_seconds)
            sent = warm.taken + result.taken
            results = [warm, result]
            if sent >= len(requests):
                log(f"  note: all {len(requests):,} pre-encoded events were sent before the time was up")
            if opts.profile and store == "postgres":
                extra = _single_requests(traffic, opts.single_max_events, sent)
                profile, extra_result = _profile(server, f"single-{store}", iter(extra), opts.concurrency,
                                                 opts.profile_seconds)
                sent += extra_result.taken
                results.append(extra_result)
            rss = server.rss()
        finally:
            server.stop()
        check = _check(traffic.expected(sent), harness.store_counts(url), results)
        entry = {**result.summary(), **cpu, **quiet, "events_sent_in_total": sent,
                 "server_rss_mb": round(rss / MB, 1), "check": check, "app_sha256": server.code}
        if profile:
            entry["profile"] = profile
        out["stores"][store] = entry
        log(f"  {store}: {result.rate:,.0f} events/s  p50 {entry['latency_ms']['p50']} ms  "
            f"p99 {entry['latency_ms']['p99']} ms  server CPU {cpu['server_cpu_cores']}  "
            f"postgres CPU {cpu['postgres_cpu_cores']}  other jobs' CPU {cpu['foreign_cpu_cores']}  "
            f"check {'ok' if check['ok'] else check['problems']}")
    run_noop("after")
    baseline = sum(n["rate_per_s"] for n in out["noop"]) / len(out["noop"])
    out["noop_rate_per_s"] = round(baseline, 1)
    if out["floor"]:
        out["floor"]["ratio_to_noop"] = round(out["floor"]["rate_per_s"] / baseline, 3) if baseline else None
        log(f"  floor: ratio to no-op {out['floor']['ratio_to_noop']} (the ceiling on this machine for any "
            f"implementation doing at least this: {out['floor']['kind']}; target 0.5)")
    for store, entry in out["stores"].items():
        entry["ratio_to_noop"] = round(entry["rate_per_s"] / baseline, 3) if baseline else None
        log(f"  {store}: ratio to no-op {entry['ratio_to_noop']}")
    return out


# -- 2. batches ------------------------------------------------------------------------------
def batch(opts: Options, traffic: Traffic) -> dict:
    """Batches of `batch_size` to /api/v1/lineage/batch on PostgreSQL (and the no-op)."""
    log = opts.log
    out: dict = {"batch_size": opts.batch_size, "concurrency": opts.batch_concurrency,
                 "workers": opts.workers, "seconds": opts.batch_seconds, "stores": {}}
    server = harness.start_server("noop-batch", "bench.noop_app:create_app", workers=opts.workers)
    try:
        quiet = wait_quiet(opts, "no-op batches")
        result, cpu = _phase(server, _batch_requests(traffic, opts.batch_size), opts.batch_concurrency,
                             duration=opts.batch_seconds)
    finally:
        server.stop()
    out["noop"] = {**result.summary(), **cpu, **quiet}
    log(f"  no-op: {result.rate:,.0f} events/s  client CPU {result.client_cpu_share:.0%}  "
        f"server CPU {cpu['server_cpu_cores']}  other jobs' CPU {cpu['foreign_cpu_cores']}")

    out["floor"] = None
    if opts.floor:
        answers = _BatchAnswers()
        result, entry = _floor("floor-batch", opts, _batch_requests(traffic, opts.batch_size),
                               opts.batch_concurrency, opts.batch_seconds, answers)
        noop = out["noop"]["rate_per_s"]
        entry["ratio_to_noop"] = round(result.rate / noop, 3) if noop else None
        out["floor"] = entry
        log(f"  floor ({_floor_kind(opts)}): {result.rate:,.0f} events/s "
            f"({result.rate / opts.batch_size:.1f} batches/s)  ratio to no-op {entry['ratio_to_noop']}  "
            f"p50 {entry['latency_ms']['p50']} ms  p99 {entry['latency_ms']['p99']} ms per batch  "
            f"server CPU {entry['server_cpu_cores']}  postgres CPU {entry['postgres_cpu_cores']}  "
            f"other jobs' CPU {entry['foreign_cpu_cores']}  "
            f"check {'ok' if entry['check']['ok'] else entry['check']['problems']}")

    store = "postgres"
    url = _url_for(store, opts, "batch")
    server = _start_service(f"batch-{store}", opts, url)
    answers = _BatchAnswers()
    profile = None
    try:
        it = _batch_requests(traffic, opts.batch_size)
        warm = run(drive(HOST, server.port, it, opts.batch_concurrency, duration=opts.warmup_seconds,
                         on_response=answers))
        quiet = wait_quiet(opts, "batches")
        result, cpu = _phase(server, it, opts.batch_concurrency, duration=opts.batch_seconds,
                             on_response=answers)
        sent = warm.taken_units + result.taken_units
        results = [warm, result]
        if opts.profile:
            profile, extra_result = _profile(server, f"batch-{store}", _batch_requests(traffic, opts.batch_size, sent),
                                             opts.batch_concurrency, opts.profile_seconds, answers)
            sent += extra_result.taken_units
            results.append(extra_result)
        rss = server.rss()
    finally:
        server.stop()
    check = _check(traffic.expected(sent), harness.store_counts(url), results, answers.failed)
    entry = {**result.summary(), **cpu, **quiet, "events_sent_in_total": sent, "server_rss_mb": round(rss / MB, 1),
             "check": check, "app_sha256": server.code,
             "ratio_to_noop": round(result.rate / out["noop"]["rate_per_s"], 3) if out["noop"]["rate_per_s"] else None}
    if profile:
        entry["profile"] = profile
    out["stores"][store] = entry
    log(f"  {store}: {result.rate:,.0f} events/s ({result.rate / opts.batch_size:.1f} batches/s)  "
        f"p50 {entry['latency_ms']['p50']} ms per batch  server CPU {cpu['server_cpu_cores']}  "
        f"postgres CPU {cpu['postgres_cpu_cores']}  other jobs' CPU {cpu['foreign_cpu_cores']}  "
        f"check {'ok' if check['ok'] else check['problems']}")
    return out


# -- 3. memory --------------------------------------------------------------------------------
CHECKPOINTS = (10_000, 25_000, 50_000, 100_000, 150_000, 250_000, 375_000, 500_000, 750_000,
               1_000_000, 1_500_000, 2_000_000, 3_000_000, 5_000_000)


def memory(opts: Options, traffic: Traffic) -> dict:
    """RSS of the server while `memory_events` go through the batch endpoint, at checkpoints;
    stops early (and says so) once `memory_budget_seconds` have passed."""
    log = opts.log
    store = opts.memory_store
    url = _url_for(store, opts, "memory")
    server = _start_service(f"memory-{store}", opts, url)
    checkpoints = sorted({c for c in CHECKPOINTS if c < opts.memory_events} | {opts.memory_events})
    out: dict = {"store": store, "app_sha256": server.code,
                 "events_target": opts.memory_events, "batch_size": opts.batch_size,
                 "concurrency": opts.batch_concurrency, "workers": opts.workers,
                 "budget_s": opts.memory_budget_seconds, "checkpoints": []}
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sampler() -> None:
        t0 = time.perf_counter()
        while not stop.is_set():
            try:
                samples.append((time.perf_counter() - t0, server.rss()))
            except OSError:
                return
            stop.wait(1.0)

    answers = _BatchAnswers()
    results: list[LoadResult] = []
    sent = 0
    try:
        out.update(wait_quiet(opts, "the memory run"))
        out["rss_idle_mb"] = round(server.rss() / MB, 1)
        meter = _Meter(server)
        threading.Thread(target=sampler, daemon=True).start()
        started = time.perf_counter()
        for checkpoint in checkpoints:
            t0 = time.perf_counter()
            result = run(drive(HOST, server.port, _batch_requests(traffic, opts.batch_size, sent, checkpoint - sent),
                               opts.batch_concurrency, record_latency=False, on_response=answers))
            results.append(result)
            phase_rate = result.taken_units / (time.perf_counter() - t0)
            sent += result.taken_units
            elapsed = time.perf_counter() - started
            rss = server.rss()
            out["checkpoints"].append({"events": sent, "elapsed_s": round(elapsed, 1),
                                       "phase_rate_per_s": round(phase_rate), "rss_mb": round(rss / MB, 1)})
            log(f"  {sent:>9,} events  {elapsed:7.1f} s  {phase_rate:8,.0f} events/s  RSS {rss / MB:6.1f} MB")
            if elapsed > opts.memory_budget_seconds and sent < opts.memory_events:
                rate = sent / elapsed
                out["stopped_early"] = (f"time budget of {opts.memory_budget_seconds:.0f} s used up at {sent:,} "
                                        f"events; {opts.memory_events:,} would take about "
                                        f"{opts.memory_events / rate / 60:.0f} min at {rate:,.0f} events/s")
                log(f"  stopped: {out['stopped_early']} (raise --memory-budget to go on)")
                break
        out["events"] = sent
        out["elapsed_s"] = round(time.perf_counter() - started, 1)
        out["rate_per_s"] = round(sent / out["elapsed_s"])
        out.update(meter.done(out["elapsed_s"]))
    finally:
        stop.set()
        server.stop()
    out["rss_final_mb"] = out["checkpoints"][-1]["rss_mb"] if out["checkpoints"] else None
    out["rss_peak_mb"] = round(max((r for _, r in samples), default=0) / MB, 1)
    out["rss_curve_mb"] = [(round(t), round(r / MB, 1)) for t, r in samples[:: max(1, len(samples) // 60)]]
    out["check"] = _check(traffic.expected(sent), harness.store_counts(url), results, answers.failed)
    out["database_mb"] = round((harness.database_size(url) or 0) / MB)
    log(f"  peak RSS {out['rss_peak_mb']} MB, final {out['rss_final_mb']} MB, {sent:,} events in "
        f"{out['elapsed_s']} s, database {out['database_mb']} MB, "
        f"check {'ok' if out['check']['ok'] else out['check']['problems']}")
    return out


# -- profiling --------------------------------------------------------------------------------
def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def _profile(server: harness.Server, name: str, requests, concurrency: int, seconds: float,
             on_response=None) -> tuple[dict, LoadResult]:
    """Sample the server with py-spy (all threads, idle included) while more load runs.
    Writes collapsed stacks to bench/.work/profile-<name>.txt and summarises them."""
    exe = py_spy()
    path = harness.WORK / f"profile-{name}.txt"
    proc = None
    if exe is not None:
        proc = subprocess.Popen([exe, "record", "--pid", str(server.worker_pids()[0]), "--format", "raw",
                                 "--rate", "100", "--nonblocking", "--threads", "--idle", "--output", str(path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)
    result = run(drive(HOST, server.port, requests, concurrency, duration=seconds, on_response=on_response))
    if proc is None:
        return {"error": "py-spy not installed (.venv/bin/pip install py-spy)"}, result
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    from bench.profile import summarise

    return {"file": str(path), "rate_per_s_while_profiling": round(result.rate, 1),
            "elapsed_s": round(result.elapsed, 1), **summarise(path)}, result
